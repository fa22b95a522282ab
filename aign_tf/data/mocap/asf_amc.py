"""CMU Acclaim skeleton (.asf) and motion (.amc) files: parsing and forward kinematics.

ASF: `:units` (length multiplier, angle "deg"/"rad"), `:root` (order of the root's AMC
values, e.g. "TX TY TZ RX RY RZ", its axis order, position and orientation), `:bonedata`
(per bone: name, unit direction, length, `axis ax ay az XYZ` giving the bone's local frame C,
and `dof` listing its AMC channels among rx ry rz), `:hierarchy` (parent child... lines).
AMC: optional header lines, then for each frame its number and one line per bone:
`name v1 v2 ...` with one value per dof.

FK (Acclaim convention): for a bone with local frame C and AMC rotation M (built from its dof
values in X, Y, Z composition order "ZYX", i.e. M = Rz Ry Rx),
  L = C M C^-1,  G = G_parent L,  end = start + length * scale * G d,
where d is the bone direction. Bone positions are their *end* points, named by bone; the root
position is "root". Lengths are converted to metres with `length_scale` (CMU files use
`:units length 0.45`, where 1 file unit = 1 / 0.45 inch).
"""

import os

import numpy as np

from aign_tf import errors
from aign_tf.core import skeleton
from aign_tf.data.mocap import kinematics


def _read(path, kind):
  try:
    with open(path) as f:
      return f.read().splitlines()
  except OSError as e:
    raise errors.DataError(f"{path}: cannot read {kind} file ({e.strerror})") from e
  except UnicodeDecodeError as e:
    raise errors.DataError(f"{path}: not a text {kind} file (undecodable byte at offset "
                           f"{e.start})") from e


def _floats(values, where, what, size=None):
  """`values` (strings) as a float64 array; DataError naming `where` and `what` unless there
  are `size` (if given) finite numbers ("nan" and "inf" parse as floats: checked here)."""
  if size is not None and len(values) < size:
    raise errors.DataError(f"{where}: {what} needs {size} numbers, got {values}")
  values = values if size is None else values[:size]
  try:
    array = np.asarray(values, np.float64)
  except ValueError as e:
    raise errors.DataError(f"{where}: non-numeric {what}: {' '.join(values)}") from e
  if not np.all(np.isfinite(array)):
    raise errors.DataError(f"{where}: non-finite {what}: {' '.join(values)}")
  return array


def parse_asf(path):
  """Returns a dict with "bones" (name -> dict), "hierarchy" (child -> parent), "root",
  "length_unit" and "degrees"."""
  lines = [line.split("#")[0].strip() for line in _read(path, "ASF")]
  sections, current = {}, None
  for line in lines:
    if not line:
      continue
    if line.startswith(":"):
      parts = line.split(None, 1)
      current = parts[0][1:]
      sections[current] = [parts[1]] if len(parts) > 1 else []
    elif current is not None:
      sections[current].append(line)
  for required in ("root", "bonedata", "hierarchy"):
    if required not in sections:
      raise errors.DataError(f"{path}: missing :{required} section")
  length_unit, degrees = 1.0, True
  for line in sections.get("units", []):
    key, _, value = line.partition(" ")
    if key == "length":
      length_unit = _floats(value.split(), path, ":units length", 1)[0]
    elif key == "angle":
      degrees = value.strip().startswith("deg")
  root = {"order": ["TX", "TY", "TZ", "RX", "RY", "RZ"], "axis": "XYZ",
          "position": np.zeros(3), "orientation": np.zeros(3)}
  for line in sections["root"]:
    key, *values = line.split()
    if key == "order":
      root["order"] = [v.upper() for v in values]
    elif key == "axis":
      root["axis"] = values[0].upper()
    elif key in ("position", "orientation"):
      root[key] = _floats(values, path, f":root {key}", 3)
  bones, bone = {}, None
  for line in sections["bonedata"]:
    key, *values = line.split()
    if key == "begin":
      bone = {"direction": None, "length": None, "axis": np.zeros(3), "axis_order": "XYZ",
              "dof": []}
    elif key == "end":
      if bone is None or "name" not in bone:
        raise errors.DataError(f"{path}: a :bonedata entry has no name")
      for field in ("direction", "length"):
        if bone[field] is None:
          raise errors.DataError(f"{path}: bone {bone['name']!r} has no {field}")
      bones[bone["name"]] = bone
      bone = None
    elif bone is None:
      continue
    elif key == "name":
      bone["name"] = values[0]
    elif key == "direction":
      bone["direction"] = _floats(values, path, f"direction of bone {bone.get('name')!r}", 3)
    elif key == "length":
      bone["length"] = _floats(values, path, f"length of bone {bone.get('name')!r}", 1)[0]
    elif key == "axis":
      bone["axis"] = _floats(values, path, f"axis of bone {bone.get('name')!r}", 3)
      bone["axis_order"] = values[3].upper() if len(values) > 3 else "XYZ"
    elif key == "dof":
      bone["dof"] = [v.lower() for v in values]
  hierarchy = {}
  for line in sections["hierarchy"]:
    names = line.split()
    if not names or names[0] in ("begin", "end"):
      continue
    for child in names[1:]:
      if child not in bones:
        raise errors.DataError(f"{path}: :hierarchy names unknown bone {child!r}")
      hierarchy[child] = names[0]
  return {"bones": bones, "hierarchy": hierarchy, "root": root,
          "length_unit": length_unit, "degrees": degrees}


