"""The super-resolution renderer: k x k average pooling (Tung et al. 2017, Sec. 4.3).

A high-resolution image y `[B, k H, k W, C]` renders to the low-resolution image

  x[b, i, j, c] = (1 / k^2) * sum_{u, v < k} y[b, k i + u, k j + v, c],

so every high-resolution image whose k x k block means match x renders to x: what lies
inside a block (texture, the exact shape of lips or eyes) is left to the discriminator's
memory. With `grayscale=True` the colours are first mixed to luma,
Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601), and then pooled, giving `[B, H, W, 1]`:
colour then becomes unobserved as well.

The renderer is linear and parameter-free; a box-upsampled image (each pixel repeated k x k
times) renders back to itself exactly.
"""

import gin
import tensorflow as tf

from aign_tf.renderers import base

LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def average_pool(images, factor, name="average_pool"):
  """Mean over non-overlapping `factor x factor` blocks.

  Args:
    images: `[A1, ..., An, H, W, C]` float tensor with H and W divisible by `factor`.
    factor: integer block size k >= 1.
    name: op name scope.

  Returns:
    `[A1, ..., An, H / k, W / k, C]`.

  Raises:
    ValueError: the static height or width is not divisible by `factor`.
  """
  with tf.name_scope(name):
    images = tf.convert_to_tensor(images)
    factor = int(factor)
    if factor < 1:
      raise ValueError(f"average_pool: factor must be >= 1, got {factor}")
    if images.shape.rank is not None and images.shape.rank < 3:
      raise ValueError(f"average_pool: images must be [..., H, W, C], got {images.shape}")
    for axis, label in ((-3, "height"), (-2, "width")):
      size = images.shape[axis] if images.shape.rank is not None else None
      if size is not None and size % factor:
        raise ValueError(f"average_pool: image {label} {size} is not divisible by the "
                         f"scale factor {factor}")
    if factor == 1:
      return images
    shape = tf.shape(images)
    batch_shape, height, width, channels = shape[:-3], shape[-3], shape[-2], shape[-1]
    blocks = tf.reshape(images, tf.concat(
        [batch_shape, [height // factor, factor, width // factor, factor, channels]], 0))
    return tf.reduce_mean(blocks, axis=[-4, -2])


def to_grayscale(images, name="to_grayscale"):
  """RGB `[..., 3]` -> luma `[..., 1]` with BT.601 weights."""
  with tf.name_scope(name):
    images = tf.convert_to_tensor(images)
    if images.shape[-1] is not None and images.shape[-1] != 3:
      raise ValueError(f"to_grayscale: images must have 3 channels, got {images.shape}")
    weights = tf.constant(LUMA_WEIGHTS, images.dtype)
    return tf.reduce_sum(images * weights, axis=-1, keepdims=True)


def box_upsample(images, factor):
  """Repeats each pixel `factor x factor` times: `[..., H, W, C] -> [..., kH, kW, C]`."""
  images = tf.convert_to_tensor(images)
  images = tf.repeat(images, factor, axis=-3)
  return tf.repeat(images, factor, axis=-2)


@gin.configurable(module="renderers")
class Downsample(base.Renderer):
  """k x k average pooling (optionally of the luma): `[B, kH, kW, 3] -> [B, H, W, C]`.

  Input: the generator's high-resolution image (any value range; the face tasks use [0, 1]).
  Output: its block means, C = 3, or C = 1 with `grayscale=True`. `context` is unused.
  """

  def __init__(self, factor=4, grayscale=False, name=None, **kwargs):
    super().__init__(name=name, **kwargs)
    if int(factor) < 1:
      raise ValueError(f"renderers.Downsample.factor must be >= 1, got {factor}")
    self.factor = int(factor)
    self.grayscale = bool(grayscale)

  def render(self, prediction, context):
    images = tf.convert_to_tensor(prediction)
    if self.grayscale:
      images = to_grayscale(images)
    return average_pool(images, self.factor)

  def get_config(self):
    return {**super().get_config(), "factor": self.factor, "grayscale": self.grayscale}
