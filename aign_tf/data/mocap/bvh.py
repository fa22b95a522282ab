"""BVH motion capture files: parsing and forward kinematics.

A BVH file has a HIERARCHY (ROOT/JOINT blocks with an OFFSET, a CHANNELS list and optional
"End Site" blocks) and a MOTION section (`Frames: N`, `Frame Time: dt`, then N lines with
one value per channel, in hierarchy order). Rotation channels are in degrees and compose in
the order listed (see `kinematics.euler_matrix`); position channels are in the file's units.

`load_bvh` returns positions of every joint (and each end site, named "<joint>_end") in metres
with y up; `load_bvh_poses` maps them to the 17-joint layout (`skeleton.MAPPINGS`).
"""

import os

import numpy as np

from aign_tf import errors
from aign_tf.core import skeleton
from aign_tf.data.mocap import kinematics

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
_AXES = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}
_POSITIONS = ("Xposition", "Yposition", "Zposition")


class Skeleton:
  """A parsed BVH hierarchy: names, parents, offsets `[J, 3]` and channel lists."""

  def __init__(self):
    self.names, self.parents, self.offsets, self.channels = [], [], [], []

  @property
  def num_channels(self):
    return sum(len(c) for c in self.channels)


def _parse_hierarchy(tokens, path):
  """Parses HIERARCHY tokens; returns (Skeleton, index of the MOTION token)."""
  bvh = Skeleton()
  stack = []  # Joint index of each open block (-1 for an End Site).
  i = 0
  if not tokens or tokens[0] != "HIERARCHY":
    raise errors.DataError(f"{path}: does not start with HIERARCHY")
  i = 1
  pending = None
  while i < len(tokens):
    token = tokens[i]
    if token in ("ROOT", "JOINT"):
      if token == "ROOT" and bvh.names:
        raise errors.DataError(f"{path}: more than one ROOT")
      name = tokens[i + 1]
      parent = next((j for j in reversed(stack) if j >= 0), -1)
      bvh.names.append(name)
      bvh.parents.append(parent)
      bvh.offsets.append(None)
      bvh.channels.append(None)
      pending = len(bvh.names) - 1
      i += 2
    elif token == "End":
      parent = stack[-1]
      bvh.names.append(f"{bvh.names[parent]}_end")
      bvh.parents.append(parent)
      bvh.offsets.append(None)
      bvh.channels.append([])
      pending = len(bvh.names) - 1
      i += 2
    elif token == "{":
      stack.append(pending)
      i += 1
    elif token == "}":
      if not stack:
        raise errors.DataError(f"{path}: unbalanced braces in HIERARCHY")
      j = stack.pop()
      if bvh.offsets[j] is None:
        raise errors.DataError(f"{path}: joint {bvh.names[j]!r} has no OFFSET")
      if bvh.channels[j] is None:
        raise errors.DataError(f"{path}: joint {bvh.names[j]!r} has no CHANNELS")
      i += 1
    elif token == "OFFSET":
      try:
        offset = [float(v) for v in tokens[i + 1:i + 4]]
      except (ValueError, IndexError) as e:
        raise errors.DataError(f"{path}: bad OFFSET for joint "
                               f"{bvh.names[stack[-1]]!r}") from e
      if len(offset) != 3 or not np.all(np.isfinite(offset)):
        raise errors.DataError(f"{path}: OFFSET of joint {bvh.names[stack[-1]]!r} needs 3 "
                               f"finite numbers, got {tokens[i + 1:i + 4]}")
      bvh.offsets[stack[-1]] = offset
      i += 4
    elif token == "CHANNELS":
      j = stack[-1]
      try:
        count = int(tokens[i + 1])
      except ValueError as e:
        raise errors.DataError(f"{path}: bad CHANNELS count for joint {bvh.names[j]!r}") from e
      channels = tokens[i + 2:i + 2 + count]
      unknown = [c for c in channels if c not in _AXES and c not in _POSITIONS]
      if len(channels) != count or unknown:
        raise errors.DataError(f"{path}: joint {bvh.names[j]!r} has bad channels "
                               f"{channels} (unknown {unknown})")
      bvh.channels[j] = channels
      i += 2 + count
    elif token == "MOTION":
      if stack:
        raise errors.DataError(f"{path}: unbalanced braces before MOTION")
      return bvh, i
    else:
      raise errors.DataError(f"{path}: unexpected token {token!r} in HIERARCHY")
  raise errors.DataError(f"{path}: no MOTION section")


