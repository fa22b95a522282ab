"""2D keypoints as 2D detectors write them -> the pose model's input, grouped as in the file.

`read_keypoints(path, ...)` reads, by content:

* COCO results JSON: what COCO-style detectors dump and openpifpaf writes as
  `*.predictions.json`, a list of annotations
  `{"keypoints": [u0, v0, c0, u1, ...] (17 x 3), "bbox": [x, y, w, h], "score": s,
  "category_id": 1, "image_id": id (optional)}`. A joint with confidence c <= 0 is unseen,
  whatever its u, v (COCO writes `0, 0, 0`; other tools other placeholders). People are
  grouped by `image_id` (one group, `image_id` null, when it is absent).
* The project's JSON: `{"layout": "coco17" | "h36m17", "intrinsics": {"fx", "fy", "cx",
  "cy"} (or {"K": 3x3}), "image_id": id, "people": [{"keypoints": ...}, ...]}`, with
  "annotations" (COCO style) accepted for "people", or one person's "keypoints" at the top.
* A single person: a JSON list of joints `[[u, v, c], ...]` / `[[u, v], ...]` (confidence 1)
  or a flat `[u0, v0, c0, ...]`; several people: a list of such lists.
* VideoPose3D's `data_2d_<dataset>_<detector>.npz` (`h36m.load_h36m_2d`): one group per
  subject/action/camera, one pose per frame.

Without a layout from the caller or the file, 17 joints are read as COCO-17 (the order 2D
detectors write); VideoPose3D files name theirs in `metadata["layout_name"]`. Camera intrinsics
come from the caller, the file or an image size (`intrinsics.resolve`).

Pixel coordinates (u right, v down) become normalised camera coordinates
x = (u - cx) / fx, y = (v - cy) / fy in the H36M-17 order (the exported model's input).
Unseen joints are put on the pelvis (so they do not move the model's normalisation) and keep
confidence 0. A person whose pelvis is unseen (COCO: either hip unseen) cannot be lifted: it
is kept in the grouping with a "skipped" reason; a file in which nobody can be lifted is an
error. Every error is one line naming the file and the field.
"""

import json
import math
import os

import numpy as np

from aign_tf import errors
from aign_tf.core import skeleton
from aign_tf.data.mocap import h36m
from aign_tf.data.mocap import intrinsics as intrinsics_lib

LAYOUTS = {"coco17": 17, "h36m17": 17}
JOINT_NAMES = {"coco17": skeleton.COCO17_NAMES, "h36m17": skeleton.JOINTS}
# Visible joints further than this many focal lengths from the principal point (about 84
# degrees off the optical axis) mean the keypoints and the intrinsics do not belong together.
MAX_NORMALISED = 10.0
_FLOAT32_MAX = float(np.finfo(np.float32).max)

IMAGES, SEQUENCES = "images", "sequences"

parse_intrinsics = intrinsics_lib.parse_intrinsics  # The old home of the intrinsics parser.


def normalise_pixels(pixels, intrinsics):
  """Pixels -> normalised camera coordinates.

  Args:
    pixels: `[..., 2]` pixel coordinates (u right, v down).
    intrinsics: (fx, fy, cx, cy), or an array `[..., 4]` whose `[...]` broadcasts against
      `pixels[..., 0]`.

  Returns:
    `[..., 2]` float32 ((u - cx) / fx, (v - cy) / fy).
  """
  fx, fy, cx, cy = np.moveaxis(np.asarray(intrinsics, np.float64), -1, 0)
  pixels = np.asarray(pixels, np.float64)
  return np.stack([(pixels[..., 0] - cx) / fx, (pixels[..., 1] - cy) / fy],
                  -1).astype(np.float32)


# Reading JSON ----------------------------------------------------------------------------------

def _type_name(value):
  return {str: "a string", bool: "a boolean", dict: "an object", list: "a list",
          type(None): "null"}.get(type(value), type(value).__name__)


def _is_number(value):
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _load_json(path):
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except FileNotFoundError:
    raise errors.DataError(f"{path}: no such file") from None
  except OSError as e:
    raise errors.DataError(f"{path}: cannot read ({e.strerror})") from None
  except UnicodeDecodeError:
    raise errors.DataError(f"{path}: not a text (UTF-8) JSON file") from None
  except ValueError as e:
    raise errors.DataError(f"{path}: not valid JSON ({e})") from None


