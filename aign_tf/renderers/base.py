"""The renderer contract.

A renderer R is a fixed, differentiable map from the generator's latent factors y = G(x) back
to observation space. AIGN trains G so that R(G(x)) matches x (Tung et al. 2017, Eq. 1), so R
must have no trainable state: it is a `keras.layers.Layer` with `trainable=False` that refuses
to create weights.

Call convention: `renderer(prediction, context)`, where `prediction` is the generator output
(a tensor or a dict of tensors) and `context` a dict of extra batch tensors the renderer needs
(camera intrinsics, a source frame to warp, a visibility mask). It returns the rendered
observation, compared with the batch's `reconstruction_target` by the reconstruction loss,
or a `RenderOutput` when only part of the output is valid (e.g. pixels warped from outside
the source frame) or a trivial rendering is worth comparing against.
"""

import collections

import gin
import tensorflow as tf
import tf_keras as keras


class RenderOutput(collections.namedtuple("RenderOutput", ["rendered", "weights", "baseline"],
                                          defaults=(None, None))):
  """What a renderer returns when a bare observation is not enough.

  Fields:
    rendered: the rendered observation (compared with the batch's `reconstruction_target`).
    weights: optional validity, broadcastable to `rendered` (1 = valid); it multiplies the
      batch's `reconstruction_weights`.
    baseline: optional trivial rendering (e.g. the unwarped source frame), passed to the
      reconstruction loss as `baseline=`, which may then score each element by the better
      of the two (Monodepth2's auto-masking), so the loss never rewards imitating it.
  """


def soft_floor(values, floor, name="soft_floor"):
  """A depth safe to divide by: `values` above `floor`, floor^2 / (2 floor - v) below it.

  Unlike `tf.maximum(values, floor)`, which zeroes the gradient of every clamped value, the
  gradient stays positive (so a point near or behind the camera is pushed back in front) and
  is continuous at `floor` (value and slope 1 match); above `floor` values and gradients
  are exactly those of `values`, so results there do not change. Below `floor` the value
  lies in (0, floor] and never underflows; the lower branch sees min(values, floor) only,
  so its denominator is at least `floor` and no branch can overflow into a NaN gradient.

  Args:
    values: float tensor of any shape (e.g. depths `[A1, ..., An, 1]`).
    floor: positive Python float.
    name: op name scope.

  Returns:
    A tensor of the shape of `values`, everywhere > 0.
  """
  with tf.name_scope(name):
    values = tf.convert_to_tensor(values)
    floor = tf.cast(floor, values.dtype)
    below = tf.square(floor) / (2.0 * floor - tf.minimum(values, floor))
    return tf.where(values > floor, values, below)


class Renderer(keras.layers.Layer):
  """Base class of weightless renderers; subclasses implement `render`."""

  def __init__(self, name=None, **kwargs):
    kwargs["trainable"] = False
    # Renderers compute in float32 whatever the global policy (`train.mixed_precision`):
    # geometry and image warps need its precision, and they hold no matmuls to speed up.
    kwargs.setdefault("dtype", "float32")
    super().__init__(name=name, **kwargs)

  def add_weight(self, *args, **kwargs):  # pylint: disable=unused-argument
    raise TypeError(f"renderer {self.name!r} must be parameter-free: it may not create "
                    "weights")

  def call(self, prediction, context=None):
    return self.render(prediction, context or {})

  def render(self, prediction, context):
    raise NotImplementedError


@gin.configurable(module="renderers")
class IdentityRenderer(Renderer):
  """R(y) = y: the paired-only baseline's renderer and a test double."""

  def render(self, prediction, context):
    return prediction


@gin.configurable(module="renderers")
class AveragePooling1D(Renderer):
  """Averages non-overlapping groups of `factor` features: `[B, N * factor] -> [B, N]`.

  x_i = (1 / factor) * sum_k y_{factor * i + k}. Many y render to the same x, so the
  renderer alone cannot resolve y; the toy task uses it to show what the memory adds.
  """

  def __init__(self, factor=2, name=None, **kwargs):
    super().__init__(name=name, **kwargs)
    if factor < 1:
      raise ValueError(f"AveragePooling1D.factor must be >= 1, got {factor}")
    self.factor = int(factor)

  def render(self, prediction, context):
    y = tf.convert_to_tensor(prediction)
    if y.shape[-1] is not None and y.shape[-1] % self.factor:
      raise ValueError(f"AveragePooling1D: last axis {y.shape[-1]} is not divisible by "
                       f"factor {self.factor}")
    grouped = tf.reshape(y, tf.concat([tf.shape(y)[:-1], [-1, self.factor]], axis=0))
    return tf.reduce_mean(grouped, axis=-1)

  def get_config(self):
    return {**super().get_config(), "factor": self.factor}
