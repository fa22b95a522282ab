"""Reconstruction and supervised losses: `loss(target, prediction, weights=None) -> [B]`.

`weights` (optional) broadcasts against the element-wise error: a visibility mask for
inpainting, per-joint confidences for pose, a validity mask for view synthesis. With weights
the loss is the weighted mean sum(w * e) / max(sum(w), eps) per example, so examples with
few visible elements are not down-weighted.
"""

import gin
import tensorflow as tf

_EPS = 1e-8


def _reduce(error, weights):
  """Weighted per-example mean of an element-wise error `[B, ...]` -> `[B]`."""
  axes = tf.range(1, tf.rank(error))
  if weights is None:
    return tf.reduce_mean(error, axis=axes)
  weights = tf.cast(tf.convert_to_tensor(weights), error.dtype)
  weights = tf.broadcast_to(weights, tf.shape(error))
  return (tf.reduce_sum(weights * error, axis=axes) /
          tf.maximum(tf.reduce_sum(weights, axis=axes), _EPS))


def _check_shapes(target, prediction):
  if (target.shape.rank is not None and prediction.shape.rank is not None and
      not target.shape.is_compatible_with(prediction.shape)):
    raise ValueError(f"reconstruction target has shape {target.shape} but the rendered "
                     f"prediction has shape {prediction.shape}")


@gin.configurable(module="objectives")
def l2_loss(target, prediction, weights=None):
  """Mean squared error per example, `[B]`."""
  target = tf.convert_to_tensor(target)
  prediction = tf.cast(tf.convert_to_tensor(prediction), target.dtype)
  _check_shapes(target, prediction)
  return _reduce(tf.square(prediction - target), weights)


@gin.configurable(module="objectives")
def l1_loss(target, prediction, weights=None):
  """Mean absolute error per example, `[B]`."""
  target = tf.convert_to_tensor(target)
  prediction = tf.cast(tf.convert_to_tensor(prediction), target.dtype)
  _check_shapes(target, prediction)
  return _reduce(tf.abs(prediction - target), weights)


@gin.configurable(module="objectives")
def masked_l2_loss(target, prediction, weights):
  """L2 on the elements where `weights` > 0 only (weights are required)."""
  return l2_loss(target, prediction, weights)


@gin.configurable(module="objectives")
def masked_l1_loss(target, prediction, weights):
  """L1 on the elements where `weights` > 0 only (weights are required)."""
  return l1_loss(target, prediction, weights)
