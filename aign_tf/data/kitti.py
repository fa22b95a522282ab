"""KITTI raw for depth evaluation: velodyne scans -> sparse depth maps, the Eigen test split.

Velodyne projection. A scan `<drive>/velodyne_points/data/<frame>.bin` holds float32 rows
(x, y, z, reflectance) in the laser frame. With the date folder's calibration,

  [u w, v w, w]^T = P_rect_0c @ R_rect_00 @ [R | T] @ [x, y, z, 1]^T

where [R | T] (`calib_velo_to_cam.txt`) maps laser points into the unrectified camera 0,
R_rect_00 (`calib_cam_to_cam.txt`, padded to 4x4) rectifies them and P_rect_0c (3x4) projects
into rectified camera c; w is the depth (z) of the point in camera c, and (u, v) its pixel
(column, row) with pixel centres at integers, as everywhere in `aign_tf.data.sfm`. Points with
w > 0 whose rounded pixel lies inside the image are kept; when several land on one pixel the
nearest wins; 0 marks pixels without depth. At another size (h', w') the continuous pixel
positions are rescaled, u' = (u + 0.5) w' / W - 0.5 (the mapping `sfm.scale_intrinsics` uses),
and rounded again: depth values are scattered, never interpolated.

Note: the Eigen-split evaluation code published with Monodepth/SfMLearner rounds and then
subtracts 1 from (u, v) (to match KITTI's MATLAB code); this module does not unless
`matlab_offset=True`, so by default its maps sit one pixel right of and below theirs.

Eigen split. `test_files_eigen.txt` lists one frame per line, either
`2011_09_26/2011_09_26_drive_0002_sync 0000000069 l` (drive, frame, l/r = camera 02/03) or
the older `2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png` (a second path
on the line, the right image, is ignored). Each test frame is the target; the frame before it
is the source.
"""

import glob
import os
import re

import numpy as np

from aign_tf import errors
from aign_tf.core import imaging
from aign_tf.data import sfm as sfm_data

# Crop of Garg et al. 2016 used by the Eigen-split evaluations (fractions of the image
# height and width: rows [top, bottom), columns [left, right)).
GARG_CROP = (0.40810811, 0.99189189, 0.03594771, 0.96405229)


# Calibration --------------------------------------------------------------------------------

def read_calib_file(path):
  """`key: values` lines of a KITTI calibration file -> dict of strings (values unparsed).

  Raises:
    errors.DataError: the file does not exist.
  """
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: KITTI calibration file not found")
  fields = {}
  with open(path) as f:
    for line in f:
      if ":" in line:
        key, value = line.split(":", 1)
        fields[key.strip()] = value.strip()
  return fields


def calib_values(fields, path, key, count):
  """The `count` floats of `key` in `fields` (from `read_calib_file(path)`), `[count]`.

  Raises:
    errors.DataError: missing key, non-numeric or wrong number of values (naming `path`).
  """
  if key not in fields:
    raise errors.DataError(f"{path}: no '{key}' line")
  try:
    values = np.array([float(v) for v in fields[key].split()], np.float64)
  except ValueError as e:
    raise errors.DataError(f"{path}: '{key}' is not numeric") from e
  if values.size != count:
    raise errors.DataError(f"{path}: '{key}' has {values.size} values, expected {count}")
  if not np.all(np.isfinite(values)):
    raise errors.DataError(f"{path}: '{key}' has non-finite values")
  return values


def read_velo_to_cam(path):
  """`calib_velo_to_cam.txt` (R: 9 values row-major, T: 3 values) -> `[4, 4]` laser to
  camera 0."""
  fields = read_calib_file(path)
  matrix = np.eye(4)
  matrix[:3, :3] = calib_values(fields, path, "R", 9).reshape(3, 3)
  matrix[:3, 3] = calib_values(fields, path, "T", 3)
  return matrix


def read_cam_to_cam(path, camera="02"):
  """`calib_cam_to_cam.txt` -> (R_rect_00 padded to `[4, 4]`, P_rect_<camera> `[3, 4]`,
  image size (height, width) from S_rect_<camera>)."""
  fields = read_calib_file(path)
  r_rect = np.eye(4)
  r_rect[:3, :3] = calib_values(fields, path, "R_rect_00", 9).reshape(3, 3)
  p_rect = calib_values(fields, path, f"P_rect_{camera}", 12).reshape(3, 4)
  width, height = calib_values(fields, path, f"S_rect_{camera}", 2)
  if width < 1 or height < 1:
    raise errors.DataError(f"{path}: 'S_rect_{camera}' gives image size {width}x{height}")
  return r_rect, p_rect, (int(round(height)), int(round(width)))


