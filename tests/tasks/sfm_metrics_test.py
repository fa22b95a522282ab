"""Tests of the snippet ATE metric."""

import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import sfm as sfm_data
from aign_tf.tasks import sfm_metrics


def _random_poses(seed, count=5):
  rng = np.random.default_rng(seed)
  poses = np.tile(np.eye(4), (count, 1, 1))
  poses[:, :3, :3] = sfm_data.euler_to_matrix(rng.uniform(-0.4, 0.4, (count, 3)))
  poses[:, :3, 3] = rng.normal(size=(count, 3)) * 2.0
  return poses


class ComposeTest(testing.TestCase):

  def test_compose_inverts_consecutive_egomotion(self):
    poses = _random_poses(0)
    composed = sfm_metrics.compose_egomotion(sfm_data.consecutive_egomotion(poses))
    self.assertAllClose(composed, np.linalg.inv(poses[0])[None] @ poses, atol=1e-5)

  def test_egomotion_matrix_moves_target_points_to_source(self):
    poses = _random_poses(1, 2)
    egomotion = sfm_data.relative_egomotion(poses[1], poses[0])
    point_target = np.array([0.5, -0.3, 6.0])
    world = poses[1, :3, :3] @ point_target + poses[1, :3, 3]
    point_source = poses[0, :3, :3].T @ (world - poses[0, :3, 3])
    self.assertAllClose(sfm_metrics.egomotion_to_matrix(egomotion) @ np.append(point_target, 1),
                        np.append(point_source, 1), atol=1e-5)


class SnippetAteTest(testing.TestCase):

  def test_exact_and_scaled_predictions_zero(self):
    poses = _random_poses(2)
    egomotion = sfm_data.consecutive_egomotion(poses)
    for reduction in sfm_metrics.REDUCTIONS:
      self.assertAllClose(sfm_metrics.snippet_ate(poses, egomotion, reduction), 0.0, atol=1e-5)
      scaled = egomotion.copy()
      scaled[:, :3] *= 3.0  # Scaling every translation scales the whole trajectory.
      self.assertAllClose(sfm_metrics.snippet_ate(poses, scaled, reduction), 0.0, atol=1e-5)
      self.assertAllClose(sfm_metrics.snippet_ate(egomotion, scaled, reduction), 0.0,
                          atol=1e-5)

  def test_known_offset_preset(self):
    # True: 3 frames moving along z by 1 each (positions 0, 1, 2 on z); predicted: the same
    # steps plus a sideways step of 1 on the last one (positions (0,0,0), (0,0,1), (1,0,2)).
    true = np.zeros((2, 6))
    true[:, 2] = 1.0
    predicted = true.copy()
    predicted[1, 0] = 1.0
    # Least-squares scale: s = (0 + 1 + 4) / (0 + 1 + 5) = 5 / 6. Errors: 0,
    # |(0, 0, 5/6 - 1)| = 1/6, |(5/6, 0, 10/6 - 2)| = sqrt(25 + 4) / 6.
    errors_ = np.array([0.0, 1.0 / 6.0, np.sqrt(29.0) / 6.0])
    self.assertAllClose(sfm_metrics.snippet_ate(true, predicted, "mean"), errors_.mean())
    self.assertAllClose(sfm_metrics.snippet_ate(true, predicted, "rmse"),
                        np.sqrt(np.mean(errors_ ** 2)))
    self.assertAllClose(sfm_metrics.snippet_ate(true, predicted),
                        np.sqrt(np.sum(errors_ ** 2)) / 3.0)
    # The same snippet given as camera-to-world poses in another world frame.
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, 2, 3] = [0.0, 1.0, 2.0]
    world = np.eye(4)
    world[:3, :3] = sfm_data.euler_to_matrix([0.3, -0.2, 1.0])
    world[:3, 3] = [5.0, -1.0, 2.0]
    self.assertAllClose(sfm_metrics.snippet_ate(world[None] @ poses, predicted, "mean"),
                        errors_.mean())

  def test_ate_metrics_over_snippets(self):
    trajectory = _random_poses(3, 7)
    windows = sfm_metrics.snippets(trajectory, 5)
    self.assertEqual(windows.shape, (3, 5, 4, 4))
    predicted = np.stack([sfm_data.consecutive_egomotion(w) for w in windows])
    predicted[1, :, :3] += 0.1
    out = sfm_metrics.ate_metrics(windows, predicted)
    self.assertAllClose(out["ate"][[0, 2]], [0.0, 0.0], atol=1e-5)
    self.assertGreater(out["ate"][1], 1e-3)
    self.assertAllClose(out["ate_mean"], out["ate"][1] / 3.0)

  def test_ate_exception_raised(self):
    with self.assertRaisesRegex(errors.DataError, r"expected \(4, 6\) for 5 frames"):
      sfm_metrics.snippet_ate(_random_poses(0), np.zeros((3, 6)))
    with self.assertRaisesRegex(errors.DataError, "poses \\[N, 4, 4\\] or egomotions"):
      sfm_metrics.snippet_ate(np.zeros((4, 3)), np.zeros((3, 6)))
    with self.assertRaisesRegex(errors.ConfigError, "reduction must be one of"):
      sfm_metrics.snippet_ate(np.zeros((2, 6)), np.zeros((2, 6)), "median")
    with self.assertRaisesRegex(errors.DataError, "fewer than the snippet length 5"):
      sfm_metrics.snippets(_random_poses(0, 3))


if __name__ == "__main__":
  tf.test.main()
