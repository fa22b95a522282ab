"""Pictures and scalars: PNG files in `model_dir/images/` and TensorBoard summaries."""

import io
import os

import numpy as np
import tensorflow as tf
from PIL import Image

from aign_tf.train import files


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


def write_png(path, image):
  """Writes an image atomically as PNG."""
  buffer = io.BytesIO()
  Image.fromarray(to_uint8(image)).save(buffer, format="PNG")
  files.atomic_write(path, buffer.getvalue())


def write_images(images, step, model_dir, writer=None):
  """Writes a dict name -> image as `images/<name>_<step>.png` and TensorBoard images.

  Returns:
    The list of PNG paths written.
  """
  paths = []
  for name, image in images.items():
    image = to_uint8(image)
    path = os.path.join(model_dir, "images", f"{name}_{step:07d}.png")
    write_png(path, image)
    paths.append(path)
    if writer is not None:
      with writer.as_default():
        tf.summary.image(name, image[None], step=step)
  return paths


def write_scalars(writer, scalars, step):
  with writer.as_default():
    for name, value in scalars.items():
      tf.summary.scalar(name, value, step=step)
  writer.flush()


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
