"""The pose task's one joint layout (Human3.6M's 17 joints) and every source's mapping to it.

Layout `H36M17` (VideoPose3D's order; "left"/"right" are the person's):

  index  name        parent     index  name        parent
  0      pelvis      -          9      nose        neck 8 (Human3.6M "Neck/Nose")
  1      r_hip       pelvis     10     head        nose (head top)
  2      r_knee      r_hip      11     l_shoulder  thorax
  3      r_ankle     r_knee     12     l_elbow     l_shoulder
  4      l_hip       pelvis     13     l_wrist     l_elbow
  5      l_knee      l_hip      14     r_shoulder  thorax
  6      l_ankle     l_knee     15     r_elbow     r_shoulder
  7      spine       pelvis     16     r_wrist     r_elbow
  8      thorax      spine

Every supported source is mapped to it by one table, `MAPPINGS[source]`: for each layout joint
a dict {source joint name: weight}; the layout joint is the weighted sum of the source
joints, so midpoints and extrapolations (a head top from the ears) are written as numbers.
Approximations are marked in the tables. The same table maps 2D keypoints and 3D positions.

World frame of 3D poses after loading: metres, y up. Canonical body frame (what the
discriminator sees when the generator predicts a canonical pose): root (pelvis) at the origin,
y up, rotated about y so that the person faces +z (hence +x is the person's left).
"""

import numpy as np

from aign_tf import errors

JOINTS = ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
          "thorax", "nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
          "r_elbow", "r_wrist")
NUM_JOINTS = len(JOINTS)
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
ROOT = 0
# Bones as (parent, child) pairs, one per non-root joint.
BONES = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)
# Left/right joint pairs and the corresponding bone pairs (by bone index in BONES).
LEFT_RIGHT_JOINTS = ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16))
_BONE_INDEX = {child: i for i, (_, child) in enumerate(BONES)}
SYMMETRIC_BONES = tuple((_BONE_INDEX[l], _BONE_INDEX[r]) for l, r in LEFT_RIGHT_JOINTS)
# Index permutation that swaps left and right (for flips).
FLIP = tuple(
    {**{l: r for l, r in LEFT_RIGHT_JOINTS}, **{r: l for l, r in LEFT_RIGHT_JOINTS}}.get(i, i)
    for i in range(NUM_JOINTS))

# A reference skeleton (bone lengths in metres, close to Human3.6M's subject average). All
# sources are rescaled so their total bone length matches it (see `normalise_scale`).
REFERENCE_BONE_LENGTHS = {
    "r_hip": 0.13, "r_knee": 0.45, "r_ankle": 0.44, "l_hip": 0.13, "l_knee": 0.45,
    "l_ankle": 0.44, "spine": 0.23, "thorax": 0.25, "nose": 0.11, "head": 0.12,
    "l_shoulder": 0.15, "l_elbow": 0.28, "l_wrist": 0.25, "r_shoulder": 0.15,
    "r_elbow": 0.28, "r_wrist": 0.25}
REFERENCE_TOTAL_BONE_LENGTH = float(sum(REFERENCE_BONE_LENGTHS.values()))


def _identity(names):
  return tuple({name: 1.0} for name in names)


def _mid(a, b):
  return {a: 0.5, b: 0.5}