def read_kitti_calibration(path, camera="02"):
  """(f_x, f_y, c_x, c_y) `[4]` and image size (h, w) (None without `S_rect_<camera>`) from
  KITTI's `calib_cam_to_cam.txt`.

  Raises:
    errors.DataError: missing file, missing `P_rect_<camera>` or malformed values.
  """
  fields = read_calib_file(path)
  p = calib_values(fields, path, f"P_rect_{camera}", 12).reshape(3, 4)
  size = None
  if f"S_rect_{camera}" in fields:
    width, height = calib_values(fields, path, f"S_rect_{camera}", 2)
    size = (int(round(height)), int(round(width)))
  return np.array([p[0, 0], p[1, 1], p[0, 2], p[1, 2]], np.float32), size


# Raw drives -------------------------------------------------------------------------------

def load_kitti_raw(root, height=sfm_data.HEIGHT, width=sfm_data.WIDTH, camera="02", max_frames=None,
                   exclude_drives=()):
  """Consecutive-frame pairs from KITTI raw drives under `root`.

  Each drive's frames i (target) and i - 1 (source) make a pair; intrinsics come from the
  date folder's `calib_cam_to_cam.txt` and are scaled to (height, width). Drives whose folder
  name is in `exclude_drives` (e.g. `kitti.eigen_test_drives(...)`, so that training never
  sees a test drive) are skipped.

  Returns:
    dict as `sfm_data.generate_pairs` without "depth" and "egomotion", plus "drive" `[N]` names.

  Raises:
    errors.DataError: no drives, unreadable images or calibration, drives with < 2 frames.
  """
  drives = sorted(glob.glob(os.path.join(root, "*", "*_sync", f"image_{camera}", "data")))
  if not drives:
    raise errors.DataError(f"{root}: no KITTI raw drives (<date>/<drive>_sync/"
                           f"image_{camera}/data/*.png)")
  excluded = set(exclude_drives)
  drives = [d for d in drives
            if os.path.basename(os.path.dirname(os.path.dirname(d))) not in excluded]
  if not drives:
    raise errors.DataError(f"{root}: every KITTI raw drive is excluded (test drives)")
  out = {"target_frame": [], "source_frame": [], "intrinsics": [], "drive": []}
  for data_dir in drives:
    drive_dir = os.path.dirname(os.path.dirname(data_dir))
    date_dir = os.path.dirname(drive_dir)
    calib, size = read_kitti_calibration(os.path.join(date_dir, "calib_cam_to_cam.txt"),
                                         camera)
    paths = sorted(glob.glob(os.path.join(data_dir, "*.png")))
    if max_frames:
      paths = paths[:max_frames]
    if len(paths) < 2:
      raise errors.DataError(f"{data_dir}: needs at least 2 frames, found {len(paths)}")
    frames = []
    for path in paths:
      image = imaging.read_image(path)
      if size is not None and image.shape[:2] != size:
        raise errors.DataError(f"{path}: image is {image.shape[1]}x{image.shape[0]} but "
                               f"S_rect_{camera} says {size[1]}x{size[0]}")
      frames.append(image)
    intrinsics = sfm_data.scale_intrinsics(calib, frames[0].shape[:2], (height, width))
    frames = [sfm_data.resize_image(f, height, width) for f in frames]
    for i in range(1, len(frames)):
      out["target_frame"].append(frames[i])
      out["source_frame"].append(frames[i - 1])
      out["intrinsics"].append(intrinsics)
      out["drive"].append(os.path.basename(drive_dir))
  return {k: np.stack(v) if k != "drive" else np.array(v) for k, v in out.items()}


# Velodyne -> depth ------------------------------------------------------------------------

def read_velodyne(path):
  """A KITTI velodyne `.bin` -> `[N, 4]` float32 (x, y, z, reflectance).

  Raises:
    errors.DataError: missing file or a size that is not a multiple of 16 bytes.
  """
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: velodyne scan not found")
  size = os.path.getsize(path)
  if size % 16:
    raise errors.DataError(f"{path}: {size} bytes is not a multiple of 16 (float32 x, y, z, "
                           "reflectance per point)")
  return np.fromfile(path, dtype="<f4").reshape(-1, 4)


def project_velodyne(points, velo_to_cam, r_rect, p_rect):
  """Laser points `[N, 3+]` -> pixel columns u `[N]`, rows v `[N]`, depths w `[N]` in the
  rectified camera (see the module docstring; u, v are NaN where w <= 0)."""
  points = np.asarray(points, np.float64)[:, :3]
  homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
  projected = homogeneous @ (p_rect @ r_rect @ velo_to_cam).T
  depth = projected[:, 2]
  safe = np.where(depth > 0, depth, np.nan)
  return projected[:, 0] / safe, projected[:, 1] / safe, depth


