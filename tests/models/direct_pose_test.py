"""Tests of the direct (Gauss-Newton) egomotion solver."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.data import sfm as sfm_data
from aign_tf.models import direct_pose
from aign_tf.models import sfm_networks


def _pairs(count=4, height=32, width=96, seed=3):
  pairs = sfm_data.generate_pairs(count, height, width, seed=seed, workers=1)
  return (tf.constant(pairs["target_frame"], tf.float32) / 255.0,
          tf.constant(pairs["source_frame"], tf.float32) / 255.0,
          tf.constant(pairs["depth"]), tf.constant(pairs["intrinsics"]), pairs["egomotion"])


class DirectPoseTest(testing.TestCase):

  def test_recovers_true_motion_with_true_depth(self):
    target, source, depth, intrinsics, egomotion = _pairs()
    solved = direct_pose.solve_egomotion(target, source, depth, intrinsics).numpy()
    rotation_error = np.degrees(np.abs(solved[:, 3:] - egomotion[:, 3:]))
    rotation_size = np.degrees(np.abs(egomotion[:, 3:]))
    translation_error = np.abs(solved[:, :3] - egomotion[:, :3])
    # Much closer than "no motion", the solver's starting point.
    self.assertLess(rotation_error.mean(), 0.25 * rotation_size.mean())
    self.assertLess(translation_error.mean(), 0.3 * np.abs(egomotion[:, :3]).mean())

  def test_identical_frames_give_no_motion(self):
    target, _, depth, intrinsics, _ = _pairs(count=2)
    solved = direct_pose.solve_egomotion(target, target, depth, intrinsics)
    self.assertAllClose(solved, tf.zeros_like(solved), atol=1e-4)

  def test_scaled_depth_scales_translation_only(self):
    target, source, depth, intrinsics, _ = _pairs(count=2)
    near = direct_pose.solve_egomotion(target, source, depth, intrinsics).numpy()
    far = direct_pose.solve_egomotion(target, source, 2.0 * depth, intrinsics).numpy()
    self.assertAllClose(far[:, :3], 2.0 * near[:, :3], rtol=1e-3, atol=1e-4)
    self.assertAllClose(far[:, 3:], near[:, 3:], atol=1e-5)

  def test_gradients_finite(self):
    target, source, depth, intrinsics, _ = _pairs(count=2)
    depth = tf.Variable(depth)
    with tf.GradientTape() as tape:
      solved = direct_pose.solve_egomotion(target, source, depth, intrinsics,
                                           schedule=(2.0, 0.0))
      loss = tf.reduce_sum(tf.square(solved))
    gradient = tape.gradient(loss, depth)
    self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))))
    self.assertGreater(float(tf.reduce_max(tf.abs(gradient))), 0.0)

  def test_network_with_direct_solver(self):
    target, source, depth, intrinsics, _ = _pairs(count=2)
    frames = tf.concat([target, source], -1)
    net = sfm_networks.DepthEgomotionNet(base_filters=4, mean_depth=5.0,
                                         pose_solver="direct", solver_schedule=(1.0, 0.0))
    out = net({sfm_networks.FRAMES: frames, sfm_networks.INTRINSICS: intrinsics})
    self.assertEqual(out["egomotion"].shape, (2, 6))
    # No pose network: every weight belongs to the depth network.
    self.assertFalse(any("dense" in v.name for v in net.trainable_variables))
    with self.assertRaisesRegex(ValueError, "intrinsics"):
      net(frames)
    with self.assertRaisesRegex(ValueError, "pose_solver"):
      sfm_networks.DepthEgomotionNet(pose_solver="icp")
    with self.assertRaisesRegex(ValueError, "frames"):
      direct_pose.solve_egomotion(target[0], source, depth, intrinsics)


if __name__ == "__main__":
  tf.test.main()
