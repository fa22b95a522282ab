"""Networks of the pose task: a lifting generator with a camera head, and a pose discriminator.

Generator (in the spirit of Martinez et al. 2017, "A simple yet effective baseline for 3d human
pose estimation"): root-centred, scale-normalised 2D keypoints `[B, J, 2]` -> Dense ->
`num_blocks` residual blocks of two Dense + ReLU (+ dropout) layers -> two heads:
  pose head:   root-relative joints `[B, J, 3]` in metres (the root row is forced to 0);
  camera head: Euler angles `[B, 3]` (about x, y, z; R = Rz Ry Rx, TF Graphics' from_euler)
               and the normalised root depth delta `[B, 1]` = softplus(.) + 0.05, so that the
               root depth is delta / s for the input's 2D scale s (see renderers/projection.py).
With `canonical=True` the pose head predicts the pose in the canonical body frame (y up,
facing +z, +x the person's left; `aign_tf.core.skeleton`) and the camera-frame joints
are R(pi + a_x, a_y, a_z) applied to it: the camera head's zero output is a frontal camera at
the person's height (the pi about x turns y-up into the camera's y-down and faces the person
towards the camera). With `canonical=False` the pose head predicts camera-frame joints directly
and the rotation output is zero.

Outputs (a dict): "joints_3d" `[B, J, 3]` camera frame, "pose" `[B, J, 3]` what the
discriminator judges (the canonical pose, or the camera-frame pose), "rotation" `[B, 3]`,
"depth" `[B, 1]`.

Discriminator: an MLP on the flattened pose, optionally with a second branch on the
kinematic-chain space of RepNet (Wandt & Rosenhahn 2019): bone vectors B `[B, 16, 3]`
(child - parent) and Psi = B B^T `[16, 16]`, whose diagonal holds squared bone lengths and
whose off-diagonal entries hold the cosines of bone angles times lengths.
"""

import math

import gin
import tensorflow as tf
import tf_keras as keras

from aign_tf.core import skeleton
from aign_tf.models import layers
from aign_tf.renderers import projection

POSE = "pose"
JOINTS_3D = projection.JOINTS_3D
DEPTH = projection.DEPTH
ROTATION = "rotation"


class _ResidualBlock(keras.layers.Layer):

  def __init__(self, units, dropout, **kwargs):
    super().__init__(**kwargs)
    self.dense1 = keras.layers.Dense(units, activation="relu")
    self.dense2 = keras.layers.Dense(units, activation="relu")
    self.dropout = keras.layers.Dropout(dropout) if dropout else None

  def call(self, x, training=False):
    y = self.dense1(x)
    if self.dropout is not None:
      y = self.dropout(y, training=training)
    y = self.dense2(y)
    if self.dropout is not None:
      y = self.dropout(y, training=training)
    return x + y


@gin.configurable(module="generators")
class PoseLifter(keras.Model):
  """2D keypoints `[B, J, 2]` -> dict of 3D joints and camera (module doc)."""

  def __init__(self, num_joints=skeleton.NUM_JOINTS, hidden_units=256, num_blocks=2,
               dropout=0.0, canonical=False, name="pose_lifter", **kwargs):
    # autocast=False: under mixed precision the keypoints and the geometry after the heads
    # stay float32; only the dense layers compute in the policy's dtype.
    kwargs.setdefault("autocast", False)
    super().__init__(name=name, **kwargs)
    self.num_joints = int(num_joints)
    self.canonical = bool(canonical)
    self.stem = keras.layers.Dense(hidden_units, activation="relu")
    self.blocks = [_ResidualBlock(hidden_units, dropout, name=f"block_{i}")
                   for i in range(num_blocks)]
    self.pose_head = keras.layers.Dense(self.num_joints * 3, name="pose_head")
    # Small initial rotations; initial delta ~ 0.5 (a 1.7 m person at 2D scale 1).
    self.camera_head = keras.layers.Dense(
        4, kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3),
        bias_initializer=keras.initializers.Constant([0.0, 0.0, 0.0, math.log(math.e**0.45 - 1)]),
        name="camera_head")
    root = [1.0 if j == skeleton.ROOT else 0.0 for j in range(self.num_joints)]
    self._not_root = tf.constant([[1.0 - r] for r in root], tf.float32)

  def call(self, keypoints, training=False):
    keypoints = tf.cast(keypoints, tf.float32)
    if keypoints.shape.rank != 3 or keypoints.shape[1:] != (self.num_joints, 2):
      raise ValueError(f"PoseLifter expects keypoints [B, {self.num_joints}, 2], got "
                       f"{keypoints.shape}")
    x = self.stem(tf.reshape(keypoints, [-1, self.num_joints * 2]))
    for block in self.blocks:
      x = block(x, training=training)
    return pose_outputs(self, x)

  def get_config(self):
    return {"num_joints": self.num_joints, "canonical": self.canonical}


