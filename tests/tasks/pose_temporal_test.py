"""Tests of the video pose task: clip windows, batches, jitter metrics and export."""

import gin
import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.data import pose as pose_data
from aign_tf.data.mocap import temporal as temporal_data
from aign_tf.models import pose_networks
from aign_tf.models import temporal
from aign_tf.tasks import pose
from aign_tf.tasks import pose_temporal


def tiny_task(**kwargs):
  gin.bind_parameter("data.pose_clips.embedded_clips", (2, 2, 2))
  gin.bind_parameter("data.pose_clips.embedded_frames", 24)
  gin.bind_parameter("data.pose_clips.source", "embedded")
  return pose_temporal.PoseTemporalTask(**kwargs)


class ClipWindowsTest(testing.TestCase):

  def test_windows_are_edge_padded_within_segments(self):
    frames = np.arange(7)
    windows = pose_data.clip_windows(frames, [0, 0, 0, 0, 1, 1, 1], 5)
    self.assertAllEqual(windows, [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [0, 1, 2, 3, 3],
                                  [1, 2, 3, 3, 3], [4, 4, 4, 5, 6], [4, 4, 5, 6, 6],
                                  [4, 5, 6, 6, 6]])
    with self.assertRaisesRegex(errors.ConfigError, "odd"):
      pose_data.clip_windows(frames, [0] * 7, 4)
    with self.assertRaisesRegex(errors.DataError, "consecutive"):
      pose_data.clip_windows(frames, [0, 1, 0, 1, 1, 1, 1], 3)

  def test_sequence_views_share_a_camera_per_segment(self):
    clips = {"a": np.tile(np.random.default_rng(0).normal(size=(1, 17, 3)), (10, 1, 1)),
             "b": np.zeros((3, 17, 3)) + np.linspace(-0.5, 0.5, 17)[None, :, None]}
    views, names = pose_data.sequence_views(clips, pose_data.CameraSampler(),
                                            np.random.default_rng(1), segment_frames=4)
    self.assertEqual(names, ["a", "b"])
    # Clip a: frames 0-3, 4-7, 8-9; clip b: its own segment.
    self.assertAllEqual(views["segment"], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3])
    self.assertAllEqual(views["clip"], [0] * 10 + [1] * 3)
    # A still pose seen without noise by one camera looks the same in every frame of a
    # segment, and different in the next segment.
    target = views["target"]
    self.assertAllClose(target[0], target[3])
    self.assertGreater(np.abs(target[3] - target[4]).max(), 1e-3)
    shifted, _ = pose_data.sequence_views(clips, pose_data.CameraSampler(),
                                          np.random.default_rng(1), segment_frames=4,
                                          offset=2)
    self.assertAllEqual(shifted["segment"][:10], [0, 0, 1, 1, 1, 1, 2, 2, 2, 2])


  def test_window_views_give_every_window_its_camera(self):
    still = np.tile(np.random.default_rng(0).normal(size=(1, 17, 3)), (6, 1, 1))
    views, _ = pose_data.window_views({"a": still}, pose_data.CameraSampler(),
                                      np.random.default_rng(2), width=3, noise_px=1.0)
    self.assertEqual(views["observation"].shape, (6, 3, 17, 2))
    self.assertEqual(views["root_2d"].shape, (6, 3, 2))
    target = views["target"]
    self.assertAllClose(target[:, 0], target[:, 2])  # one camera within a window
    self.assertGreater(np.abs(target[0, 1] - target[1, 1]).max(), 1e-3)  # new camera per window
    # The noise is drawn per frame.
    self.assertGreater(np.abs(views["keypoints_2d"][:, 0] - views["keypoints_2d"][:, 2]).max(),
                       0.0)


class PoseTemporalTaskTest(testing.TestCase):

  def test_train_batches(self):
    task = tiny_task(window=9, segment_frames=8)
    batch = next(iter(task.train_dataset(4)))
    self.assertEqual(batch[keys.OBSERVATION].shape, (4, 9, 17, 2))
    self.assertEqual(batch[keys.RECONSTRUCTION_TARGET].shape, (4, 17, 2))
    # The reconstruction target is the window's centre frame.
    self.assertAllClose(batch[keys.OBSERVATION][:, 4], batch[keys.RECONSTRUCTION_TARGET])
    self.assertEqual(batch[keys.CONTEXT]["root_2d"].shape, (4, 2))
    self.assertEqual(batch[keys.MEMORY].shape, (4, 17, 3))

  def test_eval_examples_are_videos_in_order(self):
    task = tiny_task(window=3, segment_frames=8, max_eval=20)
    batch, names = task.eval_examples("eval")
    self.assertLen(batch[keys.TARGET], 20)
    # 12 frames per clip (24 at stride 2): clip 0 in segments of 8 and 4 frames, then clip 1.
    self.assertEqual(temporal_data.segment_runs(batch[pose_temporal.SEGMENT]),
                     [(0, 8), (8, 12), (12, 20)])
    # Window t holds frames t - 1, t, t + 1 of its segment (the first frame repeated).
    frames = batch[pose_temporal.FRAME_OBSERVATION]
    self.assertAllClose(batch[keys.OBSERVATION][1:8, 0], frames[0:7])
    self.assertAllClose(batch[keys.OBSERVATION][0, 0], frames[0])
    self.assertAllClose(batch[keys.OBSERVATION][8, 0], frames[8])
    one, _ = task.eval_examples(f"clip:{names[1]}")
    self.assertTrue(np.all(one[pose.CLIP] == 1))
    with self.assertRaisesRegex(errors.ConfigError, "splits"):
      task.eval_examples("test")

  def test_extra_metrics_give_jitter(self):
    task = tiny_task(window=9, segment_frames=8)
    lifter = temporal.TemporalPoseLifter(window=9, hidden_units=8)
    metrics = task.extra_metrics(lifter, "eval")
    self.assertEqual(set(metrics), {"jitter_mm", "jitter_true_mm", "accel_error_mm"})
    self.assertGreater(metrics["jitter_true_mm"], 0.0)
    self.assert_finite(list(metrics.values()))

  def test_serve_matches_the_generator_on_normalised_windows(self):
    task = tiny_task(window=9, segment_frames=8)
    lifter = temporal.TemporalPoseLifter(window=9, hidden_units=8)
    batch, _ = task.eval_examples("eval")
    keypoints = pose_data.clip_windows(batch[pose.KEYPOINTS_2D], batch[pose_temporal.SEGMENT],
                                       9)[:5]
    out = task.export.serve(lifter, {pose.KEYPOINTS_2D: tf.constant(keypoints)})
    expected = lifter(batch[keys.OBSERVATION][:5])[pose_networks.JOINTS_3D]
    self.assertAllClose(out["joints_3d"], expected, atol=1e-5)
    self.assertEqual(out["camera_translation"].shape, (5, 3))
    self.assertEqual(task.export.input_signature()[pose.KEYPOINTS_2D].shape.as_list(),
                     [None, 9, 17, 2])


if __name__ == "__main__":
  testing.main()
