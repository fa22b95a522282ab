"""sfm: bad inputs said with their remedy (invalid or mis-scaled memories, flat depth, a
real source without a suitable memory) and the real-video configuration (gin/sfm_video.gin)."""

import glob
import os
import tempfile

import numpy as np
import tensorflow as tf

from aign_tf import config
from aign_tf import errors
from aign_tf import runs
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.data import sfm as sfm_data
from aign_tf.tasks import sfm
from aign_tf.tasks import sfm_sources
from aign_tf.train import trainer


def _tiny(*bindings):
  config.parse([os.path.join(testing.GIN_DIR, "sfm.gin"),
                os.path.join(testing.GIN_DIR, "testing", "tiny.gin")], list(bindings))


def write_video(path, frames=6, height=32, width=64):
  """A tiny mp4 of a texture sliding sideways (OpenCV's writer)."""
  import cv2  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  texture = (rng.random((height, width + 4 * frames, 3)) * 255).astype(np.uint8)
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
  for i in range(frames):
    writer.write(np.ascontiguousarray(texture[:, 4 * i:4 * i + width]))
  writer.release()
  return path


class MemoryCheckTest(testing.TestCase):

  def test_memory_file_with_nan_names_the_file(self):
    path = os.path.join(self.get_temp_dir(), "street_depth.npy")
    depth = np.full((3, 8, 8), 4.0, np.float32)
    depth[1, 2, 3] = np.nan
    depth[2, 0, 0] = 0.0
    np.save(path, depth)
    with self.assertRaisesRegex(errors.DataError,
                                r"street_depth\.npy: invalid depth memory: 1 NaN, 1 zero "
                                r"or negative depths in 2 of 3 maps \(the first in map 1\)"):
      sfm_data.load_depth_memory(path, 8, 8)

  def test_npz_memory(self):
    path = os.path.join(self.get_temp_dir(), "depth.npz")
    np.savez(path, depth=np.full((2, 4, 4), 3.0))
    self.assertEqual(sfm_data.load_depth_memory(path, 8, 8).shape, (2, 8, 8, 1))
    np.savez(path, a=np.ones((2, 4, 4)), b=np.ones((2, 4, 4)))
    with self.assertRaisesRegex(errors.DataError, r"depth\.npz: an \.npz depth memory must "
                                r"hold one array, found \['a', 'b'\]"):
      sfm_data.load_depth_memory(path, 8, 8)

  def test_procedural_memory_with_invalid_depth_names_the_generator(self):
    task = sfm.SfmTask(height=16, width=32, num_memory=2, cache_dir=None)
    original = sfm_data.generate_depth_memory
    sfm_data.generate_depth_memory = lambda *a, **k: np.full((2, 16, 32, 1), np.inf,
                                                              np.float32)
    try:
      with self.assertRaisesRegex(errors.DataError,
                                  r"procedural depth memory \(sfm.generate_depth_memory, "
                                  r"seed 5000\): invalid depth memory: 1024 infinite"):
        task._memory(0)  # pylint: disable=protected-access
    finally:
      sfm_data.generate_depth_memory = original

  def test_memory_in_millimetres_warns_in_a_tiny_run(self):
    path = os.path.join(self.get_temp_dir(), "depth_mm.npy")
    np.save(path, 1000.0 * sfm_data.generate_depth_memory(8, 32, 64, seed=3, workers=1))
    _tiny(f"tasks.SfmTask.memory_file = '{path}'", "train.collapse_patience = 1")
    with self.assertLogs("absl", level="WARNING") as logs:
      trainer.train(tempfile.mkdtemp(dir=self.get_temp_dir()))
    warnings = [r for r in logs.output if "memory_units" in r]
    self.assertLen(warnings, 1)  # Once, not at every check.
    self.assertIn("depth_mm.npy", warnings[0])
    self.assertRegex(warnings[0], r"median depth \d+\.?\d*, [\d.]+x the true depth")

  def test_memory_in_the_same_units_is_silent(self):
    task = sfm.SfmTask(height=16, width=32)
    depth = np.exp(np.random.default_rng(0).normal(1.5, 0.5, (2, 16, 32, 1)))
    batch = {keys.MEMORY: 2.0 * depth, keys.TARGET: depth}
    self.assertEqual(task.health(batch, {"depth": depth}), {})

  def test_without_true_depth_the_harmonic_means_compare(self):
    task = sfm.SfmTask(height=16, width=32)
    rng = np.random.default_rng(0)
    # Normalised predictions (harmonic mean ~5) and a road memory in metres: near road
    # 8-30 m, the top 6 of 16 rows sky at 300 m (median ~7x the predictions').
    predicted = np.exp(rng.normal(1.3, 0.4, (2, 16, 32, 1)))
    road = rng.uniform(8.0, 30.0, (2, 16, 32, 1))
    road[:, :6] = 300.0
    self.assertGreater(np.median(road) / np.median(predicted), 3.0)
    self.assertEqual(task.health({keys.MEMORY: road}, {"depth": predicted}), {})
    problems = task.health({keys.MEMORY: 1000.0 * road}, {"depth": predicted})
    self.assertRegex(problems["memory_units"],
                     r"harmonic mean depth [\d.e+]+, [\d.e+]+x the predicted depth's")

  def test_flat_depth_is_a_problem(self):
    task = sfm.SfmTask(height=16, width=32)
    flat = np.full((2, 16, 32, 1), 5.0)
    depth = flat * (1 + 1e-3 * np.random.default_rng(0).random(flat.shape))
    still = np.array([[0.01, 0.0, 0.0, 0.0, 0.01, 0.0]] * 2)  # 0.2% of the 5-unit depth.
    problems = task.health({}, {"depth": depth, "egomotion": still})
    self.assertEqual(list(problems), ["flat_depth"])
    self.assertIn("the camera moves 0.2% of the median depth", problems["flat_depth"])
    self.assertIn("sfm_sources.Frames.frame_step", problems["flat_depth"])


