"""Tests of the pose lifter and the pose discriminator."""

import math

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import procedural
from aign_tf.models import pose_networks
from aign_tf.renderers import projection


class PoseLifterTest(testing.TestCase):

  @testing.parameterized.parameters(True, False)
  def test_outputs(self, canonical):
    lifter = pose_networks.PoseLifter(hidden_units=16, num_blocks=1, canonical=canonical)
    out = lifter(tf.random.normal([3, 17, 2]))
    self.assertEqual(out["joints_3d"].shape, (3, 17, 3))
    self.assertEqual(out["pose"].shape, (3, 17, 3))
    self.assertEqual(out["rotation"].shape, (3, 3))
    self.assertEqual(out["depth"].shape, (3, 1))
    self.assertAllClose(out["joints_3d"][:, skeleton.ROOT], tf.zeros([3, 3]), atol=1e-6)
    self.assertTrue(np.all(out["depth"].numpy() > 0.05))
    if canonical:
      self.assertAllClose(out["joints_3d"], projection.rotate(out["pose"], out["rotation"]),
                          atol=1e-5)
    else:
      self.assertAllClose(out["joints_3d"], out["pose"])

  def test_canonical_zero_camera_is_frontal(self):
    # A zero camera head output means R = Rx(pi): y up -> y down, facing +z -> facing -z.
    rotation = projection.rotation_matrix([[math.pi, 0.0, 0.0]])[0]
    self.assertAllClose(tf.linalg.matvec(rotation, [0.0, 1.0, 0.0]), [0.0, -1.0, 0.0],
                        atol=1e-6)
    self.assertAllClose(tf.linalg.matvec(rotation, [1.0, 0.0, 0.0]), [1.0, 0.0, 0.0],
                        atol=1e-6)

  def test_wrong_input_shape_raises(self):
    with self.assertRaisesRegex(ValueError, r"keypoints \[B, 17, 2\]"):
      pose_networks.PoseLifter(hidden_units=8)(tf.zeros([2, 16, 2]))


class PoseDiscriminatorTest(testing.TestCase):

  def test_kinematic_chain_features_hold_bone_lengths(self):
    pose = procedural.generate_clip("walk", num_frames=2, seed=0)
    features = pose_networks.kinematic_chain_features(tf.constant(pose))
    self.assertEqual(features.shape, (2, 16 * 17 // 2))
    # Diagonal entries of Psi = B B^T are the squared bone lengths; the first row starts with
    # bone 0's.
    self.assertAllClose(features[:, 0], skeleton.bone_lengths(pose)[:, 0] ** 2, rtol=1e-5)
    index = 16  # Row 1's diagonal follows row 0's 16 entries.
    self.assertAllClose(features[:, index], skeleton.bone_lengths(pose)[:, 1] ** 2, rtol=1e-5)

  @testing.parameterized.parameters(True, False)
  def test_logits_shape_and_gradients(self, kinematic_chain):
    d = pose_networks.PoseDiscriminator(hidden_units=8, kinematic_chain=kinematic_chain)
    poses = tf.random.normal([4, 17, 3])
    with tf.GradientTape() as tape:
      tape.watch(poses)
      logits = d(poses)
    self.assertEqual(logits.shape, (4, 1))
    self.assertGreater(float(tf.reduce_max(tf.abs(tape.gradient(logits, poses)))), 0.0)
