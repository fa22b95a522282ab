"""Human3.6M in VideoPose3D's npz layout.

`data_3d_h36m.npz` holds `positions_3d`, a pickled dict subject -> action -> `[T, 32, 3]`
world positions in metres (z up; VideoPose3D keeps 17 of the 32 joints, `h36m32` mapping)
or already `[T, 17, 3]`. `data_2d_h36m_<detector>.npz` holds `positions_2d`, subject ->
action -> list (one per camera) of `[T, 17, 2]` pixel keypoints (or `[T, 17, >=3]` with a
confidence column), and `metadata` (`layout_name`: "h36m" or "coco" for the joint order,
`num_joints`, `keypoints_symmetry`, and for VideoPose3D's custom in-the-wild files
`video_metadata`: video name -> {"w", "h"}, where the subject is the video's name).
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


# VideoPose3D's `metadata["layout_name"]` -> our joint orders, and the left/right joint lists
# (`keypoints_symmetry`) VideoPose3D writes for each.
LAYOUT_NAMES = {"h36m": "h36m17", "coco": "coco17"}
SYMMETRY = {"h36m17": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
            "coco17": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]}


def _layout_2d(path, metadata):
  """The joint order a `positions_2d` file declares (h36m17 when it says nothing)."""
  name = metadata.get("layout_name", "h36m")
  if name not in LAYOUT_NAMES:
    raise errors.DataError(f"{path}: metadata layout_name {name!r} is not one of "
                           f"{sorted(LAYOUT_NAMES)} (17-joint layouts)")
  layout = LAYOUT_NAMES[name]
  symmetry = metadata.get("keypoints_symmetry")
  if symmetry is not None:
    try:
      symmetry = [[int(j) for j in side] for side in symmetry]
    except (TypeError, ValueError):
      raise errors.DataError(f"{path}: metadata keypoints_symmetry must be two lists of "
                             f"joint indices, got {symmetry!r}"[:300]) from None
    if symmetry != SYMMETRY[layout]:
      raise errors.DataError(f"{path}: metadata keypoints_symmetry {symmetry} does not match "
                             f"layout_name {name!r} (expected {SYMMETRY[layout]})")
  return layout


def _select(path, what, available, wanted, context=""):
  if not wanted:
    return sorted(available)
  missing = [w for w in wanted if w not in available]
  if missing:
    raise errors.DataError(f"{path}: no {what} {missing[0]!r}{context} (has "
                           f"{sorted(available)[:20]})")
  return list(wanted)


def load_h36m_2d(path, subjects=None, actions=None, cameras=None, keep_layout=False):
  """Reads VideoPose3D's `positions_2d` (module doc).

  The archive holds pickled Python objects (dicts of lists of arrays), so it is loaded with
  `allow_pickle=True`: unpickling can run code, so read only npz files you trust (ones you
  made with VideoPose3D's scripts or downloaded from its authors), as for any pickle.

  Args:
    path: the `.npz` file.
    subjects, actions: lists of names to read (default: all); an unknown one is an error.
    cameras: list of camera indices (ints or digit strings) to read (default: all).
    keep_layout: return keypoints in the file's joint order (`metadata["layout"]`) instead
      of mapping COCO-17 files to the H36M-17 order.

  Returns:
    (dict "subject/action/camera" -> (keypoints `[T, 17, 2]` pixels, confidence `[T, 17]`),
    metadata dict with "layout" added: "h36m17" or "coco17", the file's order).

  Raises:
    errors.DataError: not an npz, no `positions_2d`, an unknown layout or selection, or an
      array of the wrong shape or with non-finite values (named by subject, action, camera).
  """
  positions, data = _load_dict(path, "positions_2d")
  metadata = {}
  if "metadata" in data:
    metadata = data["metadata"].item() if data["metadata"].dtype == object else {}
    if not isinstance(metadata, dict):
      raise errors.DataError(f"{path}: 'metadata' is not a dict")
  if metadata.get("num_joints", skeleton.NUM_JOINTS) != skeleton.NUM_JOINTS:
    raise errors.DataError(f"{path}: metadata num_joints={metadata['num_joints']}, "
                           f"expected {skeleton.NUM_JOINTS} (H36M-17 or COCO-17 layout)")
  layout = _layout_2d(path, metadata)
  metadata = dict(metadata, layout=layout)
  try:
    cameras = None if cameras is None else [int(c) for c in cameras]
  except (TypeError, ValueError):
    raise errors.DataError(f"cameras (--camera) must be camera indices 0, 1, ..., got "
                           f"{list(cameras)}") from None
  clips = {}
  for subject in _select(path, "subject", positions, subjects):
    if not isinstance(positions[subject], dict):
      raise errors.DataError(f"{path}: positions_2d[{subject!r}] is not a dict action -> "
                             "cameras")
    for action in _select(path, "action", positions[subject], actions, f" in {subject}"):
      views = positions[subject][action]
      if isinstance(views, np.ndarray) and views.dtype != object:
        views = [views] if views.ndim == 3 else list(views)
      for camera in _select(path, "camera", range(len(views)), cameras,
                            f" in {subject}/{action}"):
        where = f"{os.path.basename(path)}[{subject}][{action}][{camera}]"
        try:
          with np.errstate(over="ignore"):
            array = np.asarray(views[camera], np.float32)
        except (TypeError, ValueError):
          raise errors.DataError(f"{where}: not a numeric array") from None
        if array.ndim != 3 or array.shape[1] != skeleton.NUM_JOINTS or array.shape[2] < 2:
          raise errors.DataError(f"{where}: expected [T, 17, 2] keypoints, got {array.shape}")
        confidence = (array[..., 2] if array.shape[2] > 2 else
                      np.ones(array.shape[:2], np.float32))
        bad = ~np.isfinite(array[..., :3])
        if np.any(bad):  # float32 also turns 1e300 into inf.
          frame, joint, _ = np.argwhere(bad)[0]
          name = (skeleton.COCO17_NAMES if layout == "coco17" else skeleton.JOINTS)[joint]
          raise errors.DataError(f"{where}: frame {frame} keypoint {joint} ({name}) is not "
                                 "finite in float32")
        keypoints = array[..., :2]
        if layout != "h36m17" and not keep_layout:
          keypoints, confidence = skeleton.map_array(keypoints, layout, confidence, where)
        clips[f"{subject}/{action}/{camera}"] = (keypoints, confidence)
  if not clips:
    raise errors.DataError(f"{path}: no clips selected")
  return clips, metadata