class PriorWeightTest(testing.TestCase):

  def _weight(self, *bindings):
    _tiny(*bindings)
    return config.resolve("train.model")().adversarial_weight

  def test_procedural_source_keeps_the_discriminator(self):
    self.assertEqual(self._weight(), 0.01)

  def test_real_source_without_memory_trains_without_discriminator(self):
    with self.assertLogs("absl", level="WARNING") as logs:
      weight = self._weight("tasks.SfmTask.source = 'frames'",
                            "sfm_sources.Frames.data_dir = '/videos/bikes.mp4'",
                            "sfm_sources.Frames.fov_degrees = 60.0")
    self.assertEqual(weight, 0.0)
    self.assertIn("/videos/bikes.mp4", logs.output[0])
    self.assertIn("tasks.SfmTask.memory_file", logs.output[0])

  def test_real_source_with_memory_keeps_the_discriminator(self):
    self.assertEqual(self._weight("tasks.SfmTask.source = 'frames'",
                                  "sfm_sources.Frames.data_dir = '/videos/bikes.mp4'",
                                  "sfm_sources.Frames.fov_degrees = 60.0",
                                  "tasks.SfmTask.memory_file = '/data/street.npy'"), 0.01)

  def test_real_source_object_without_memory_trains_without_discriminator(self):
    # The full form of the binding, a source object, is read the same way.
    with self.assertLogs("absl", level="WARNING") as logs:
      weight = self._weight("tasks.SfmTask.source = @sfm_sources.Frames()",
                            "sfm_sources.Frames.data_dir = '/videos/bikes.mp4'",
                            "sfm_sources.Frames.fov_degrees = 60.0")
    self.assertEqual(weight, 0.0)
    self.assertIn("source='frames' (/videos/bikes.mp4)", logs.output[0])

  def test_remedy_names_memory_and_inputs(self):
    task = sfm.SfmTask(source=sfm_sources.Frames(data_dir="/videos/bikes.mp4",
                                                 fov_degrees=60.0))
    self.assertIn("procedural corridor depth maps and the inputs the frames of "
                  "/videos/bikes.mp4", task.memory_remedy())
    self.assertIn("training_camera()", task.memory_remedy())

  def test_training_camera_is_the_pairs_camera_at_the_task_size(self):
    # 160 x 40 frames, centre-cropped to 120 x 40 (1:3) and resized to 16 x 48 (x 0.4): the
    # principal point moves with the crop and the resize.
    folder = testing.write_random_frames(os.path.join(self.get_temp_dir(), "frames"), 5, 40,
                                         160)
    task = sfm.SfmTask(height=16, width=48, source=sfm_sources.Frames(
        data_dir=folder, intrinsics=[100.0, 90.0, 80.0, 30.0], crop="center"))
    camera = task.training_camera()
    self.assertEqual(camera.shape, (4,))
    pairs = task._pairs("train")  # pylint: disable=protected-access
    self.assertAllClose(camera, np.median(pairs["intrinsics"], axis=0))
    self.assertAllClose(camera[:2], [40.0, 36.0], atol=0.5)
    self.assertAllClose(camera[2:], [(80.0 - 20.0) * 0.4, 30.0 * 0.4], atol=0.5)


class VideoConfigTest(testing.TestCase):

  def test_sfm_video_gin_trains_two_steps_on_a_video(self):
    video = write_video(os.path.join(self.get_temp_dir(), "clip.mp4"))
    config.parse([os.path.join(testing.GIN_DIR, "sfm_video.gin"),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")],
                 [f"sfm_sources.Frames.data_dir = '{video}'"])
    model_dir = tempfile.mkdtemp(dir=self.get_temp_dir())
    result = trainer.train(model_dir)
    self.assertEqual(result["step"], 2)
    self.assertNotIn("discriminator_loss", result["train"])
    self.assertTrue(glob.glob(os.path.join(model_dir, runs.CHECKPOINT_DIR, "ckpt-2.index")))
    self.assert_finite(result["eval"]["reconstruction_loss"])


if __name__ == "__main__":
  tf.test.main()