def kinematic_chain_features(pose):
  """RepNet's KCS: `[B, J, 3]` -> flattened upper triangle of B B^T, `[B, 16 * 17 / 2]`."""
  parents = [p for p, _ in skeleton.BONES]
  children = [c for _, c in skeleton.BONES]
  bones = tf.gather(pose, children, axis=1) - tf.gather(pose, parents, axis=1)
  psi = tf.matmul(bones, bones, transpose_b=True)
  rows, cols = zip(*[(i, j) for i in range(len(children)) for j in range(i, len(children))])
  flat = tf.reshape(psi, [-1, len(children) ** 2])
  return tf.gather(flat, [i * len(children) + j for i, j in zip(rows, cols)], axis=1)


@gin.configurable(module="discriminators")
class PoseDiscriminator(keras.Model):
  """Poses `[B, J, 3]` -> logits `[B, 1]`: MLP on the joints, plus an optional KCS branch."""

  def __init__(self, hidden_units=128, num_layers=2, kinematic_chain=True,
               spectral_norm=False, name="pose_discriminator", **kwargs):
    kwargs.setdefault("autocast", False)  # KCS features in float32 (mixed precision)
    super().__init__(name=name, **kwargs)
    self.kinematic_chain = bool(kinematic_chain)

    def dense(units):
      layer = keras.layers.Dense(units)
      return layers.SpectralNormalization(layer) if spectral_norm else layer

    self.pose_branch = [dense(hidden_units) for _ in range(num_layers)]
    self.chain_branch = ([dense(hidden_units) for _ in range(num_layers)]
                         if self.kinematic_chain else [])
    self.merge = dense(hidden_units)
    self.out = dense(1)

  def _branch(self, stack, x, training):
    for layer in stack:
      x = tf.nn.leaky_relu(layer(x, training=training), 0.2)
    return x

  def call(self, pose, training=False):
    pose = tf.cast(pose, tf.float32)
    if pose.shape.rank != 3 or pose.shape[-1] != 3:
      raise ValueError(f"PoseDiscriminator expects poses [B, J, 3], got {pose.shape}")
    features = [self._branch(self.pose_branch, tf.reshape(pose, [-1, pose.shape[1] * 3]),
                             training)]
    if self.kinematic_chain:
      features.append(self._branch(self.chain_branch, kinematic_chain_features(pose),
                                   training))
    x = tf.nn.leaky_relu(self.merge(tf.concat(features, axis=-1), training=training), 0.2)
    return self.out(x, training=training)


def pose_outputs(lifter, features):
  """The lifters' output heads on features `[B, F]`: root-relative pose (root pinned to 0),
  camera rotation (canonical lifters) and normalised root depth, as the prediction dict.

  `lifter` holds `pose_head`, `camera_head`, `num_joints`, `canonical` and `_not_root`
  (`PoseLifter` and `aign_tf.models.temporal.TemporalPoseLifter` share them).
  """
  pose = tf.reshape(tf.cast(lifter.pose_head(features), tf.float32),
                    [-1, lifter.num_joints, 3]) * lifter._not_root  # pylint: disable=protected-access
  camera = tf.cast(lifter.camera_head(features), tf.float32)
  depth = tf.nn.softplus(camera[:, 3:]) + 0.05
  if lifter.canonical:
    rotation = camera[:, :3] + tf.constant([math.pi, 0.0, 0.0])
    joints = projection.rotate(pose, rotation)
  else:
    rotation = tf.zeros_like(camera[:, :3])
    joints = pose
  return {JOINTS_3D: joints, POSE: pose, ROTATION: rotation, DEPTH: depth}