def _keypoint_array(value, where):
  """A person's keypoints (flat u, v, c triplets or a list of [u, v(, c)]) -> `[J, 3]`."""
  if not isinstance(value, list) or not value:
    raise errors.DataError(f"{where}: keypoints must be a non-empty list, got "
                           f"{_type_name(value) if value != [] else 'an empty list'}")
  if all(not isinstance(v, list) for v in value):
    for i, v in enumerate(value):
      if not _is_number(v):
        raise errors.DataError(f"{where}[{i}] is {v!r} ({_type_name(v)}), not a number")
    if len(value) % 3:
      raise errors.DataError(f"{where}: a flat list holds u, v, c per joint; {len(value)} "
                             "numbers is not a multiple of 3")
    return np.asarray(value, np.float64).reshape(-1, 3)
  for j, row in enumerate(value):
    if not isinstance(row, list):
      raise errors.DataError(f"{where}[{j}] is {row!r}: give every joint as [u, v] or "
                             "[u, v, c], or all values as one flat list")
    if len(row) not in (2, 3) or len(row) != len(value[0]):
      raise errors.DataError(f"{where}[{j}] has {len(row)} values, joint 0 has "
                             f"{len(value[0])} (ragged: every joint is [u, v] or [u, v, c])")
    for k, v in enumerate(row):
      if not _is_number(v):
        raise errors.DataError(f"{where}[{j}][{k}] is {v!r} ({_type_name(v)}), not a number")
  array = np.asarray(value, np.float64)
  if array.shape[1] == 2:
    array = np.concatenate([array, np.ones((len(array), 1))], axis=1)
  return array


def _check_values(array, layout, where):
  """Finite in float32 (the model's dtype): 1e300 is finite in float64 but not there."""
  bad = ~np.isfinite(array) | (np.abs(array) > _FLOAT32_MAX)
  if np.any(bad):
    joint, column = (int(i) for i in np.argwhere(bad)[0])
    value = array[joint, column]
    what = "is not finite" if not np.isfinite(value) else "overflows float32"
    raise errors.DataError(f"{where}: keypoint {joint} ({JOINT_NAMES[layout][joint]}) "
                           f"{'uvc'[column]} = {value:g} {what}")


def _annotation_fields(entry, where):
  """The detector fields kept in the output (score, bbox, category_id), checked."""
  fields = {}
  if "score" in entry:
    if not _is_number(entry["score"]) or not math.isfinite(entry["score"]):
      raise errors.DataError(f"{where}: field 'score' must be a finite number, got "
                             f"{entry['score']!r}")
    fields["score"] = float(entry["score"])
  if "bbox" in entry:
    box = entry["bbox"]
    if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
      raise errors.DataError(f"{where}: field 'bbox' must be [x, y, width, height] numbers, got "
                             f"{box!r}")
    fields["bbox"] = [float(v) for v in box]
  if "category_id" in entry:
    fields["category_id"] = entry["category_id"]
  return fields


def _check_group_key(value, where):
  if (value is not None and not isinstance(value, (str, int))) or isinstance(value, bool):
    raise errors.DataError(f"{where}: field 'image_id' must be a number or a string, got "
                           f"{value!r}")
  return value


def _several_people(data):
  """A list of people as bare lists: each a flat u, v, c list (not a 2- or 3-value joint) or
  a list of joints."""
  if not all(isinstance(e, list) and e for e in data):
    return False
  return all(isinstance(e[0], list) for e in data) or all(
      len(e) > 3 and not any(isinstance(v, list) for v in e) for e in data)