# The mapping table: source -> 17 dicts {source joint: weight} in layout order.
MAPPINGS = {
    # Human3.6M 17-joint layout (VideoPose3D order): identity, indices as names "0".."16".
    "h36m17": tuple({str(i): 1.0} for i in range(NUM_JOINTS)),
    # Human3.6M's original 32 joints (data_3d_h36m.npz before VideoPose3D drops 15).
    "h36m32": tuple({str(i): 1.0} for i in (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18,
                                             19, 25, 26, 27)),
    # COCO-17 (2D detectors): pelvis, spine, thorax midpoints; head top extrapolated from
    # the ears away from the shoulders (approximation).
    "coco17": (
        {"11": 0.5, "12": 0.5}, {"12": 1.0}, {"14": 1.0}, {"16": 1.0}, {"11": 1.0},
        {"13": 1.0}, {"15": 1.0},
        {"11": 0.25, "12": 0.25, "5": 0.25, "6": 0.25},
        {"5": 0.5, "6": 0.5}, {"0": 1.0},
        {"3": 0.75, "4": 0.75, "5": -0.25, "6": -0.25},
        {"5": 1.0}, {"7": 1.0}, {"9": 1.0}, {"6": 1.0}, {"8": 1.0}, {"10": 1.0}),
    # Ubisoft LAFAN1 BVH (bvhtools' test.bvh / test2.bvh); head top = the Head joint (it has
    # no end offset; approximation).
    "lafan": (
        {"Hips": 1.0}, {"RightUpLeg": 1.0}, {"RightLeg": 1.0}, {"RightFoot": 1.0},
        {"LeftUpLeg": 1.0}, {"LeftLeg": 1.0}, {"LeftFoot": 1.0}, {"Spine1": 1.0},
        {"Spine2": 1.0}, {"Neck": 1.0}, {"Head": 1.0}, {"LeftArm": 1.0},
        {"LeftForeArm": 1.0}, {"LeftHand": 1.0}, {"RightArm": 1.0}, {"RightForeArm": 1.0},
        {"RightHand": 1.0}),
    # CMU mocap converted to BVH (cmu-mocap BVH conversions: Hips, LHipJoint, LeftUpLeg...).
    "cmu_bvh": (
        {"Hips": 1.0}, {"RightUpLeg": 1.0}, {"RightLeg": 1.0}, {"RightFoot": 1.0},
        {"LeftUpLeg": 1.0}, {"LeftLeg": 1.0}, {"LeftFoot": 1.0}, {"Spine": 1.0},
        {"Spine1": 1.0}, {"Neck1": 1.0}, {"Head_end": 1.0}, {"LeftArm": 1.0},
        {"LeftForeArm": 1.0}, {"LeftHand": 1.0}, {"RightArm": 1.0}, {"RightForeArm": 1.0},
        {"RightHand": 1.0}),
    # CMU ASF/AMC: positions are bone *end* points, named by bone ("root" = root position).
    "cmu_asf": (
        {"root": 1.0}, {"rhipjoint": 1.0}, {"rfemur": 1.0}, {"rtibia": 1.0},
        {"lhipjoint": 1.0}, {"lfemur": 1.0}, {"ltibia": 1.0}, {"lowerback": 1.0},
        {"upperback": 0.5, "thorax": 0.5}, {"upperneck": 1.0}, {"head": 1.0},
        {"lclavicle": 1.0}, {"lhumerus": 1.0}, {"lradius": 1.0}, {"rclavicle": 1.0},
        {"rhumerus": 1.0}, {"rradius": 1.0}),
    # DeepMimic humanoid (pybullet_data motions): spine midway root-chest; nose and head
    # top are points fixed in the neck link (see `deepmimic.py`).
    "deepmimic": (
        {"root": 1.0}, {"right_hip": 1.0}, {"right_knee": 1.0}, {"right_ankle": 1.0},
        {"left_hip": 1.0}, {"left_knee": 1.0}, {"left_ankle": 1.0},
        {"root": 0.5, "chest": 0.5}, {"neck": 1.0}, {"nose": 1.0}, {"head_top": 1.0},
        {"left_shoulder": 1.0}, {"left_elbow": 1.0}, {"left_wrist": 1.0},
        {"right_shoulder": 1.0}, {"right_elbow": 1.0}, {"right_wrist": 1.0}),
}
# Named joint orders of sources that come as arrays (index i has name str(i)).
ARRAY_SOURCES = {"h36m17": NUM_JOINTS, "h36m32": 32, "coco17": 17}
COCO17_NAMES = ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder",
                "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee",
                "r_knee", "l_ankle", "r_ankle")


def required_names(source):
  if source not in MAPPINGS:
    raise errors.ConfigError(f"unknown joint source {source!r}; known: {sorted(MAPPINGS)}")
  return sorted({name for entry in MAPPINGS[source] for name in entry})


def detect_source(names, candidates=("lafan", "cmu_bvh")):
  """The first named source whose joints are all in `names`, or None."""
  names = set(names)
  for source in candidates:
    if set(required_names(source)) <= names:
      return source
  return None


def map_named(positions, source, where="input"):
  """Maps named source joints to the layout.

  Args:
    positions: dict name -> `[..., D]` array (D = 2 or 3).
    source: a key of `MAPPINGS`.
    where: file or description for error messages.

  Returns:
    `[..., 17, D]` float32.

  Raises:
    errors.DataError: a joint the mapping needs is missing (named).
  """
  missing = [n for n in required_names(source) if n not in positions]
  if missing:
    raise errors.DataError(f"{where}: joints {missing} needed by the {source!r} mapping "
                           f"are missing (it has {sorted(positions)[:30]})")
  out = [sum(w * np.asarray(positions[n], np.float64) for n, w in entry.items())
         for entry in MAPPINGS[source]]
  return np.stack(out, axis=-2).astype(np.float32)


