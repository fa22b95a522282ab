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


def ssim_dissimilarity(x, y, c1=0.01 ** 2, c2=0.03 ** 2):
  """Per-pixel (1 - SSIM) / 2 in [0, 1] over 3x3 windows, `[B, H, W, C]`.

  SSIM = (2 mu_x mu_y + c1)(2 s_xy + c2) / ((mu_x^2 + mu_y^2 + c1)(s_x^2 + s_y^2 + c2)) with
  means and (co)variances over each pixel's 3x3 neighbourhood (reflect-padded borders), for
  images in [0, 1] (Wang et al. 2004; the windowed form used for view synthesis by Godard et
  al. 2017). `tf.image.ssim` returns one number per image; the loss needs it per pixel so
  that invalid pixels can be masked out.
  """
  pad = lambda t: tf.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
  pool = lambda t: tf.nn.avg_pool2d(pad(t), 3, 1, "VALID")
  mu_x, mu_y = pool(x), pool(y)
  var_x = pool(x * x) - mu_x * mu_x
  var_y = pool(y * y) - mu_y * mu_y
  cov = pool(x * y) - mu_x * mu_y
  ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2) /
          ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)))
  return tf.clip_by_value((1.0 - ssim) / 2.0, 0.0, 1.0)


def photometric_error(target, prediction, ssim_weight=0.85):
  """Per-pixel a (1 - SSIM) / 2 + (1 - a) |target - prediction|, channel means,
  `[B, H, W, 1]`."""
  error = tf.reduce_mean(tf.abs(prediction - target), axis=-1, keepdims=True)
  if ssim_weight:
    dissimilarity = tf.reduce_mean(ssim_dissimilarity(target, prediction), axis=-1,
                                   keepdims=True)
    error = ssim_weight * dissimilarity + (1.0 - ssim_weight) * error
  return error


@gin.configurable(module="objectives")
def photometric_loss(target, prediction, weights=None, ssim_weight=0.85, baseline=None,
                     auto_mask=True):
  """a (1 - SSIM) / 2 + (1 - a) |target - prediction| per pixel (a = `ssim_weight`), both
  averaged over channels, then the (weighted) mean per example, `[B]`.

  For images `[B, H, W, C]` in [0, 1]; the usual photometric error of self-supervised depth
  (Godard et al. 2017): SSIM tolerates brightness differences and scores local structure,
  L1 keeps the colours right. `weights` `[B, H, W, 1]` (e.g. view-synthesis validity).

  With a `baseline` rendering (a renderer's `RenderOutput.baseline`, e.g. the unwarped source
  frame) and `auto_mask`, each pixel scores min(error(prediction), error(baseline)) (Godard
  et al. 2019): pixels where the prediction does worse than the trivial rendering give no
  gradient, so the loss never pulls the prediction toward the trivial rendering (for view
  synthesis: infinite depth and no motion), and a prediction that is no better than the
  baseline anywhere gains nothing.
  """
  target = tf.convert_to_tensor(target)
  prediction = tf.cast(tf.convert_to_tensor(prediction), target.dtype)
  _check_shapes(target, prediction)
  if target.shape.rank != 4:
    raise ValueError(f"photometric_loss needs images [B, H, W, C], got {target.shape}")
  error = photometric_error(target, prediction, ssim_weight)
  if baseline is not None and auto_mask:
    baseline = tf.cast(tf.convert_to_tensor(baseline), target.dtype)
    _check_shapes(target, baseline)
    error = tf.minimum(error, tf.stop_gradient(photometric_error(target, baseline,
                                                                 ssim_weight)))
  return _reduce(error, weights)