def parse_bvh(path):
  """Returns (Skeleton, motion `[T, C]` float64, frame time in seconds)."""
  try:
    with open(path) as f:
      text = f.read()
  except OSError as e:
    raise errors.DataError(f"{path}: cannot read BVH file ({e.strerror})") from e
  except UnicodeDecodeError as e:
    raise errors.DataError(f"{path}: not a text BVH file (undecodable byte at offset "
                           f"{e.start})") from e
  head, sep, motion = text.partition("MOTION")
  if not sep:
    raise errors.DataError(f"{path}: no MOTION section")
  bvh, _ = _parse_hierarchy(head.split() + ["MOTION"], path)
  lines = [line.strip() for line in motion.strip().splitlines() if line.strip()]
  try:
    frames = int(lines[0].split(":")[1])
    frame_time = float(lines[1].split(":")[1])
  except (IndexError, ValueError) as e:
    raise errors.DataError(f"{path}: MOTION needs 'Frames: N' and 'Frame Time: dt'") from e
  if not np.isfinite(frame_time) or frame_time < 0:
    raise errors.DataError(f"{path}: 'Frame Time: {frame_time}' must be a finite number >= 0")
  rows = lines[2:]
  if len(rows) < frames:
    raise errors.DataError(f"{path}: header says {frames} frames, file has {len(rows)}")
  values = []
  for t, row in enumerate(rows[:frames]):
    numbers = row.split()
    if len(numbers) != bvh.num_channels:
      raise errors.DataError(f"{path}: frame {t} has {len(numbers)} values, the hierarchy "
                             f"declares {bvh.num_channels} channels (missing channel?)")
    values.append(numbers)
  try:
    motion = np.asarray(values, np.float64).reshape(frames, bvh.num_channels)
  except ValueError as e:
    raise errors.DataError(f"{path}: non-numeric value in MOTION") from e
  bad = np.argwhere(~np.isfinite(motion))
  if bad.size:
    t, c = bad[0]
    raise errors.DataError(f"{path}: non-finite value ({motion[t, c]}) in MOTION frame {t}, "
                           f"channel {c}")
  return bvh, motion, frame_time


def forward_kinematics(bvh, motion, scale=1.0):
  """Positions `[T, J, 3]` (file axes, times `scale`) of every joint and end site."""
  frames = motion.shape[0]
  joints = len(bvh.names)
  local = np.zeros((frames, joints, 3, 3))
  root_positions = np.zeros((frames, 3))
  column = 0
  for j, channels in enumerate(bvh.channels):
    rotation_axes, rotation_columns = "", []
    translation = np.zeros((frames, 3))
    for channel in channels:
      if channel in _AXES:
        rotation_axes += _AXES[channel]
        rotation_columns.append(column)
      else:
        translation[:, _POSITIONS.index(channel)] = motion[:, column]
      column += 1
    local[:, j] = kinematics.euler_matrix(np.radians(motion[:, rotation_columns]),
                                          rotation_axes)
    if bvh.parents[j] < 0:
      root_positions = translation
  offsets = np.asarray(bvh.offsets, np.float64)
  if any(c in _POSITIONS for c in bvh.channels[0]):
    offsets = offsets.copy()
    offsets[0] = 0.0  # The root's position channels are absolute.
  positions, _ = kinematics.forward_offsets(bvh.parents, offsets, local, root_positions)
  return positions * scale


def load_bvh(path, units="cm", up_axis="y"):
  """Reads a BVH file; returns (dict name -> positions `[T, 3]` in metres y-up, fps)."""
  if units not in UNITS:
    raise errors.ConfigError(f"BVH units must be one of {sorted(UNITS)}, got {units!r}")
  bvh, motion, frame_time = parse_bvh(path)
  positions = skeleton.up_axis_to_y(forward_kinematics(bvh, motion, UNITS[units]), up_axis)
  fps = 1.0 / frame_time if frame_time > 0 else 0.0
  return {name: positions[:, j] for j, name in enumerate(bvh.names)}, fps


def load_bvh_poses(path, units="cm", up_axis="y", source=None):
  """Reads a BVH clip as 17-joint poses `[T, 17, 3]` (metres, y up).

  Args:
    path: the .bvh file.
    units: "cm" (LAFAN1, most BVH), "m", "mm" or "inch".
    up_axis: "y" or "z".
    source: a `skeleton.MAPPINGS` key; detected from the joint names when None.

  Raises:
    errors.DataError: malformed file or joint names that no mapping knows.
  """
  positions, _ = load_bvh(path, units, up_axis)
  if source is None:
    source = skeleton.detect_source(positions)
    if source is None:
      raise errors.DataError(
          f"{os.path.basename(path)}: unknown joint names {sorted(positions)[:25]}; no "
          f"mapping in skeleton.MAPPINGS fits (pass source=...)")
  return skeleton.map_named(positions, source, where=path)
