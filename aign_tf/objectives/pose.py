"""Pose objectives: a per-joint distance loss and the left/right bone symmetry regulariser.

The reprojection loss itself is `objectives.l2_loss` with per-joint confidences as
`reconstruction_weights` `[B, J, 1]` (weighted mean over the visible joints).

  mean_joint_distance(Y*, Y) = (1 / J) sum_j ||Y*_j - Y_j||_2           (MPJPE as a loss)
  bone_symmetry(Y) = (1 / P) sum_{(l, r)} (||b_l(Y)|| - ||b_r(Y)||)^2    over the P = 6
                     left/right bone pairs of `skeleton.SYMMETRIC_BONES`.
"""

import gin
import tensorflow as tf

from aign_tf.core import skeleton

_EPS = 1e-8


@gin.configurable(module="objectives")
def mean_joint_distance(target, prediction, weights=None):
  """Mean Euclidean joint error `[B, J, D]` -> `[B]` (optionally weighted by `[B, J]`)."""
  target = tf.convert_to_tensor(target, tf.float32)
  prediction = tf.cast(tf.convert_to_tensor(prediction), tf.float32)
  if not target.shape.is_compatible_with(prediction.shape):
    raise ValueError(f"target shape {target.shape} != prediction shape {prediction.shape}")
  distance = tf.sqrt(tf.reduce_sum(tf.square(prediction - target), axis=-1) + _EPS)
  if weights is None:
    return tf.reduce_mean(distance, axis=-1)
  weights = tf.broadcast_to(tf.reshape(tf.cast(weights, tf.float32), tf.shape(distance)),
                            tf.shape(distance))
  return (tf.reduce_sum(weights * distance, axis=-1) /
          tf.maximum(tf.reduce_sum(weights, axis=-1), _EPS))


def bone_lengths(joints):
  """`[..., 17, 3]` -> `[..., 16]` bone lengths in the order of `skeleton.BONES`."""
  joints = tf.convert_to_tensor(joints, tf.float32)
  parents = [p for p, _ in skeleton.BONES]
  children = [c for _, c in skeleton.BONES]
  bones = tf.gather(joints, children, axis=-2) - tf.gather(joints, parents, axis=-2)
  return tf.sqrt(tf.reduce_sum(tf.square(bones), axis=-1) + _EPS)


@gin.configurable(module="objectives")
def bone_symmetry(prediction, batch=None, key="joints_3d"):
  """Left/right bone-length symmetry regulariser, `[B]` (squared metres).

  Args:
    prediction: generator output: a dict holding `key`, or joints `[B, 17, 3]`.
    batch: unused (the regulariser signature is `fn(prediction, batch)`).
    key: which prediction entry holds the joints.
  """
  del batch
  joints = prediction[key] if isinstance(prediction, dict) else prediction
  lengths = bone_lengths(joints)
  left = tf.gather(lengths, [l for l, _ in skeleton.SYMMETRIC_BONES], axis=-1)
  right = tf.gather(lengths, [r for _, r in skeleton.SYMMETRIC_BONES], axis=-1)
  return tf.reduce_mean(tf.square(left - right), axis=-1)