def _json_people(data, path):
  """-> (list of (keypoint list, where, image_id, fields)), file layout, file intrinsics,
  format name."""
  if isinstance(data, list):
    if not data:
      raise errors.DataError(f"{path}: an empty list: no people")
    if all(isinstance(e, dict) for e in data):
      label, entries, top, kind = "", data, {}, "coco_results"  # Where: "file: [3]".
    elif _several_people(data):
      label, entries, top, kind = "", data, {}, "people_lists"
    elif all(not isinstance(e, dict) for e in data):
      label, entries, top, kind = None, [data], {}, "single_person"
    else:
      raise errors.DataError(f"{path}: a list mixing annotations (objects) and other values")
  elif isinstance(data, dict):
    top, kind = data, "aign_json"
    if "people" in data or "annotations" in data:
      label = "people" if "people" in data else "annotations"
      entries = data[label]
      if not isinstance(entries, list):
        raise errors.DataError(f"{path}: field '{label}' must be a list of people, got "
                               f"{_type_name(entries)} {entries!r}"[:200])
      if not entries:
        raise errors.DataError(f"{path}: field '{label}' is empty: no people")
    elif "keypoints" in data:
      label, entries = None, [data]
    else:
      raise errors.DataError(f"{path}: no 'people', 'annotations' or 'keypoints' field (it "
                             f"has {sorted(data)[:10]})")
  else:
    raise errors.DataError(f"{path}: expected a JSON list of annotations or an object, got "
                           f"{_type_name(data)}")
  default_id = _check_group_key(top.get("image_id"), path)
  if label is None:  # One person: the file's top-level "keypoints", or the file itself.
    where, entry = f"{path}: keypoints", entries[0]
    if isinstance(entry, dict):
      person = (entry["keypoints"], where, default_id, _annotation_fields(entry, path))
    else:
      person = (entry, where, default_id, {})
    return [person], top.get("layout"), top.get("intrinsics"), kind
  people = []
  for i, entry in enumerate(entries):
    where = f"{path}: {label}[{i}]"
    if isinstance(entry, list):  # A bare joint list per person.
      people.append((entry, where, default_id, {}))
      continue
    if not isinstance(entry, dict):
      raise errors.DataError(f"{where} is {_type_name(entry)} {entry!r}, not a person "
                             "(an object with 'keypoints')"[:200])
    if "keypoints" not in entry:
      raise errors.DataError(f"{where} has no 'keypoints' field")
    image_id = _check_group_key(entry.get("image_id", default_id), where)
    people.append((entry["keypoints"], f"{where}.keypoints", image_id,
                   _annotation_fields(entry, where)))
  return people, top.get("layout"), top.get("intrinsics"), kind


# From pixels to the model's input ------------------------------------------------------------

def _model_inputs(arrays, layout, intrinsics, wheres, path):
  """`[N, J, 3]` (u, v, c) in `layout` -> pixels, confidences in H36M-17 order, the rows
  that can be lifted, the reasons the others cannot, normalised keypoints."""
  pixels, confidence = skeleton.map_array(arrays[..., :2], layout, arrays[..., 2], where=path)
  pixels = pixels.astype(np.float64)
  confidence = np.where(confidence > 0, confidence, 0.0).astype(np.float32)
  any_seen = np.any(arrays[..., 2] > 0, axis=-1)
  root_seen = confidence[:, skeleton.ROOT] > 0
  if not np.any(any_seen):
    raise errors.DataError(f"{path}: every keypoint of every person is unseen (confidence "
                           "<= 0): nothing to lift")
  if not np.any(root_seen):
    raise errors.DataError(f"{path}: no person has a visible pelvis (COCO-17: both hips with "
                           "confidence > 0); poses are lifted around the pelvis")
  reasons = [None if r else ("no visible keypoints" if not s else
                             "pelvis not visible (COCO-17: a hip is unseen)")
             for s, r in zip(any_seen, root_seen)]
  root = pixels[:, skeleton.ROOT:skeleton.ROOT + 1]
  pixels = np.where(confidence[..., None] > 0, pixels, root)
  normalised = normalise_pixels(pixels, intrinsics[:, None, :])
  off_axis = np.where(confidence > 0, np.max(np.abs(normalised), axis=-1), 0.0)
  off_axis = np.where(root_seen[:, None], off_axis, 0.0)
  if np.any(off_axis > MAX_NORMALISED):
    row, joint = (int(i) for i in np.argwhere(off_axis > MAX_NORMALISED)[0])
    u, v = pixels[row, joint]
    raise errors.DataError(
        f"{wheres[row]}: keypoint {skeleton.JOINTS[joint]} at ({u:g}, {v:g}) px is "
        f"{off_axis[row, joint]:.3g} focal lengths off the principal point ({intrinsics[row, 2]:g},"
        f" {intrinsics[row, 3]:g}): the keypoints and the intrinsics do not fit together")
  return pixels.astype(np.float32), confidence, root_seen, reasons, normalised


def _result(path, kind, layout, layout_source, group_by, groups, members, arrays, intrinsics,
            wheres):
  """Assembles `read_keypoints`' dict from per-person rows (all people, in file order)."""
  pixels, confidence, liftable, reasons, normalised = _model_inputs(
      arrays, layout, intrinsics, wheres, path)
  rows = np.flatnonzero(liftable)
  row_of = {int(person): row for row, person in enumerate(rows)}
  for person, member in enumerate(members):
    member["row"] = row_of.get(person)
    if reasons[person]:
      member["skipped"] = reasons[person]
  return {"keypoints_2d": normalised[rows], "confidence": confidence[rows],
          "pixels": pixels[rows], "intrinsics": intrinsics[rows], "layout": layout,
          "layout_source": layout_source, "source": path, "format": kind,
          "group_by": group_by, "groups": groups, "people": members}


