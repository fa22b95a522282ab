"""Tests of the pose objectives."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import procedural
from aign_tf.objectives import pose


class PoseObjectivesTest(testing.TestCase):

  def test_mean_joint_distance_preset(self):
    target = tf.zeros([1, 2, 3])
    prediction = tf.constant([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]])
    self.assertAllClose(pose.mean_joint_distance(target, prediction), [3.0], atol=1e-4)
    self.assertAllClose(pose.mean_joint_distance(target, prediction, [[1.0, 0.0]]), [5.0],
                        atol=1e-4)

  def test_bone_symmetry_zero_for_symmetric_and_preset(self):
    joints = procedural.rest_offsets()  # Symmetric rest skeleton (offsets).
    positions = np.zeros((1, 17, 3))
    for c, p in enumerate(skeleton.PARENTS):
      if p >= 0:
        positions[0, c] = positions[0, p] + joints[c]
    self.assertAllClose(pose.bone_symmetry({"joints_3d": positions}), [0.0], atol=1e-6)
    # Lengthen the left shin by 0.12 m: one of six pairs differs by 0.12.
    longer = positions.copy()
    longer[0, 6] += [0.0, -0.12, 0.0]
    self.assertAllClose(pose.bone_symmetry(longer), [0.12 ** 2 / 6], rtol=1e-3)

  def test_bone_symmetry_gradient_restores_symmetry(self):
    positions = np.zeros((1, 17, 3), np.float32)
    offsets = procedural.rest_offsets()
    for c, p in enumerate(skeleton.PARENTS):
      if p >= 0:
        positions[0, c] = positions[0, p] + offsets[c]
    positions[0, 13] += [0.0, -0.1, 0.0]
    joints = tf.Variable(positions)
    initial = float(pose.bone_symmetry(joints)[0])

    @tf.function
    def step():
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(pose.bone_symmetry(joints))
      joints.assign_sub(1.0 * tape.gradient(loss, joints))
      return loss

    for _ in range(400):
      loss = step()
    self.assertLess(float(loss), 0.5 * initial)
