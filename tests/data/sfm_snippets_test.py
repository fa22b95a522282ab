"""Tests of the procedural sfm snippets: short trajectories for the ATE of Zhou et al. 2017."""

import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import sfm


class NextPoseTest(testing.TestCase):

  def test_next_pose_inverts_sample_poses(self):
    # sample_poses draws the target (6 numbers), then the step back to the source; the same
    # stream fed to next_pose from the source must land on the target again.
    for index in range(6):
      rng = np.random.default_rng([11, index])
      scene = sfm.Scene(rng, texture=None)
      state = rng.bit_generator.state
      target, source = sfm.sample_poses(rng, scene)
      replay = np.random.default_rng()
      replay.bit_generator.state = state
      replay.uniform(size=6)
      self.assertAllClose(sfm.next_pose(replay, source), target, atol=1e-12)

  def test_next_pose_stays_inside_the_corridor(self):
    scene = sfm.Scene(np.random.default_rng(0), texture=None)
    rng = np.random.default_rng(1)
    # Next to the right wall, at the floor and at the end wall, looking right.
    pose = np.eye(4)
    pose[:3, :3] = sfm.euler_to_matrix([0.0, 1.2, 0.0])
    pose[:3, 3] = [scene.right_x - 1.0, scene.floor_y - 0.5, scene.end_z - 2.0]
    for _ in range(20):
      pose = sfm.next_pose(rng, pose, scene)
      x, y, z = pose[:3, 3]
      self.assertBetween(x, scene.left_x + 1.0, scene.right_x - 1.0)
      self.assertBetween(y, scene.ceiling_y + 0.5, scene.floor_y - 0.5)
      self.assertLessEqual(z, scene.end_z - 2.0)


class GenerateSnippetsTest(testing.TestCase):

  def test_snippets_deterministic_with_shapes(self):
    a = sfm.generate_snippets(2, length=4, height=8, width=24, seed=3)
    b = sfm.generate_snippets(2, length=4, height=8, width=24, seed=3)
    c = sfm.generate_snippets(2, length=4, height=8, width=24, seed=4)
    for key in a:
      self.assertAllEqual(a[key], b[key])
    self.assertNotAllClose(a["poses"], c["poses"])
    self.assertEqual(a["frames"].shape, (2, 4, 8, 24, 3))
    self.assertEqual(a["frames"].dtype, np.uint8)
    self.assertEqual(a["poses"].shape, (2, 4, 4, 4))
    self.assertAllClose(a["intrinsics"], np.tile(sfm.default_intrinsics(8, 24), (2, 1)))
    # The camera moves between frames: consecutive frames differ.
    self.assertTrue(np.all(np.any(a["frames"][:, 1:] != a["frames"][:, :-1], axis=(2, 3, 4))))
    # Snippet i depends on (seed, i) alone, not on how many are made.
    alone = sfm.generate_snippets(1, length=4, height=8, width=24, seed=3)
    self.assertAllEqual(alone["frames"][0], a["frames"][0])

  def test_step_statistics_match_pairs(self):
    snippets = sfm.generate_snippets(3, length=5, height=8, width=24, seed=0,
                                     texture="procedural")
    poses = snippets["poses"]
    for snippet in poses:
      rotations = snippet[:, :3, :3]
      self.assertAllClose(rotations @ np.swapaxes(rotations, 1, 2),
                          np.tile(np.eye(3), (5, 1, 1)), atol=1e-12)
      for before, after in zip(snippet[:-1], snippet[1:]):
        # The step in the axes of the new camera: forward 0.3-1.0, little drift.
        step = after[:3, :3].T @ (after[:3, 3] - before[:3, 3])
        self.assertBetween(step[0], -0.1, 0.1)
        self.assertBetween(step[1], -0.04, 0.04)
        self.assertBetween(step[2], 0.3, 1.0)
        turn = sfm.matrix_to_euler(after[:3, :3]) - sfm.matrix_to_euler(before[:3, :3])
        self.assertLessEqual(abs(turn[0]), 0.02)
        self.assertLessEqual(abs(turn[1]), 0.05)
        self.assertLessEqual(abs(turn[2]), 0.01)
    # Egomotions of consecutive frames look like those of generate_pairs: forward.
    egomotion = np.concatenate([sfm.consecutive_egomotion(p) for p in poses])
    self.assertTrue(np.all(egomotion[:, 2] > 0.25))

  def test_snippet_length_exception_raised(self):
    with self.assertRaisesRegex(errors.ConfigError, "length must be >= 2, got 1"):
      sfm.generate_snippets(1, length=1, height=8, width=24)
    with self.assertRaisesRegex(errors.ConfigError, "texture"):
      sfm.generate_snippets(1, height=8, width=24, texture="noise")


if __name__ == "__main__":
  tf.test.main()