def _read_json(path, layout, intrinsics, image, image_size, fov_degrees):
  people, file_layout, file_intrinsics, kind = _json_people(_load_json(path), path)
  arrays = [_keypoint_array(keypoints, where) for keypoints, where, _, _ in people]
  layout_source = "given" if layout else f"{path} field 'layout'" if file_layout else None
  layout = layout or file_layout
  if layout is None:
    if len(arrays[0]) != 17:
      raise errors.DataError(f"{people[0][1]}: {len(arrays[0])} joints and no layout: give "
                             f"'layout' or --layout ({', '.join(sorted(LAYOUTS))})")
    layout, layout_source = "coco17", "inferred from 17 joints (2D detectors write COCO-17)"
  if layout not in LAYOUTS:
    raise errors.DataError(f"{path}: field 'layout' must be one of {sorted(LAYOUTS)}, got "
                           f"{layout!r}")
  for array, (_, where, _, _) in zip(arrays, people):
    if len(array) != LAYOUTS[layout]:
      raise errors.DataError(f"{where}: {len(array)} keypoints, layout {layout!r} has "
                             f"{LAYOUTS[layout]}")
    _check_values(array, layout, where)
  value, description = intrinsics_lib.resolve(path, intrinsics, image, image_size,
                                               fov_degrees, file_intrinsics)
  group_index, groups, members = {}, [], []
  for i, (_, _, image_id, fields) in enumerate(people):
    if image_id not in group_index:
      group_index[image_id] = len(groups)
      groups.append({"image_id": image_id, "intrinsics": description})
    members.append({"group": group_index[image_id], "index": i, **fields})
  intrinsics_rows = np.tile(np.asarray(value, np.float64), (len(arrays), 1))
  return _result(path, kind, layout, layout_source, IMAGES, groups, members, np.stack(arrays),
                 intrinsics_rows, [where for _, where, _, _ in people])


def _read_npz(path, layout, intrinsics, image, image_size, fov_degrees, subjects, actions,
              cameras):
  clips, metadata = h36m.load_h36m_2d(path, subjects, actions, cameras, keep_layout=True)
  file_layout = metadata["layout"]
  if layout and layout != file_layout:
    raise errors.DataError(f"{path}: metadata layout_name says {file_layout!r}, --layout "
                           f"says {layout!r}")
  video_sizes = metadata.get("video_metadata") or {}
  groups, members, arrays, rows, wheres = [], [], [], [], []
  for name, (keypoints, confidence) in clips.items():
    subject, rest = name.split("/", 1)
    action, camera = rest.rsplit("/", 1)
    size = video_sizes.get(subject)
    if isinstance(size, dict) and "w" in size and "h" in size:
      size = (size["w"], size["h"])
    elif size is not None:
      size = None
    value, description = intrinsics_lib.resolve(path, intrinsics, image, image_size,
                                                fov_degrees, file_image_size=size)
    groups.append({"subject": subject, "action": action, "camera": int(camera),
                   "intrinsics": description})
    for frame in range(len(keypoints)):
      members.append({"group": len(groups) - 1, "frame": frame})
      wheres.append(f"{os.path.basename(path)}[{subject}][{action}][{camera}] frame {frame}")
    arrays.append(np.concatenate([keypoints.astype(np.float64),
                                  confidence[..., None].astype(np.float64)], axis=-1))
    rows.append(np.tile(np.asarray(value, np.float64), (len(keypoints), 1)))
  return _result(path, "videopose3d_npz", file_layout, f"{path} metadata layout_name",
                 SEQUENCES, groups, members, np.concatenate(arrays), np.concatenate(rows),
                 wheres)


