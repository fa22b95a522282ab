"""DeepMimic motion clips (pybullet_data/data/motions/humanoid3d_*.txt) with forward kinematics.

Each frame is `[dt, root xyz (3), root quat (4), chest quat, neck quat, r-hip quat,
r-knee angle (1), r-ankle quat, r-shoulder quat, r-elbow angle, l-hip quat, l-knee angle,
l-ankle quat, l-shoulder quat, l-elbow angle]` (44 numbers; quaternions w, x, y, z; knees and
elbows are revolute about z). Positions are metres, y up. Joint offsets below are those of
`pybullet_data/humanoid/humanoid.urdf` at pybullet's globalScaling 0.25; the nose and head top
are points fixed in the neck link (approximation; the humanoid has no such joints).
"""

import json
import os

import numpy as np

from aign_tf import errors
from aign_tf.core import skeleton
from aign_tf.data.mocap import kinematics

_S = 0.25
# name, parent, offset (parent frame), field: ("quat", start) / ("angle", start) / None.
_JOINTS = (
    ("root", -1, (0.0, 0.0, 0.0), ("quat", 4)),
    ("chest", 0, (0.0, 0.944604, 0.0), ("quat", 8)),
    ("neck", 1, (0.0, 0.895576, 0.0), ("quat", 12)),
    ("right_hip", 0, (0.0, 0.0, 0.339548), ("quat", 16)),
    ("right_knee", 3, (0.0, -1.686184, 0.0), ("angle", 20)),
    ("right_ankle", 4, (0.0, -1.639480, 0.0), ("quat", 21)),
    ("right_shoulder", 1, (-0.0962, 0.974, 0.73244), ("quat", 25)),
    ("right_elbow", 6, (0.0, -1.099152, 0.0), ("angle", 29)),
    ("right_wrist", 7, (0.0, -1.035788, 0.0), None),
    ("left_hip", 0, (0.0, 0.0, -0.339548), ("quat", 30)),
    ("left_knee", 9, (0.0, -1.686184, 0.0), ("angle", 34)),
    ("left_ankle", 10, (0.0, -1.639480, 0.0), ("quat", 35)),
    ("left_shoulder", 1, (-0.0962, 0.974, -0.73244), ("quat", 39)),
    ("left_elbow", 12, (0.0, -1.099152, 0.0), ("angle", 43)),
    ("left_wrist", 13, (0.0, -1.035788, 0.0), None),
    ("nose", 2, (0.3, 0.5, 0.0), None),
    ("head_top", 2, (0.0, 1.15, 0.0), None),
)
FRAME_SIZE = 44


def load_deepmimic(path):
  """Reads a DeepMimic clip as 17-joint poses `[T, 17, 3]` (metres, y up)."""
  try:
    with open(path) as f:
      frames = json.load(f)["Frames"]
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise errors.DataError(f"{path}: not a DeepMimic motion file with 'Frames' ({e})") from e
  try:
    frames = np.asarray(frames, np.float64)
  except (ValueError, TypeError) as e:
    raise errors.DataError(f"{path}: 'Frames' is not a list of numeric frames ({e})") from e
  if frames.ndim != 2 or frames.shape[1] != FRAME_SIZE:
    raise errors.DataError(f"{path}: expected Frames [T, {FRAME_SIZE}], got {frames.shape}")
  # json reads NaN, Infinity and -Infinity as floats.
  bad = np.argwhere(~np.isfinite(frames))
  if bad.size:
    t, k = bad[0]
    raise errors.DataError(f"{path}: non-finite value ({frames[t, k]}) in frame {t}, "
                           f"field {k}")
  num = len(frames)
  local = np.zeros((num, len(_JOINTS), 3, 3))
  for j, (_, _, _, field) in enumerate(_JOINTS):
    if field is None:
      local[:, j] = np.eye(3)
    elif field[0] == "quat":
      local[:, j] = kinematics.quaternion_matrix(frames[:, field[1]:field[1] + 4])
    else:
      local[:, j] = kinematics.axis_rotation("Z", frames[:, field[1]])
  offsets = np.asarray([o for _, _, o, _ in _JOINTS]) * _S
  positions, _ = kinematics.forward_offsets([p for _, p, _, _ in _JOINTS], offsets, local,
                                            frames[:, 1:4])
  named = {name: positions[:, j] for j, (name, _, _, _) in enumerate(_JOINTS)}
  return skeleton.map_named(named, "deepmimic", where=os.path.basename(path))