def map_array(array, source, confidence=None, where="input"):
  """Maps `[..., K, D]` joints in a numbered source order to `[..., 17, D]`.

  With `confidence` `[..., K]`, also returns the layout's confidences `[..., 17]`: the
  minimum over the source joints a layout joint is made of.
  """
  array = np.asarray(array)
  expected = ARRAY_SOURCES.get(source)
  if expected is None:
    raise errors.ConfigError(f"{where}: {source!r} is not an array joint order "
                             f"({sorted(ARRAY_SOURCES)})")
  if array.ndim < 2 or array.shape[-2] != expected:
    raise errors.DataError(f"{where}: expected joints [..., {expected}, D] in {source!r} "
                           f"order, got shape {array.shape}")
  named = {str(i): array[..., i, :] for i in range(expected)}
  mapped = map_named(named, source, where)
  if confidence is None:
    return mapped
  confidence = np.asarray(confidence, np.float32)
  mapped_conf = np.stack([np.min(np.stack([confidence[..., int(n)] for n in entry]), axis=0)
                          for entry in MAPPINGS[source]], axis=-1)
  return mapped, mapped_conf


def bone_lengths(joints):
  """`[..., 17, 3]` -> `[..., 16]` bone lengths in the order of `BONES`."""
  joints = np.asarray(joints)
  parents = np.array([p for p, _ in BONES])
  children = np.array([c for _, c in BONES])
  return np.linalg.norm(joints[..., children, :] - joints[..., parents, :], axis=-1)


def root_relative(joints):
  joints = np.asarray(joints)
  return joints - joints[..., ROOT:ROOT + 1, :]


def normalise_scale(joints):
  """Rescales a clip `[T, 17, 3]` so its median total bone length is the reference's.

  Sources differ in actor size and units; without this a discriminator learns the source.
  Returns (scaled joints, scale factor).
  """
  total = np.median(bone_lengths(joints).sum(axis=-1))
  if not np.isfinite(total) or total <= 0:
    raise errors.DataError(f"cannot normalise a clip with total bone length {total}")
  scale = REFERENCE_TOTAL_BONE_LENGTH / total
  return (np.asarray(joints) * scale).astype(np.float32), float(scale)


def facing_yaw(joints):
  """Yaw angle `[...]` (about +y) of the direction a y-up pose faces."""
  joints = np.asarray(joints, np.float64)
  across = joints[..., 4, :] - joints[..., 1, :]  # right hip -> left hip.
  across = across + (joints[..., 11, :] - joints[..., 14, :])  # and the shoulders.
  # Facing = up x across... with +x the person's left when facing +z: facing = across x up.
  facing_x, facing_z = -across[..., 2], across[..., 0]
  return np.arctan2(facing_x, facing_z)


def rotation_y(angle):
  """`[...]` angles -> `[..., 3, 3]` rotations about +y."""
  c, s = np.cos(angle), np.sin(angle)
  zero, one = np.zeros_like(c), np.ones_like(c)
  return np.stack([np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1),
                   np.stack([-s, zero, c], -1)], -2)


def canonicalise(joints):
  """Root-centres y-up poses `[..., 17, 3]` and turns each to face +z (see module doc)."""
  centred = root_relative(joints)
  rotation = rotation_y(-facing_yaw(centred))
  return np.einsum("...ij,...kj->...ki", rotation, centred).astype(np.float32)


def up_axis_to_y(positions, up_axis):
  """Converts positions `[..., 3]` with up axis "y" or "z" (right-handed) to y up."""
  positions = np.asarray(positions)
  if up_axis == "y":
    return positions
  if up_axis == "z":  # (x, y, z) z-up -> (x, z, -y) y-up.
    return np.stack([positions[..., 0], positions[..., 2], -positions[..., 1]], axis=-1)
  raise errors.ConfigError(f"up_axis must be 'y' or 'z', got {up_axis!r}")


def check_poses(joints, where, dims=3):
  """Raises DataError unless `joints` is finite `[..., 17, dims]`."""
  joints = np.asarray(joints)
  if joints.ndim < 2 or joints.shape[-2:] != (NUM_JOINTS, dims):
    raise errors.DataError(f"{where}: expected poses [..., {NUM_JOINTS}, {dims}], got "
                           f"shape {joints.shape}")
  if not np.all(np.isfinite(joints)):
    bad = np.argwhere(~np.isfinite(joints))[0]
    raise errors.DataError(f"{where}: non-finite value at index {tuple(bad)} (joint "
                           f"{JOINTS[bad[-2]]})")
  return joints
