"""2D keypoints JSON (a 2D detector's output) -> normalised camera coordinates, H36M-17 order.

Accepted JSON (one file):

    {"layout": "coco17" | "h36m17",
     "intrinsics": {"fx": 1145.0, "fy": 1144.0, "cx": 512.5, "cy": 515.5}   (or "K": 3x3),
     "people": [{"keypoints": [[u, v, c], ...]}, ...]}

`keypoints` may also be a flat list `[u0, v0, c0, u1, ...]` (COCO style) or `[[u, v], ...]`
(confidence 1); a top-level "keypoints" (one person) or "annotations" list (COCO results)
is accepted instead of "people". Pixel coordinates (u right, v down) become normalised camera
coordinates x = (u - cx) / fx, y = (v - cy) / fy (the exported model's input). Joints with
confidence 0 are replaced by the pelvis (so they do not move the normalisation) and keep
confidence 0.
"""

import json
import math

import numpy as np

from aign_tf import errors
from aign_tf.core import skeleton

LAYOUTS = {"coco17": 17, "h36m17": 17}


def parse_intrinsics(value, where="intrinsics"):
  """{"fx", "fy", "cx", "cy"} or {"K": 3x3} or a 3x3 list -> (fx, fy, cx, cy) floats."""
  if isinstance(value, dict) and "K" in value:
    value = value["K"]
  if isinstance(value, dict):
    try:
      fx, fy, cx, cy = (float(value[k]) for k in ("fx", "fy", "cx", "cy"))
    except KeyError as e:
      raise errors.DataError(f"{where}: missing field {e.args[0]!r} (need fx, fy, cx, cy "
                             "or K)") from e
    except (TypeError, ValueError) as e:
      raise errors.DataError(f"{where}: fx, fy, cx, cy must be numbers") from e
  else:
    k = np.asarray(value, np.float64)
    if k.shape != (3, 3):
      raise errors.DataError(f"{where}: K must be 3x3, got shape {k.shape}")
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
  if not all(math.isfinite(v) for v in (fx, fy, cx, cy)) or fx <= 0 or fy <= 0:
    raise errors.DataError(f"{where}: need finite fx, fy > 0, got {(fx, fy, cx, cy)}")
  return float(fx), float(fy), float(cx), float(cy)


def normalise_pixels(pixels, intrinsics):
  """`[..., 2]` pixels -> normalised camera coordinates ((u - cx) / fx, (v - cy) / fy)."""
  fx, fy, cx, cy = intrinsics
  pixels = np.asarray(pixels, np.float32)
  return np.stack([(pixels[..., 0] - cx) / fx, (pixels[..., 1] - cy) / fy], -1)


def _person(entry, where):
  keypoints = entry.get("keypoints") if isinstance(entry, dict) else entry
  if keypoints is None:
    raise errors.DataError(f"{where}: no 'keypoints' field")
  array = np.asarray(keypoints, np.float64)
  if array.ndim == 1:
    if array.size % 3:
      raise errors.DataError(f"{where}: flat keypoints need 3 numbers per joint, got "
                             f"{array.size}")
    array = array.reshape(-1, 3)
  if array.ndim != 2 or array.shape[1] not in (2, 3):
    raise errors.DataError(f"{where}: keypoints must be [J, 2] or [J, 3], got {array.shape}")
  if array.shape[1] == 2:
    array = np.concatenate([array, np.ones((len(array), 1))], axis=1)
  return array


def read_keypoints_json(path, layout=None, intrinsics=None):
  """Reads a 2D keypoints JSON (module doc) into the model's input layout.

  Args:
    path: the JSON file.
    layout: "coco17" or "h36m17"; overrides the file's "layout".
    intrinsics: (fx, fy, cx, cy) or a dict; overrides the file's "intrinsics".

  Returns:
    dict with "keypoints_2d" `[N, 17, 2]` float32 normalised camera coordinates (H36M-17
    order), "confidence" `[N, 17]`, "pixels" `[N, 17, 2]` (H36M-17 order), "intrinsics"
    (fx, fy, cx, cy) and "layout" (the file's joint order).

  Raises:
    errors.DataError: unreadable file, unknown layout, wrong joint count, NaN keypoints,
      missing intrinsics (each message names the file and field).
  """
  try:
    with open(path) as f:
      data = json.load(f)
  except OSError as e:
    raise errors.DataError(f"{path}: cannot read ({e.strerror})") from e
  except ValueError as e:
    raise errors.DataError(f"{path}: not valid JSON ({e})") from e
  if isinstance(data, list):
    data = {"annotations": data}
  if not isinstance(data, dict):
    raise errors.DataError(f"{path}: expected a JSON object")
  layout = layout or data.get("layout")
  if layout not in LAYOUTS:
    raise errors.DataError(f"{path}: field 'layout' must be one of {sorted(LAYOUTS)}, "
                           f"got {layout!r}")
  if intrinsics is None:
    if "intrinsics" not in data:
      raise errors.DataError(f"{path}: no 'intrinsics' field (fx, fy, cx, cy) and none given")
    intrinsics = data["intrinsics"]
  if not isinstance(intrinsics, tuple):
    intrinsics = parse_intrinsics(intrinsics, f"{path}: field 'intrinsics'")
  if "people" in data:
    people = data["people"]
  elif "annotations" in data:
    people = data["annotations"]
  elif "keypoints" in data:
    people = [data]
  else:
    raise errors.DataError(f"{path}: no 'people', 'annotations' or 'keypoints' field")
  if not people:
    raise errors.DataError(f"{path}: no people")
  arrays = []
  for i, entry in enumerate(people):
    where = f"{path}: people[{i}]"
    array = _person(entry, where)
    if len(array) != LAYOUTS[layout]:
      raise errors.DataError(f"{where}: {len(array)} keypoints, layout {layout!r} has "
                             f"{LAYOUTS[layout]}")
    if not np.all(np.isfinite(array)):
      joint = int(np.argwhere(~np.isfinite(array))[0][0])
      name = (skeleton.COCO17_NAMES if layout == "coco17" else skeleton.JOINTS)[joint]
      raise errors.DataError(f"{where}: keypoint {joint} ({name}) is not finite")
    arrays.append(array)
  array = np.stack(arrays).astype(np.float32)
  pixels, confidence = skeleton.map_array(array[..., :2], layout, array[..., 2], where=path)
  if np.any(confidence[:, skeleton.ROOT] <= 0):
    raise errors.DataError(f"{path}: the pelvis (hips) must be visible to normalise a pose")
  # Invisible joints sit on the pelvis.
  pixels = np.where(confidence[..., None] > 0, pixels, pixels[:, skeleton.ROOT:skeleton.ROOT + 1])
  return {"keypoints_2d": normalise_pixels(pixels, intrinsics),
          "confidence": confidence.astype(np.float32), "pixels": pixels.astype(np.float32),
          "intrinsics": intrinsics, "layout": layout}
