"""Objectives of the structure-from-motion task: depth regularisers and paired depth losses.

Registered as `objectives.*` for gin (e.g. `models.AIGN.regularizers`). Both are per-example
`[B]`, as every objective here.
"""

import gin
import tensorflow as tf

from aign_tf.core import keys

# The observation's key of the stacked frames `[B, H, W, 6]` (target RGB, then source RGB);
# `aign_tf.models.sfm_networks` reads the same key.
FRAMES = "frames"


@gin.configurable(module="objectives")
def edge_aware_smoothness(prediction, batch):
  """Edge-aware smoothness of mean-normalised disparity (Godard et al. 2017), `[B]`.

  sum over x, y of |d_x d*| exp(-|d_x I|) + |d_y d*| exp(-|d_y I|), d* = d / mean(d), d the
  disparity 1 / depth and I the target frame (`reconstruction_target`). Normalising by the
  mean keeps the term from shrinking the depth scale.
  """
  disparity = 1.0 / tf.convert_to_tensor(prediction["depth"])
  disparity = disparity / (tf.reduce_mean(disparity, axis=[1, 2, 3], keepdims=True) + 1e-7)
  if keys.RECONSTRUCTION_TARGET in batch:
    image = tf.convert_to_tensor(batch[keys.RECONSTRUCTION_TARGET])[..., :3]
  else:  # The target frame is the first 3 channels of the observation's frames.
    image = tf.convert_to_tensor(batch[keys.OBSERVATION][FRAMES])[..., :3]
  dx = tf.abs(disparity[:, :, 1:] - disparity[:, :, :-1])
  dy = tf.abs(disparity[:, 1:] - disparity[:, :-1])
  wx = tf.exp(-tf.reduce_mean(tf.abs(image[:, :, 1:] - image[:, :, :-1]), -1, keepdims=True))
  wy = tf.exp(-tf.reduce_mean(tf.abs(image[:, 1:] - image[:, :-1]), -1, keepdims=True))
  return (tf.reduce_mean(dx * wx, axis=[1, 2, 3]) + tf.reduce_mean(dy * wy, axis=[1, 2, 3]))


@gin.configurable(module="objectives")
def scale_invariant_log_loss(target, prediction, variance_weight=1.0, eps=1e-3):
  """Scale-invariant log-depth error per example (Eigen et al. 2014), `[B]`.

  With g = log(prediction) - log(target) over the valid pixels (target > eps):
  mean(g^2) - variance_weight * mean(g)^2. With `variance_weight` = 1 this is the variance
  of g, unchanged when the prediction is multiplied by any constant: depth from view
  synthesis is known up to scale, and a few paired depth maps should teach its shape without
  fighting the scale the photometric term settled on. Pixels without depth (sparse ground
  truth: 0) do not count.
  """
  target = tf.convert_to_tensor(target, tf.float32)
  prediction = tf.cast(tf.convert_to_tensor(prediction), tf.float32)
  valid = tf.cast(target > eps, tf.float32)
  g = (tf.math.log(tf.maximum(prediction, eps)) - tf.math.log(tf.maximum(target, eps))) * valid
  axes = tf.range(1, tf.rank(g))
  count = tf.maximum(tf.reduce_sum(valid, axis=axes), 1.0)
  mean = tf.reduce_sum(g, axis=axes) / count
  return tf.reduce_sum(tf.square(g), axis=axes) / count - variance_weight * tf.square(mean)


# Metrics (NumPy) --------------------------------------------------------------------------
