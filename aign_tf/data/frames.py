"""Frame pairs from plain image folders and videos, for unsupervised structure from motion.

Consecutive frames make pairs (target = frame i, source = frame i - 1, as
`kitti.load_kitti_raw`); there is no depth or egomotion. Frames are optionally centre-cropped to
the output aspect ratio, then resized to (height, width) bilinearly.

Intrinsics (f_x, f_y, c_x, c_y), in pixels with pixel centres at integers, come either
  - from `intrinsics`: values in the pixels of the ORIGINAL frames (a 4-sequence, or a path to
    a text file with the 4 values or the 9 values of K row-major), shifted by the crop
    (`crop_intrinsics`) and rescaled (`sfm.scale_intrinsics`); or
  - from `fov_degrees`, the horizontal field of view of the ORIGINAL frames, assuming square
    pixels (f_y = f_x), no skew and the principal point at the image centre
    ((W - 1) / 2, (H - 1) / 2): f_x = (W / 2) / tan(fov / 2) (`fov_intrinsics`). This is a
    guess: lens distortion is ignored and real principal points are often a few pixels off.
One of the two must be given.

Frames are read by `aign_tf.core.video`: a folder's image files in natural name order (frame2
before frame10), a video's frames decoded with PyAV (the optional extra `video`) and turned
upright by its rotation metadata.
"""

import math
import os

import numpy as np

from aign_tf import errors
from aign_tf.core import imaging
from aign_tf.core import video
from aign_tf.data import sfm as sfm_data

CROPS = (None, "center")


# Intrinsics ---------------------------------------------------------------------------------

def check_intrinsics(intrinsics, what="intrinsics"):
  """`intrinsics` as float64 `[4]`; all four values must be finite and > 0.

  Raises:
    errors.ConfigError: wrong count, or a value that is not finite or not positive (named).
  """
  try:
    values = np.asarray(intrinsics, np.float64).ravel()
  except (TypeError, ValueError) as e:
    raise errors.ConfigError(f"{what}: not numeric: {intrinsics!r}") from e
  if values.size != 4:
    raise errors.ConfigError(f"{what}: expected 4 values (f_x, f_y, c_x, c_y), got "
                             f"{values.size}")
  for name, value in zip(("f_x", "f_y", "c_x", "c_y"), values):
    if not math.isfinite(value) or value <= 0:
      raise errors.ConfigError(f"{what}: {name} = {value} must be finite and > 0")
  return values


def check_frame_intrinsics(intrinsics, size, what="intrinsics"):
  """Refuses intrinsics that make no sense for frames of `size` (h, w): a principal point
  outside the frame, or a horizontal field of view outside [1, 170] degrees."""
  fx, _, cx, cy = intrinsics
  height, width = size
  for name, value, limit in (("c_x", cx, width), ("c_y", cy, height)):
    if not 0.0 <= value <= limit - 1:
      raise errors.ConfigError(f"{what}: {name} = {value:g} lies outside the {width}x{height} "
                               f"frames (0 to {limit - 1})")
  fov = math.degrees(2.0 * math.atan(width / 2.0 / fx))
  if not 1.0 <= fov <= 170.0:
    raise errors.ConfigError(f"{what}: f_x = {fx:g} gives a horizontal field of view of "
                             f"{fov:.3g} degrees for {width}-pixel-wide frames (expected 1-170)")


def read_intrinsics_file(path):
  """A text file with (f_x, f_y, c_x, c_y) or the 9 values of K (row-major; commas or
  spaces) -> float64 `[4]`.

  Raises:
    errors.DataError: missing file, non-numeric text or another number of values.
  """
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: calibration (intrinsics) file not found")
  with open(path) as f:
    text = f.read().replace(",", " ").split()
  try:
    values = np.array([float(v) for v in text], np.float64)
  except ValueError as e:
    raise errors.DataError(f"{path}: intrinsics are not numeric") from e
  if values.size == 9:
    k = values.reshape(3, 3)
    values = np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]])
  elif values.size != 4:
    raise errors.DataError(f"{path}: expected 4 values (f_x f_y c_x c_y) or 9 (K), got "
                           f"{values.size}")
  return check_intrinsics(values, path)


def fov_intrinsics(height, width, fov_degrees):
  """(f_x, f_y, c_x, c_y) float64 of an ideal camera: square pixels, centred principal point,
  horizontal field of view `fov_degrees` (0 < fov < 180)."""
  if not (isinstance(fov_degrees, (int, float)) and 0.0 < fov_degrees < 180.0):
    raise errors.ConfigError(f"fov_degrees = {fov_degrees!r} must be in (0, 180)")
  focal = (width / 2.0) / math.tan(math.radians(fov_degrees) / 2.0)
  return np.array([focal, focal, (width - 1) / 2.0, (height - 1) / 2.0])


def crop_intrinsics(intrinsics, top, left):
  """Intrinsics of the crop whose first pixel is (row `top`, column `left`) of the image: the
  focal lengths stay, the principal point shifts by (-left, -top)."""
  fx, fy, cx, cy = np.asarray(intrinsics, np.float64)
  return np.array([fx, fy, cx - left, cy - top])