def scatter_depth(u, v, depth, height, width):
  """Sparse `[height, width]` float32 depth: each point with depth > 0 goes to the pixel
  (round(v), round(u)) if inside; the nearest point wins; 0 = no depth."""
  u, v, depth = (np.asarray(a, np.float64).ravel() for a in (u, v, depth))
  keep = np.isfinite(u) & np.isfinite(v) & np.isfinite(depth) & (depth > 0)
  cols = np.round(np.where(keep, u, -1)).astype(np.int64)
  rows = np.round(np.where(keep, v, -1)).astype(np.int64)
  keep &= (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
  cols, rows, depth = cols[keep], rows[keep], depth[keep]
  # Write far points first so that nearer ones overwrite them.
  order = np.argsort(-depth, kind="stable")
  out = np.zeros((height, width), np.float32)
  out[rows[order], cols[order]] = depth[order]
  return out


def _rescale_pixels(u, v, from_size, to_size):
  (h, w), (h2, w2) = from_size, to_size
  return (u + 0.5) * (w2 / w) - 0.5, (v + 0.5) * (h2 / h) - 0.5


def resize_sparse_depth(depth, height, width):
  """Rescatters the non-zero pixels of a sparse `[H, W]` depth map into `[height, width]`
  (pixel positions scaled, nearest point wins; no interpolation)."""
  depth = np.asarray(depth)
  rows, cols = np.nonzero(depth > 0)
  u, v = _rescale_pixels(cols.astype(np.float64), rows.astype(np.float64), depth.shape,
                         (height, width))
  return scatter_depth(u, v, depth[rows, cols], height, width)


def velodyne_depth(velodyne_path, calib_dir, camera="02", size=None, matlab_offset=False):
  """Sparse depth `[H, W]` float32 of camera `camera` from one velodyne scan.

  Args:
    velodyne_path: the scan (`.bin`).
    calib_dir: the date folder holding `calib_velo_to_cam.txt` and `calib_cam_to_cam.txt`.
    camera: "02" (left colour) or "03" (right colour).
    size: (H, W) of the output; None = the calibrated image size S_rect_<camera>.
    matlab_offset: shift pixels by (-1, -1) at the calibrated size, as the published Eigen
      evaluation code does (see the module docstring).

  Raises:
    errors.DataError: missing or malformed calibration or scan (naming the file).
  """
  velo_to_cam = read_velo_to_cam(os.path.join(calib_dir, "calib_velo_to_cam.txt"))
  r_rect, p_rect, image_size = read_cam_to_cam(os.path.join(calib_dir, "calib_cam_to_cam.txt"),
                                               camera)
  u, v, depth = project_velodyne(read_velodyne(velodyne_path), velo_to_cam, r_rect, p_rect)
  if matlab_offset:
    u, v = u - 1.0, v - 1.0
  # Points are kept where their rounded pixel is inside the calibrated image, also when the
  # map is produced at another size.
  inside = ((np.round(u) >= 0) & (np.round(u) < image_size[1]) & (np.round(v) >= 0)
            & (np.round(v) < image_size[0]))
  depth = np.where(inside, depth, 0.0)
  if size is not None and tuple(size) != image_size:
    u, v = _rescale_pixels(u, v, image_size, size)
  else:
    size = image_size
  return scatter_depth(u, v, depth, size[0], size[1])


def garg_crop_mask(height, width):
  """`[height, width]` bool: True inside the Garg et al. crop of the Eigen evaluation."""
  top, bottom, left, right = GARG_CROP
  mask = np.zeros((height, width), bool)
  mask[int(top * height):int(bottom * height), int(left * width):int(right * width)] = True
  return mask


# The Eigen split --------------------------------------------------------------------------

_FRAME_PATH = re.compile(r"^(?P<drive>[^/]+/[^/]+)/image_(?P<camera>0[23])/data/"
                         r"(?P<frame>\d+)\.(png|jpg)$")


def read_eigen_list(path):
  """A `test_files_eigen.txt`-style list -> list of (drive, frame, camera, line number).

  `drive` is `<date>/<date>_drive_<n>_sync`, `frame` an int, `camera` "02" or "03".

  Raises:
    errors.DataError: missing file, no entries, or a line in neither format (naming line).
  """
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: Eigen split list not found")
  entries = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
      tokens = line.split()
      if not tokens or tokens[0].startswith("#"):
        continue
      if len(tokens) == 3 and tokens[1].isdigit() and tokens[2] in ("l", "r"):
        entries.append((tokens[0].strip("/"), int(tokens[1]),
                        "02" if tokens[2] == "l" else "03", number))
        continue
      match = _FRAME_PATH.match(tokens[0].replace("\\", "/")) if len(tokens) <= 2 else None
      if match is None:
        raise errors.DataError(
            f"{path}:{number}: expected '<date>/<drive>_sync <frame> l|r' or "
            f"'<date>/<drive>_sync/image_0X/data/<frame>.png', got {line.strip()!r}")
      entries.append((match["drive"], int(match["frame"]), match["camera"], number))
  if not entries:
    raise errors.DataError(f"{path}: no entries")
  return entries


def eigen_test_drives(path):
  """The drive folder names (`<date>_drive_<n>_sync`) an Eigen list uses, a set."""
  return {os.path.basename(drive) for drive, _, _, _ in read_eigen_list(path)}


def _frame_image(root, drive, camera, frame):
  stem = os.path.join(root, drive, f"image_{camera}", "data", f"{frame:010d}")
  return next((stem + ext for ext in (".png", ".jpg") if os.path.isfile(stem + ext)), None)


def load_eigen_test(root, list_path, height=sfm_data.HEIGHT, width=sfm_data.WIDTH,
                    max_depth=80.0, crop=True, matlab_offset=False):
  """Eigen test frames with their previous frames, intrinsics and velodyne depth.

  Args:
    root: the KITTI raw root (`<root>/<date>/<drive>_sync/...`, calibration files in
      `<root>/<date>/`).
    list_path: the Eigen list (see `read_eigen_list`).
    height, width: output size of frames and depth maps.
    max_depth: depth beyond this (metres) is set to 0 (= not evaluated); None keeps all.
    crop: zero the depth outside the Garg crop (`garg_crop_mask`), as the usual protocol does.
    matlab_offset: see `velodyne_depth`.

  Returns:
    dict of "target_frame", "source_frame" uint8 `[N, height, width, 3]`, "intrinsics"
    float32 `[N, 4]` scaled to (height, width), "depth" float32 `[N, height, width, 1]`
    sparse (0 = unknown), "drive" `[N]` and "frame" `[N]` int.

  Raises:
    errors.DataError: a listed frame that is frame 0 or lacks its previous frame (naming the
      list file and line), missing images, scans or calibration.
  """
  out = {"target_frame": [], "source_frame": [], "intrinsics": [], "depth": [], "drive": [],
         "frame": []}
  mask = garg_crop_mask(height, width) if crop else None
  for drive, frame, camera, number in read_eigen_list(list_path):
    where = f"{list_path}:{number}"
    target_path = _frame_image(root, drive, camera, frame)
    if target_path is None:
      raise errors.DataError(f"{where}: frame image {drive}/image_{camera}/data/"
                             f"{frame:010d}.png not found under {root}")
    if frame == 0:
      raise errors.DataError(f"{where}: frame 0 of {drive} has no previous frame for a source")
    source_path = _frame_image(root, drive, camera, frame - 1)
    if source_path is None:
      raise errors.DataError(f"{where}: previous frame {frame - 1:010d} of {drive} not found "
                             "(needed as the source)")
    calib_dir = os.path.dirname(os.path.join(root, drive))
    intrinsics, size = read_kitti_calibration(
        os.path.join(calib_dir, "calib_cam_to_cam.txt"), camera)
    target, source = imaging.read_image(target_path), imaging.read_image(source_path)
    for path, image in ((target_path, target), (source_path, source)):
      if size is not None and image.shape[:2] != size:
        raise errors.DataError(f"{path}: image is {image.shape[1]}x{image.shape[0]} but "
                               f"S_rect_{camera} says {size[1]}x{size[0]}")
    depth = velodyne_depth(
        os.path.join(root, drive, "velodyne_points", "data", f"{frame:010d}.bin"), calib_dir,
        camera, (height, width), matlab_offset)
    if max_depth is not None:
      depth[depth > max_depth] = 0.0
    if mask is not None:
      depth[~mask] = 0.0
    out["target_frame"].append(sfm_data.resize_image(target, height, width))
    out["source_frame"].append(sfm_data.resize_image(source, height, width))
    out["intrinsics"].append(sfm_data.scale_intrinsics(intrinsics, target.shape[:2],
                                                       (height, width)))
    out["depth"].append(depth[..., None])
    out["drive"].append(os.path.basename(drive))
    out["frame"].append(frame)
  return {k: np.array(v) if k in ("drive", "frame") else np.stack(v) for k, v in out.items()}
