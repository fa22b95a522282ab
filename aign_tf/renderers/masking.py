"""The inpainting renderer: multiply by the visibility mask (Tung et al. 2017, Sec. 4.3).

A completed image y `[B, H, W, C]` renders to what the camera saw,

  x = m * y,   m in {0, 1} `[B, H, W, 1]` (1 = visible, 0 = hole),

so any content inside the hole renders to the same x; the discriminator's memory decides
what goes there. The renderer also returns m as the validity weight of the reconstruction
loss, so the L2 term averages over visible pixels only (a hole of any size leaves the
per-pixel scale of the loss unchanged).

The mask comes from the batch context under `VISIBILITY` (`aign_tf.data.masks` builds
masks; user mask PNGs use white = hole, converted to m = 0 there).
"""

import gin
import tensorflow as tf

from aign_tf.renderers import base

VISIBILITY = "visibility"


def apply_mask(images, visibility, name="apply_mask"):
  """Returns `images * visibility`, broadcasting a `[..., H, W, 1]` mask over channels.

  Args:
    images: `[A1, ..., An, H, W, C]` float tensor.
    visibility: `[A1, ..., An, H, W, 1]` or `[..., H, W, C]`, 1 = visible, 0 = hole.
    name: op name scope.

  Raises:
    ValueError: the spatial shapes differ.
  """
  with tf.name_scope(name):
    images = tf.convert_to_tensor(images)
    visibility = tf.cast(tf.convert_to_tensor(visibility), images.dtype)
    if (images.shape.rank is not None and visibility.shape.rank is not None and
        not images.shape[:-1].is_compatible_with(visibility.shape[:-1])):
      raise ValueError(f"apply_mask: mask shape {visibility.shape} does not match image "
                       f"shape {images.shape}")
    return images * visibility


@gin.configurable(module="renderers")
class Masking(base.Renderer):
  """x = m * y with m = `context["visibility"]`; returns `{"rendered": x, "weights": m}`.

  Input: the generator's completed image `[B, H, W, C]`; context `visibility`
  `[B, H, W, 1]` float (1 = visible). Output: the masked image and the mask as weights.
  """

  def render(self, prediction, context):
    if VISIBILITY not in context:
      raise ValueError(f"renderers.Masking needs context[{VISIBILITY!r}] (the visibility "
                       f"mask); the batch context has {sorted(context)}")
    visibility = tf.convert_to_tensor(context[VISIBILITY])
    images = tf.convert_to_tensor(prediction)
    return base.RenderOutput(apply_mask(images, visibility),
                             weights=tf.cast(visibility, images.dtype))
