"""Image files in and out: one decoder for every reader, PNG writing and picture grids.

Every Python path that reads a photograph (face and sfm data, the face demo, frame folders)
calls `read_image`, so a 16-bit greyscale PNG, a palette PNG with transparency or a phone
photo with an EXIF rotation decodes the same way everywhere: to RGB uint8 `[H, W, 3]`, the
orientation applied, 16-bit values scaled (not clipped) to 8 bits. The pixel count is
checked from the header before any pixel is decoded.
"""

import io
import os

import numpy as np
from PIL import Image
from PIL import ImageOps
from PIL import UnidentifiedImageError

from aign_tf import errors
from aign_tf.core import files

# Larger images are refused before decoding (a 50-megapixel RGB image is 150 MB).
MAX_PIXELS = 50_000_000


def to_rgb8(image, path="image"):
  """Converts a PIL image of any common mode to an RGB uint8 array `[H, W, 3]`.

  16-bit and 32-bit integer greyscale is scaled by its range (65535 for 16-bit modes), float
  greyscale by 255 when it lies in [0, 1]; transparency is composited on white.

  Raises:
    errors.DataError: a mode PIL cannot convert, naming `path`.
  """
  mode = image.mode
  if mode in ("I;16", "I;16B", "I;16L", "I"):
    values = np.asarray(image, np.float64)
    top = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
    grey = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
    return np.stack([grey] * 3, axis=-1)
  if mode == "F":
    values = np.asarray(image, np.float64)
    grey = np.clip(np.round(values * (255.0 if values.max() <= 1.0 else 1.0)), 0, 255)
    return np.stack([grey.astype(np.uint8)] * 3, axis=-1)
  if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
  try:
    return np.asarray(image.convert("RGB"))
  except (ValueError, OSError) as e:
    raise errors.DataError(f"{path}: cannot convert image mode {mode!r} to RGB: {e}") from e


def read_image(path, max_pixels=MAX_PIXELS):
  """Reads an image file as RGB uint8 `[H, W, 3]`, EXIF orientation applied.

  Args:
    path: an image file PIL can read (PNG, JPEG, BMP, ...).
    max_pixels: images with more pixels are refused from their header, before decoding.

  Raises:
    errors.DataError: a missing, unreadable, empty or too large file, naming `path`.
  """
  if not os.path.isfile(path):
    raise errors.DataError(f"image not found: {path}")
  try:
    with Image.open(path) as image:
      width, height = image.size
      if width * height > max_pixels:
        raise errors.DataError(f"{path}: image too large ({width}x{height}; at most "
                               f"{max_pixels} pixels)")
      image.load()
      return to_rgb8(ImageOps.exif_transpose(image), path)
  except errors.DataError:
    raise
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
          Image.DecompressionBombError) as e:
    raise errors.DataError(f"{path}: cannot read image ({type(e).__name__}: {e})") from e


def psnr(reference, image, weights=None, max_value=1.0, min_mse=1e-10):
  """Per-example PSNR in dB `[B]` over all axes but the first (weighted over pixels if
  `weights`, broadcastable to the images, e.g. `[B, H, W, 1]`).

  The mean squared error is floored at `min_mse` (1e-10: 100 dB for images in [0, 1]);
  with `min_mse=0` identical images give inf.
  """
  reference = np.asarray(reference, np.float64)
  image = np.asarray(image, np.float64)
  error = np.square(reference - image)
  axes = tuple(range(1, error.ndim))
  if weights is None:
    mse = error.mean(axis=axes)
  else:
    weights = np.broadcast_to(np.asarray(weights, np.float64), error.shape)
    mse = (weights * error).sum(axis=axes) / np.maximum(weights.sum(axis=axes), 1e-12)
  with np.errstate(divide="ignore"):
    return 10.0 * np.log10(max_value ** 2 / np.maximum(mse, min_mse))


def to_uint8(image):
  """Float images in [0, 1] (or uint8) -> uint8 `[H, W, 3]`."""
  image = np.asarray(image)
  if image.dtype != np.uint8:
    image = np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
  if image.ndim == 2:
    image = np.stack([image] * 3, axis=-1)
  if image.shape[-1] == 1:
    image = np.concatenate([image] * 3, axis=-1)
  return image


def encode_png(image):
  """PNG bytes of an image (float in [0, 1] or uint8)."""
  buffer = io.BytesIO()
  Image.fromarray(to_uint8(image)).save(buffer, format="PNG")
  return buffer.getvalue()


def write_png(path, image):
  """Writes an image atomically as PNG."""
  files.atomic_write(path, encode_png(image))


def grid(rows, pad=2):
  """Tiles a list of rows (lists of `[H, W, 3]` images of one size) into one image."""
  rows = [[to_uint8(image) for image in row] for row in rows]
  height = max(image.shape[0] for row in rows for image in row)
  width = max(image.shape[1] for row in rows for image in row)
  columns = max(len(row) for row in rows)
  canvas = np.full((len(rows) * (height + pad) + pad, columns * (width + pad) + pad, 3), 255,
                   np.uint8)
  for r, row in enumerate(rows):
    for c, image in enumerate(row):
      y, x = pad + r * (height + pad), pad + c * (width + pad)
      canvas[y:y + image.shape[0], x:x + image.shape[1]] = image
  return canvas


# Colour maps -------------------------------------------------------------------------------

_COLOURS = np.array([[0.0, 0.0, 0.05], [0.3, 0.05, 0.45], [0.75, 0.15, 0.4],
                     [0.98, 0.55, 0.2], [1.0, 1.0, 0.7]])


def colour_map(values):
  """Maps `[H, W]` values in [0, 1] to `[H, W, 3]` colours (dark purple -> light yellow)."""
  values = np.clip(np.nan_to_num(np.asarray(values, np.float64)), 0.0, 1.0)
  position = values * (len(_COLOURS) - 1)
  low = np.minimum(np.floor(position).astype(int), len(_COLOURS) - 2)
  frac = (position - low)[..., None]
  return (1.0 - frac) * _COLOURS[low] + frac * _COLOURS[low + 1]


def depth_to_colour(depth):
  """Depth `[H, W]` or `[H, W, 1]` -> colours of disparity normalised per image (near =
  bright); pixels without depth (<= 0) are black."""
  depth = np.asarray(depth, np.float64).reshape(np.shape(depth)[:2])
  known = depth > 0  # Sparse ground truth (KITTI velodyne) has 0 where depth is unknown.
  if not known.any():
    return np.zeros(depth.shape + (3,))
  disparity = np.where(known, 1.0 / np.maximum(depth, 1e-6), 0.0)
  colours = colour_map(disparity / max(np.percentile(disparity[known], 99), 1e-12))
  return np.where(known[..., None], colours, 0.0)