def center_crop_box(size, aspect):
  """(top, left, height, width) of the largest centred crop of an image of `size` (h, w)
  whose height / width is `aspect`."""
  height, width = size
  crop_h, crop_w = height, int(round(height / aspect))
  if crop_w > width:
    crop_h, crop_w = int(round(width * aspect)), width
  crop_h, crop_w = max(1, min(crop_h, height)), max(1, min(crop_w, width))
  return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


def _resolve_intrinsics(intrinsics, fov_degrees, size, where):
  """Intrinsics of the original frames of `size` (h, w)."""
  if intrinsics is not None and fov_degrees is not None:
    raise errors.ConfigError(f"{where}: give intrinsics or fov_degrees, not both")
  if intrinsics is None and fov_degrees is None:
    raise errors.ConfigError(f"{where}: missing calibration: give intrinsics (f_x, f_y, c_x, "
                             "c_y in pixels of the original frames, or a file) or the "
                             "horizontal field of view fov_degrees")
  if fov_degrees is not None:
    return fov_intrinsics(size[0], size[1], fov_degrees)
  if isinstance(intrinsics, (str, os.PathLike)):
    return read_intrinsics_file(os.fspath(intrinsics))
  return check_intrinsics(intrinsics)


def prepare_frames(frames, names, height, width, intrinsics=None, fov_degrees=None,
                   crop=None, where=""):
  """Frames of one sequence -> pairs dict (see `load_frame_folder`).

  Args:
    frames: list of uint8 `[H, W, 3]` frames, all of one size.
    names: a name per frame (for messages and the "name" output).
    height, width: output size.
    intrinsics, fov_degrees: calibration of the original frames (see the module docstring).
    crop: None (resize the whole frame) or "center" (centre crop to height / width first).
    where: the folder or video, for messages.
  """
  if crop not in CROPS:
    raise errors.ConfigError(f"{where}: crop must be one of {CROPS}, got {crop!r}")
  if len(frames) < 2:
    raise errors.DataError(f"{where}: needs at least 2 frames, found {len(frames)}")
  size = frames[0].shape[:2]
  for name, frame in zip(names, frames):
    if frame.shape[:2] != size:
      raise errors.DataError(f"{name}: frame is {frame.shape[1]}x{frame.shape[0]} but "
                             f"{names[0]} is {size[1]}x{size[0]}")
  calibration = _resolve_intrinsics(intrinsics, fov_degrees, size, where)
  if crop == "center":
    top, left, crop_h, crop_w = center_crop_box(size, height / width)
    frames = [f[top:top + crop_h, left:left + crop_w] for f in frames]
    calibration = crop_intrinsics(calibration, top, left)
    size = (crop_h, crop_w)
  scaled = sfm_data.scale_intrinsics(calibration, size, (height, width))
  frames = [sfm_data.resize_image(np.ascontiguousarray(f), height, width) for f in frames]
  count = len(frames) - 1
  return {"target_frame": np.stack(frames[1:]), "source_frame": np.stack(frames[:-1]),
          "intrinsics": np.tile(scaled[None], (count, 1)).astype(np.float32),
          "name": np.array(names[1:])}


def load_frame_folder(path, height=sfm_data.HEIGHT, width=sfm_data.WIDTH, intrinsics=None,
                      fov_degrees=None, crop=None, step=1, max_frames=None):
  """Consecutive pairs of the image files in a folder.

  Files with an extension in `video.IMAGE_SUFFIXES` are sorted by name with digit runs
  compared as numbers (frame2 before frame10, `video.frame_files`); every `step`-th file is
  used, at most `max_frames`.

  Returns:
    dict of "target_frame", "source_frame" uint8 `[N, height, width, 3]`, "intrinsics"
    float32 `[N, 4]` and "name" `[N]` (the target file), N = frames - 1.

  Raises:
    errors.DataError: missing folder, fewer than 2 frames, unreadable images, frames of
      different sizes, bad calibration file.
    errors.ConfigError: missing, conflicting or invalid calibration; bad `crop` or `step`.
  """
  if step < 1:
    raise errors.ConfigError(f"{path}: step must be >= 1, got {step}")
  paths = video.frame_files(path)[::step][:max_frames]
  if len(paths) < 2:
    raise errors.DataError(f"{path}: needs at least 2 image files, found {len(paths)}")
  frames = [imaging.read_image(p) for p in paths]
  return prepare_frames(frames, paths, height, width, intrinsics, fov_degrees, crop, path)


def load_video(path, height=sfm_data.HEIGHT, width=sfm_data.WIDTH, intrinsics=None,
               fov_degrees=None, crop=None, step=1, max_frames=None):
  """Consecutive pairs of a video's frames (every `step`-th, at most `max_frames`,
  `video.iter_video`); returns and raises as `load_frame_folder` ("name" =
  `<path>#<frame index>`), and errors.ConfigError without PyAV."""
  frames, names = [], []
  for index, frame in video.iter_video(path, step, max_frames):
    frames.append(frame)
    names.append(f"{path}#{index}")
  return prepare_frames(frames, names, height, width, intrinsics, fov_degrees, crop, path)


def load_frames(path, **kwargs):
  """`load_frame_folder` for a folder, `load_video` for a file."""
  if os.path.isdir(path):
    return load_frame_folder(path, **kwargs)
  return load_video(path, **kwargs)
