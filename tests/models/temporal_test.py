"""Tests of the temporal pose lifter (aign_tf/models/temporal.py)."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.models import pose_networks
from aign_tf.models import temporal


class TemporalPoseLifterTest(testing.TestCase):

  @testing.parameterized.parameters((9, 3, False), (27, 3, False), (4, 2, True))
  def test_shapes(self, window, kernel_size, canonical):
    lifter = temporal.TemporalPoseLifter(window=window, kernel_size=kernel_size,
                                         hidden_units=8, canonical=canonical)
    out = lifter(tf.random.normal([5, window, 17, 2]))
    self.assertEqual(out[pose_networks.JOINTS_3D].shape, (5, 17, 3))
    self.assertEqual(out[pose_networks.POSE].shape, (5, 17, 3))
    self.assertEqual(out[pose_networks.ROTATION].shape, (5, 3))
    self.assertEqual(out[pose_networks.DEPTH].shape, (5, 1))
    self.assertAllEqual(out[pose_networks.POSE][:, 0], np.zeros((5, 3)))
    self.assertTrue(np.all(out[pose_networks.DEPTH].numpy() > 0.05))

  def test_every_frame_of_the_window_counts(self):
    # The receptive field is exactly the window: changing any one frame changes the output.
    lifter = temporal.TemporalPoseLifter(window=9, hidden_units=16)
    windows = tf.random.normal([1, 9, 17, 2], seed=1)
    base = lifter(windows)[pose_networks.JOINTS_3D].numpy()
    for t in range(9):
      moved = windows.numpy()
      moved[0, t] += 0.5
      self.assertGreater(np.abs(lifter(moved)[pose_networks.JOINTS_3D].numpy() - base).max(),
                         1e-6, f"frame {t}")

  def test_gradients_reach_every_weight(self):
    lifter = temporal.TemporalPoseLifter(window=9, hidden_units=8)
    windows = tf.random.normal([3, 9, 17, 2])
    with tf.GradientTape() as tape:
      out = lifter(windows, training=True)
      loss = tf.reduce_sum(out[pose_networks.JOINTS_3D] ** 2) + tf.reduce_sum(
          out[pose_networks.DEPTH])
    grads = tape.gradient(loss, lifter.trainable_variables)
    self.assertTrue(all(g is not None for g in grads))

  def test_bad_window_and_input_raise(self):
    with self.assertRaisesRegex(ValueError, "power of kernel_size"):
      temporal.TemporalPoseLifter(window=10)
    lifter = temporal.TemporalPoseLifter(window=9, hidden_units=8)
    with self.assertRaisesRegex(ValueError, "expects windows"):
      lifter(tf.zeros([2, 17, 2]))


if __name__ == "__main__":
  testing.main()
