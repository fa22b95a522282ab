"""Export of the face tasks (`aign_tf.tasks.faces`): uint8 images in, uint8 and float images
out, so TF Serving's `serving_bytes` / `serving_png` signatures and the face demo apply.

faces_sr: `image` uint8 `[B, R/k, R/k, C]` -> `image` uint8 `[B, R, R, 3]` and `image_float`
float32 in [0, 1].
faces_inpaint: `image` uint8 `[B, R, R, 3]` and `mask` uint8 `[B, R, R, 1]` (white = hole)
-> `image` uint8 and `image_float` (the input with its hole filled) and `raw_float` (the
generator's whole image).
"""

import tensorflow as tf

from aign_tf.tasks import export_base
from aign_tf.tasks import faces


def _to_uint8(images):
  """float `[B, H, W, C]` in [0, 1] -> uint8 0-255 (rounded)."""
  return tf.cast(tf.round(images * 255.0), tf.uint8)


@export_base.register_export(faces.FaceSRTask)
class FaceSRExport(export_base.TaskExport):
  """A low-resolution face in, the super-resolved face out."""

  def input_signature(self):
    task = self.task
    side = task.resolution // task.scale
    return {"image": tf.TensorSpec([None, side, side, 1 if task.grayscale else 3], tf.uint8)}

  def serve(self, generator, inputs):
    output = generator(faces.to_float(inputs["image"]), training=False)
    output = tf.clip_by_value(output, 0.0, 1.0)
    return {"image": _to_uint8(output), "image_float": output}

  def image_inputs(self):
    return ("image",)

  def conventions(self):
    task = self.task
    channels = 1 if task.grayscale else 3
    side = task.resolution // task.scale
    return (f"Input: image uint8 [B, {side}, {side}, {channels}] "
            f"({'grey' if task.grayscale else 'RGB'}, 0-255), a face roughly aligned like "
            f"CelebA's crops. Outputs: image uint8 [B, {task.resolution}, {task.resolution}, "
            "3] RGB and image_float float32 in [0, 1], the super-resolved face; "
            f"{task.scale}x{task.scale} average pooling of the output reproduces the input.")


@export_base.register_export(faces.FaceInpaintTask)
class FaceInpaintExport(export_base.TaskExport):
  """A face and its hole mask in, the completed face out."""

  def input_signature(self):
    r = self.task.resolution
    return {"image": tf.TensorSpec([None, r, r, 3], tf.uint8),
            "mask": tf.TensorSpec([None, r, r, 1], tf.uint8)}

  def serve(self, generator, inputs):
    image = faces.to_float(inputs["image"])
    # white (>= 128) = hole; compared in float: TFLite has no uint8 Less kernel.
    visibility = tf.cast(tf.cast(inputs["mask"], tf.float32) < 128.0, tf.float32)
    observation, masked = faces.FaceInpaintTask.observe(image, visibility)
    output = tf.clip_by_value(generator(observation, training=False), 0.0, 1.0)
    completed = masked + output * (1.0 - visibility)
    return {"image": _to_uint8(completed), "image_float": completed, "raw_float": output}

  def image_inputs(self):
    return ("image", "mask")

  def conventions(self):
    r = self.task.resolution
    return (f"Inputs: image uint8 [B, {r}, {r}, 3] RGB face (aligned like CelebA's crops) and "
            f"mask uint8 [B, {r}, {r}, 1] with white (>= 128) = hole, black = visible. "
            f"Outputs: image uint8 [B, {r}, {r}, 3] and image_float float32 in [0, 1], the "
            "input with its hole filled (visible pixels unchanged); raw_float float32, the "
            "generator's whole image.")
