"""Forward kinematics shared by the BVH, ASF/AMC and DeepMimic loaders (NumPy).

Euler rotations: `euler_matrix(angles, order)` with `order` a string of axes such as "ZYX"
is the product R = R_{order[0]}(a_0) R_{order[1]}(a_1) R_{order[2]}(a_2), i.e. the rotation
that applies the *last* listed axis first in the parent frame. This is the BVH convention for
a channel list ("Zrotation Yrotation Xrotation" -> Rz Ry Rx), and the Acclaim (ASF/AMC)
convention written as axis order "XYZ" is R = Rz Ry Rx, i.e. order "ZYX" here.

A joint's global rotation is G_j = G_parent(j) L_j and its position
p_j = p_parent(j) + G_parent(j) o_j for a fixed offset o_j (BVH), or
p_j = p_parent(j) + G_j d_j for a bone vector d_j that moves with the bone (ASF).
"""

import numpy as np


def axis_rotation(axis, angle):
  """Rotation matrices `[..., 3, 3]` about "X", "Y" or "Z" by `angle` `[...]` radians."""
  angle = np.asarray(angle, np.float64)
  c, s = np.cos(angle), np.sin(angle)
  zero, one = np.zeros_like(c), np.ones_like(c)
  if axis == "X":
    rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
  elif axis == "Y":
    rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
  elif axis == "Z":
    rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
  else:
    raise ValueError(f"unknown rotation axis {axis!r}")
  return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_matrix(angles, order):
  """R = R_{order[0]} R_{order[1]} ... for angles `[..., len(order)]` in radians."""
  angles = np.asarray(angles, np.float64)
  result = None
  for i, axis in enumerate(order):
    r = axis_rotation(axis, angles[..., i])
    result = r if result is None else result @ r
  if result is None:
    return np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
  return result


def quaternion_matrix(q):
  """Unit quaternions `[..., 4]` in (w, x, y, z) order -> rotations `[..., 3, 3]`."""
  q = np.asarray(q, np.float64)
  q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
  w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
  return np.stack([
      np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
      np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
      np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
  ], -2)


def forward_offsets(parents, offsets, local_rotations, root_positions):
  """FK with fixed offsets in the parent frame (BVH, URDF).

  Args:
    parents: list of parent indices (-1 for the root), parents before children.
    offsets: `[J, 3]` offsets from the parent joint, in the parent's frame.
    local_rotations: `[T, J, 3, 3]`.
    root_positions: `[T, 3]`.

  Returns:
    (positions `[T, J, 3]`, global rotations `[T, J, 3, 3]`).
  """
  frames, joints = local_rotations.shape[:2]
  positions = np.zeros((frames, joints, 3))
  rotations = np.zeros((frames, joints, 3, 3))
  for j, p in enumerate(parents):
    if p < 0:
      rotations[:, j] = local_rotations[:, j]
      positions[:, j] = root_positions + offsets[j]
    else:
      rotations[:, j] = rotations[:, p] @ local_rotations[:, j]
      positions[:, j] = positions[:, p] + np.einsum("tij,j->ti", rotations[:, p], offsets[j])
  return positions, rotations
