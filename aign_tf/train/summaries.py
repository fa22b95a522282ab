"""Pictures and scalars: PNG files in `model_dir/images/` and TensorBoard summaries."""

import os

import tensorflow as tf

from aign_tf.core import imaging


def write_images(images, step, model_dir, writer=None):
  """Writes a dict name -> image as `images/<name>_<step>.png` and TensorBoard images.

  Returns:
    The list of PNG paths written.
  """
  paths = []
  for name, image in images.items():
    image = imaging.to_uint8(image)
    path = os.path.join(model_dir, "images", f"{name}_{step:07d}.png")
    imaging.write_png(path, image)
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