def read_keypoints(path, layout=None, intrinsics=None, image=None, image_size=None,
                   fov_degrees=None, subjects=None, actions=None, cameras=None):
  """Reads 2D keypoints in any supported format (module doc) into the model's input.

  Args:
    path: a JSON file or a VideoPose3D `.npz`.
    layout: "coco17" or "h36m17", overriding the file's (default: the file's, else coco17).
    intrinsics: (fx, fy, cx, cy), "fx,fy,cx,cy", {"fx", ...} or {"K": 3x3}.
    image: the photo the keypoints come from; its size gives intrinsics with `fov_degrees`.
    image_size: "WxH" or (W, H), the same without the photo.
    fov_degrees: horizontal field of view assumed with an image size (default
      `intrinsics.DEFAULT_FOV_DEGREES`, focal length = image width).
    subjects, actions, cameras: npz only, lists selecting clips (default: all).

  Returns:
    dict with, for the N people that can be lifted (in file order):
      "keypoints_2d" `[N, 17, 2]` float32 normalised camera coordinates, H36M-17 order;
      "confidence" `[N, 17]`; "pixels" `[N, 17, 2]` (H36M-17 order; unseen joints on the
      pelvis); "intrinsics" `[N, 4]` (fx, fy, cx, cy);
    and for every person in the file:
      "groups": list of dicts, one per image ("image_id") or clip ("subject", "action",
        "camera"), each with its "intrinsics" and where they came from;
      "people": list of dicts {"group": index into groups, "index" (JSON) or "frame" (npz),
        "score"/"bbox"/"category_id" when the file has them, "row": index into the arrays
        or None, "skipped": why it cannot be lifted (only when row is None)};
    plus "group_by" ("images" or "sequences"), "layout", "layout_source", "source", "format".

  Raises:
    errors.DataError: one line naming the file and field: unreadable or malformed file, a
      non-numeric or ragged keypoint, a value not finite in float32, a wrong joint count,
      nobody with a visible pelvis, missing or nonsensical intrinsics.
  """
  path = os.fspath(path)
  if layout is not None and layout not in LAYOUTS:
    raise errors.DataError(f"--layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
  if path.lower().endswith(".npz"):
    return _read_npz(path, layout, intrinsics, image, image_size, fov_degrees, subjects,
                     actions, cameras)
  if subjects or actions or cameras:
    raise errors.DataError(f"{path}: --subject/--action/--camera select clips of a "
                           "VideoPose3D .npz, not of a JSON file")
  return _read_json(path, layout, intrinsics, image, image_size, fov_degrees)


def read_keypoints_json(path, layout=None, intrinsics=None, **kwargs):
  """`read_keypoints` for a JSON file (the older name, kept for callers)."""
  return read_keypoints(path, layout=layout, intrinsics=intrinsics, **kwargs)


# Predictions back in the file's grouping ----------------------------------------------------

def predictions_to_json(keypoints, outputs, digits=6):
  """The model's outputs for `read_keypoints`' people, grouped as the file grouped them.

  Args:
    keypoints: `read_keypoints`' result.
    outputs: dict output name -> `[N, ...]` values for its N liftable people.
    digits: rounding of the values written.

  Returns:
    A JSON-ready dict {"source", "format", "layout", "layout_source", "joint_names",
    "units", "frame", "images": [{"image_id", "intrinsics", "people": [{"index", "score",
    "bbox", "category_id", <outputs>...}]}]} (or "sequences": [{"subject", "action",
    "camera", "intrinsics", "frames": [{"frame", <outputs>...}]}] for an npz); people that
    cannot be lifted have "skipped" instead of outputs.

  Raises:
    errors.DataError: an output has the wrong batch size or non-finite values.
  """
  count = len(keypoints["keypoints_2d"])
  arrays = {}
  for name, value in outputs.items():
    array = np.asarray(value, np.float64)
    if array.ndim == 0 or len(array) != count:
      raise errors.DataError(f"model output {name!r}: expected {count} rows, got shape "
                             f"{array.shape}")
    if not np.all(np.isfinite(array)):
      row = int(np.argwhere(~np.isfinite(array.reshape(count, -1)))[0][0])
      raise errors.DataError(f"{keypoints['source']}: the model returned non-finite {name!r} "
                             f"for person {row}; nothing written")
    arrays[name] = np.round(array, digits)
  member_key = "people" if keypoints["group_by"] == IMAGES else "frames"
  groups = [dict(group, **{member_key: []}) for group in keypoints["groups"]]
  for member in keypoints["people"]:
    entry = {k: v for k, v in member.items() if k not in ("group", "row")}
    if member["row"] is not None:
      entry.update({name: array[member["row"]].tolist() for name, array in arrays.items()})
    groups[member["group"]][member_key].append(entry)
  return {"source": keypoints["source"], "format": keypoints["format"],
          "layout": keypoints["layout"], "layout_source": keypoints["layout_source"],
          "joint_names": list(skeleton.JOINTS), "units": "metres",
          "frame": "camera (x right, y down, z forward); joints_3d root-relative (pelvis at 0)",
          keypoints["group_by"]: groups}
