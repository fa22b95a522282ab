"""A temporal pose lifter: a window of 2D frames -> the centre frame's 3D joints and camera.

VideoPose3D's temporal convolutions (Pavllo, Feichtenhofer, Grangier & Auli, CVPR 2019):
the window's per-frame keypoints `[B, T, J, 2]` (each frame root-centred and
scale-normalised like the per-frame lifter's input) are a `[B, T, 2 J]` sequence; a
valid 1D convolution of width k expands it to `hidden_units` channels, then L - 1 residual
blocks each apply a valid convolution of width k with dilation k^i (i = 1 ... L - 1) and a
1x1 convolution, adding the input's centre crop. The receptive field is k^L = T frames, so
the time axis shrinks to the one centre frame. The heads are the per-frame lifter's
(`pose_networks.PoseLifter`): root-relative joints `[B, J, 3]` (root row 0) and a camera
(Euler angles and the normalised root depth delta = softplus(.) + 0.05).

Trained as AIGN like the per-frame lifter: the renderer projects the centre frame (the
context holds its 2D root and scale), the discriminator judges the centre pose against the
same mocap memory. Outputs: the dict of `PoseLifter` ("joints_3d", "pose", "rotation",
"depth") for the centre frame.
"""

import math

import gin
import tensorflow as tf
import tf_keras as keras

from aign_tf.core import skeleton
from aign_tf.models import pose_networks


def receptive_layers(window, kernel_size):
  """L with kernel_size^L == window (>= 1), else ValueError."""
  layers, field = 1, int(kernel_size)
  while field < window:
    field *= int(kernel_size)
    layers += 1
  if field != window or kernel_size < 2:
    raise ValueError(f"TemporalPoseLifter.window must be a power of kernel_size "
                     f"({kernel_size}, {kernel_size ** 2}, ...), got {window}")
  return layers


@gin.configurable(module="generators")
class TemporalPoseLifter(keras.Model):
  """2D keypoint windows `[B, T, J, 2]` -> the centre frame's 3D pose dict (module doc)."""

  def __init__(self, window=9, kernel_size=3, num_joints=skeleton.NUM_JOINTS,
               hidden_units=256, dropout=0.0, canonical=False, name="temporal_pose_lifter",
               **kwargs):
    kwargs.setdefault("autocast", False)  # geometry in float32 (mixed precision)
    super().__init__(name=name, **kwargs)
    self.window, self.kernel_size = int(window), int(kernel_size)
    self.num_joints = int(num_joints)
    self.hidden_units = int(hidden_units)
    self.canonical = bool(canonical)
    layers = receptive_layers(self.window, self.kernel_size)
    conv = lambda width, rate=1: keras.layers.Conv1D(  # pylint: disable=g-long-lambda
        self.hidden_units, width, dilation_rate=rate, padding="valid", activation="relu")
    self.expand = conv(self.kernel_size)
    self.blocks = [(conv(self.kernel_size, self.kernel_size ** i), conv(1))
                   for i in range(1, layers)]
    self.dropout = keras.layers.Dropout(dropout) if dropout else None
    self.pose_head = keras.layers.Dense(self.num_joints * 3, name="pose_head")
    self.camera_head = keras.layers.Dense(
        4, kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3),
        bias_initializer=keras.initializers.Constant(
            [0.0, 0.0, 0.0, math.log(math.e**0.45 - 1)]),
        name="camera_head")
    self._not_root = tf.constant(
        [[0.0 if j == skeleton.ROOT else 1.0] for j in range(self.num_joints)], tf.float32)

  def _drop(self, x, training):
    return self.dropout(x, training=training) if self.dropout is not None else x

  def call(self, windows, training=False):
    windows = tf.cast(windows, tf.float32)
    if windows.shape.rank != 4 or windows.shape[1:] != (self.window, self.num_joints, 2):
      raise ValueError(f"TemporalPoseLifter expects windows [B, {self.window}, "
                       f"{self.num_joints}, 2], got {windows.shape}")
    x = self._drop(self.expand(tf.reshape(windows, [-1, self.window, self.num_joints * 2])),
                   training)
    # Residual blocks: dilated valid convolution + 1x1, plus the input's centre crop.
    for i, (dilated, pointwise) in enumerate(self.blocks, start=1):
      crop = (self.kernel_size - 1) * self.kernel_size ** i // 2
      y = self._drop(dilated(x), training)
      x = x[:, crop:-crop] + self._drop(pointwise(y), training)
    x = x[:, 0]
    return pose_networks.pose_outputs(self, x)

  def get_config(self):
    return {"window": self.window, "kernel_size": self.kernel_size,
            "num_joints": self.num_joints, "hidden_units": self.hidden_units,
            "canonical": self.canonical}
