"""Reading the detectors' inputs: photos (EXIF orientation applied), videos, frame folders.

Photos and frame folders need only Pillow. Videos are decoded with PyAV (FFmpeg's libraries
in a wheel), the optional extra `video`: `pip install -e ".[video]"`.
"""

import os

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf.core import imaging

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def as_rgb(image, where="image"):
  """A `[H, W, 3]` uint8 RGB array from a PIL image or an array (grey, RGB or RGBA)."""
  if isinstance(image, Image.Image):
    image = np.asarray(image.convert("RGB"))
  image = np.asarray(image)
  if image.ndim == 2:
    image = np.repeat(image[..., None], 3, -1)
  if image.ndim != 3 or image.shape[-1] not in (3, 4) or min(image.shape[:2]) < 2:
    raise errors.DataError(f"{where}: expected an RGB image [H, W, 3], got shape {image.shape}")
  if image.dtype != np.uint8:
    raise errors.DataError(f"{where}: expected uint8 pixels, got {image.dtype}")
  return np.ascontiguousarray(image[..., :3])


def read_image(path):
  """A photo as `[H, W, 3]` uint8 RGB, turned upright by its EXIF orientation
  (`aign_tf.core.imaging.read_image`, the decoder every path uses).

  Raises:
    errors.DataError: the file is missing or not an image Pillow can read (names the file).
  """
  return as_rgb(imaging.read_image(path), path)


def frame_files(folder):
  """The image files of a folder, sorted by name.

  Raises:
    errors.DataError: the folder holds no image file.
  """
  names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES))
  if not names:
    raise errors.DataError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
  return [os.path.join(folder, n) for n in names]


def require_av():
  """The PyAV module, or a ConfigError naming the extra that installs it."""
  try:
    import av  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.ConfigError("reading videos needs PyAV: pip install -e \".[video]\" (or pip "
                             "install av); a folder of frames needs only Pillow") from e
  return av


def video_info(path):
  """(frames per second or None, number of frames or None) of a video, without decoding it."""
  av = require_av()
  try:
    with av.open(path) as container:
      stream = container.streams.video[0]
      fps = float(stream.average_rate) if stream.average_rate else None
      return fps, (stream.frames or None)
  except (av.error.FFmpegError, IndexError, OSError) as e:
    raise errors.DataError(f"{path}: cannot decode this video ({e})") from e


def upright(frame):
  """A decoded PyAV frame as `[H, W, 3]` uint8 RGB, turned as its display matrix asks (phone
  videos are often stored sideways with a rotation tag, like EXIF orientation in photos)."""
  array = frame.to_ndarray(format="rgb24")
  quarter_turns = round(getattr(frame, "rotation", 0) / 90) % 4  # Counter-clockwise.
  return np.ascontiguousarray(np.rot90(array, quarter_turns)) if quarter_turns else array


def iter_video(path, step=1, max_frames=None):
  """Yields (frame index, `[H, W, 3]` uint8 RGB) of a video's every `step`-th frame.

  Raises:
    errors.ConfigError: PyAV is not installed.
    errors.DataError: the file is missing, has no video stream or cannot be decoded.
  """
  av = require_av()
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: no such video file")
  count = 0
  try:
    with av.open(path) as container:
      if not container.streams.video:
        raise errors.DataError(f"{path}: has no video stream")
      for index, frame in enumerate(container.decode(video=0)):
        if index % step:
          continue
        yield index, upright(frame)
        count += 1
        if max_frames and count >= max_frames:
          return
  except av.error.FFmpegError as e:
    raise errors.DataError(f"{path}: cannot decode this video ({e})") from e
  if not count:
    raise errors.DataError(f"{path}: no video frames could be decoded")


def iter_frames(path, step=1, max_frames=None):
  """Yields (name, `[H, W, 3]` uint8 RGB) for a frame folder (names = file stems) or a video
  (names = `frame_000123`, the index in the video)."""
  if os.path.isdir(path):
    files = frame_files(path)[::step]
    for file in files[:max_frames] if max_frames else files:
      yield os.path.splitext(os.path.basename(file))[0], read_image(file)
  else:
    for index, frame in iter_video(path, step, max_frames):
      yield f"frame_{index:06d}", frame