def parse_amc(path):
  """Returns a list of frames, each a dict bone name -> values."""
  frames, frame, label = [], None, None
  for number, line in enumerate(_read(path, "AMC"), 1):
    line = line.strip()
    if not line or line.startswith("#") or line.startswith(":"):
      continue
    parts = line.split()
    if len(parts) == 1 and parts[0].isdigit():
      frame, label = {}, parts[0]
      frames.append(frame)
      continue
    if frame is None:
      raise errors.DataError(f"{path}:{number}: bone values before the first frame number")
    frame[parts[0]] = _floats(parts[1:], f"{path}:{number}",
                              f"value for {parts[0]!r} in frame {label}")
  if not frames:
    raise errors.DataError(f"{path}: no frames")
  return frames


def _order_matrix(angles, axis_order):
  """Angles `[..., 3]` about x, y, z; `axis_order` "XYZ" applies X first: R = Rz Ry Rx."""
  angles = np.asarray(angles, np.float64)
  reversed_order = axis_order[::-1]
  columns = ["XYZ".index(axis) for axis in reversed_order]
  return kinematics.euler_matrix(angles[..., columns], reversed_order)


def forward_kinematics(asf, frames, length_scale=None, where="AMC"):
  """Bone end positions: dict name -> `[T, 3]` in metres (file axes), plus "root"."""
  bones, hierarchy, root = asf["bones"], asf["hierarchy"], asf["root"]
  if length_scale is None:
    length_scale = 0.0254 / asf["length_unit"]
  to_rad = np.radians if asf["degrees"] else np.asarray
  num = len(frames)

  # The root: translation and rotation from its AMC values in the declared order.
  values = np.zeros((num, 6))
  for t, frame in enumerate(frames):
    if "root" not in frame:
      raise errors.DataError(f"{where}: frame {t} has no root values")
    if len(frame["root"]) != len(root["order"]):
      raise errors.DataError(f"{where}: frame {t}: root has {len(frame['root'])} values, "
                             f"the ASF order {root['order']} needs {len(root['order'])}")
    for k, channel in enumerate(root["order"]):
      values[t, ["TX", "TY", "TZ", "RX", "RY", "RZ"].index(channel)] = frame["root"][k]
  c_root = _order_matrix(to_rad(root["orientation"]), root["axis"])
  m_root = _order_matrix(to_rad(values[:, 3:]), root["axis"])
  global_rot = {"root": c_root @ m_root @ c_root.T}
  positions = {"root": values[:, :3] * length_scale}

  # Bones in hierarchy order (parents first).
  order, pending = [], dict(hierarchy)
  while pending:
    ready = [c for c, p in pending.items() if p == "root" or p in order]
    if not ready:
      raise errors.DataError(f"{where}: ASF hierarchy has bones not connected to root: "
                             f"{sorted(pending)}")
    for c in ready:
      order.append(c)
      del pending[c]
  for name in order:
    bone = bones[name]
    parent = hierarchy[name]
    dof_values = np.zeros((num, 3))
    for t, frame in enumerate(frames):
      if bone["dof"]:
        if name not in frame:
          raise errors.DataError(f"{where}: frame {t} has no values for bone {name!r} "
                                 "(does the AMC match the ASF?)")
        if len(frame[name]) != len(bone["dof"]):
          raise errors.DataError(f"{where}: frame {t}: bone {name!r} has "
                                 f"{len(frame[name])} values, its ASF dof {bone['dof']} "
                                 f"needs {len(bone['dof'])}")
        for k, dof in enumerate(bone["dof"]):
          if dof in ("rx", "ry", "rz"):
            dof_values[t, "xyz".index(dof[1])] = frame[name][k]
    c = _order_matrix(to_rad(bone["axis"]), bone["axis_order"])
    m = _order_matrix(to_rad(dof_values), "XYZ")
    global_rot[name] = global_rot[parent] @ (c @ m @ c.T)
    direction = bone["direction"] / max(np.linalg.norm(bone["direction"]), 1e-12)
    positions[name] = positions[parent] + np.einsum(
        "tij,j->ti", global_rot[name], direction * bone["length"] * length_scale)
  unknown = sorted({n for frame in frames for n in frame} - set(bones) - {"root"})
  if unknown:
    raise errors.DataError(f"{where}: AMC names bones {unknown} that the ASF does not define "
                           "(does the AMC match the ASF?)")
  return positions


def load_asf_amc(asf_path, amc_path, length_scale=None, up_axis="y"):
  """Reads an ASF/AMC pair as 17-joint poses `[T, 17, 3]` (metres, y up)."""
  asf = parse_asf(asf_path)
  frames = parse_amc(amc_path)
  where = f"{os.path.basename(amc_path)} (with {os.path.basename(asf_path)})"
  positions = forward_kinematics(asf, frames, length_scale, where)
  positions = {k: skeleton.up_axis_to_y(v, up_axis) for k, v in positions.items()}
  return skeleton.map_named(positions, "cmu_asf", where=where)
