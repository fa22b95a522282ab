"""The detectors' images: photos (EXIF orientation applied) and arrays as RGB uint8.

Videos, frame folders and photos as sequences of frames are read by `aign_tf.core.video`,
the reader every path shares.
"""

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf.core import imaging


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
