"""Human3.6M in VideoPose3D's npz layout.

`data_3d_h36m.npz` holds `positions_3d`, a pickled dict subject -> action -> `[T, 32, 3]`
world positions in metres (z up; VideoPose3D keeps 17 of the 32 joints, `h36m32` mapping)
or already `[T, 17, 3]`. `data_2d_h36m_<detector>.npz` holds `positions_2d`, subject ->
action -> list (one per camera) of `[T, 17, 2]` pixel keypoints (or `[T, 17, >=3]` with a
confidence column), and `metadata` (`layout_name`, `num_joints`, `keypoints_symmetry`).
"""

import os
import pickle
import zipfile
import zlib

import numpy as np

from aign_tf import errors
from aign_tf.core import skeleton


def _load_dict(path, key):
  # Only a zip archive goes to np.load: with allow_pickle (needed for the dicts inside) a
  # bare pickle renamed .npz would otherwise be unpickled, and a zero-byte or truncated file
  # raised EOFError / BadZipFile instead of naming the file.
  if not zipfile.is_zipfile(path):
    size = os.path.getsize(path) if os.path.isfile(path) else None
    raise errors.DataError(f"{path}: not an npz archive (" + (
        "no such file" if size is None else "empty file" if size == 0 else
        f"{size} bytes, truncated or another format") + ")")
  # Members are read lazily by np.load, so a damaged member (bad CRC, cut deflate stream,
  # broken pickle) only fails when read: read them all here, inside the try.
  try:
    with np.load(path, allow_pickle=True) as archive:
      data = {name: archive[name] for name in archive.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error,
          pickle.UnpicklingError) as e:
    raise errors.DataError(f"{path}: cannot read npz ({type(e).__name__}: {e})") from e
  if key not in data:
    raise errors.DataError(f"{path}: has no {key!r} array (it has {sorted(data)})")
  value = data[key]
  value = value.item() if value.dtype == object and value.shape == () else value
  if not isinstance(value, dict):
    raise errors.DataError(f"{path}: {key!r} is not a dict subject -> action -> array")
  return value, data


def load_h36m_3d(path, subjects=None):
  """Returns dict "subject/action" -> `[T, 17, 3]` poses (metres, y up).

  Raises:
    errors.DataError: missing key, unknown subject, or an array of the wrong shape (named).
  """
  positions, _ = _load_dict(path, "positions_3d")
  clips = {}
  for subject in subjects or sorted(positions):
    if subject not in positions:
      raise errors.DataError(f"{path}: no subject {subject!r} (has {sorted(positions)})")
    for action, array in sorted(positions[subject].items()):
      where = f"{os.path.basename(path)}[{subject}][{action}]"
      array = np.asarray(array, np.float32)
      if array.ndim != 3 or array.shape[1:] not in ((32, 3), (17, 3)):
        raise errors.DataError(f"{where}: expected [T, 32, 3] or [T, 17, 3], got "
                               f"{array.shape}")
      source = "h36m32" if array.shape[1] == 32 else "h36m17"
      poses = skeleton.up_axis_to_y(skeleton.map_array(array, source, where=where), "z")
      clips[f"{subject}/{action}"] = skeleton.check_poses(poses, where)
  return clips


def load_h36m_2d(path, subjects=None):
  """Returns (dict "subject/action/camera" -> (keypoints `[T, 17, 2]` pixels, confidence
  `[T, 17]`), metadata dict)."""
  positions, data = _load_dict(path, "positions_2d")
  metadata = {}
  if "metadata" in data:
    metadata = data["metadata"].item() if data["metadata"].dtype == object else {}
  if metadata.get("num_joints", skeleton.NUM_JOINTS) != skeleton.NUM_JOINTS:
    raise errors.DataError(f"{path}: metadata num_joints={metadata['num_joints']}, "
                           f"expected {skeleton.NUM_JOINTS} (H36M-17 layout)")
  clips = {}
  for subject in subjects or sorted(positions):
    if subject not in positions:
      raise errors.DataError(f"{path}: no subject {subject!r} (has {sorted(positions)})")
    for action, cameras in sorted(positions[subject].items()):
      for camera, array in enumerate(cameras):
        where = f"{os.path.basename(path)}[{subject}][{action}][{camera}]"
        array = np.asarray(array, np.float32)
        if array.ndim != 3 or array.shape[1] != skeleton.NUM_JOINTS or array.shape[2] < 2:
          raise errors.DataError(f"{where}: expected [T, 17, 2] keypoints, got {array.shape}")
        confidence = (array[..., 2] if array.shape[2] > 2 else
                      np.ones(array.shape[:2], np.float32))
        clips[f"{subject}/{action}/{camera}"] = (
            skeleton.check_poses(array[..., :2], where, dims=2), confidence)
  return clips, metadata
