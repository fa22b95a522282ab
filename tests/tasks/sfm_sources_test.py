"""Tests of the sfm sources (`aign_tf.tasks.sfm_sources`): "kitti_eigen" (Eigen test split
with velodyne depth), "frames" (image folders and videos), and how they are bound in gin."""

import inspect
import os
import re
import tempfile

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import config
from aign_tf import errors
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.tasks import sfm
from aign_tf.tasks import sfm_moved
from aign_tf.tasks import sfm_sources

# Hand-made calibration (see tests/data/kitti_test.py): laser (x, y, z) -> rectified camera
# (X, Y, Z) = (y, z, x - 0.5); (u w, v w, w) = (100 X + 20 Z + 50, 100 Y + 10 Z, Z + 0.5).
VELO_TO_CAM = "R: 0 -1 0 0 0 -1 1 0 0\nT: 0 0 -0.5\n"
CAM_TO_CAM = ("R_rect_00: -1 0 0 0 -1 0 0 0 1\nP_rect_02: 100 0 20 50 0 100 10 0 0 0 1 0.5\n"
              "S_rect_02: 40 20\n")
TEST_DRIVE = "2011_09_26/2011_09_26_drive_0002_sync"
TRAIN_DRIVE = "2011_09_26/2011_09_26_drive_0001_sync"


def _write_png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)


def _scan(pixels_and_depths):
  """Laser points that project to the given original-size (u, v) pixels at depth w."""
  u, v, w = np.asarray(pixels_and_depths, np.float64).T
  z = w - 0.5
  x_rect, y_rect = (u * w - 20 * z - 50) / 100, (v * w - 10 * z) / 100
  return np.stack([w, x_rect, y_rect, np.zeros_like(w)], axis=-1).astype("<f4")


class KittiEigenSourceTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp(dir=self.get_temp_dir())
    date = os.path.join(self.root, "2011_09_26")
    os.makedirs(date)
    for name, text in (("calib_velo_to_cam.txt", VELO_TO_CAM),
                       ("calib_cam_to_cam.txt", CAM_TO_CAM)):
      with open(os.path.join(date, name), "w") as f:
        f.write(text)
    for drive, base in ((TEST_DRIVE, 0), (TRAIN_DRIVE, 100)):
      for i in range(4):
        _write_png(os.path.join(self.root, drive, "image_02", "data", f"{i:010d}.png"),
                   np.full((20, 40, 3), base + 10 * i, np.uint8))
    # Points at every 5th column of rows 12, 14, 16, 18 of the 40 x 20 image, depth 2 .. 8:
    # after resizing to 32 x 16 they land on distinct pixels inside the Garg crop.
    pixels = [(u, v, 2.0 + (v - 12)) for u in range(5, 36, 5) for v in range(12, 20, 2)]
    self.scan_pixels = pixels
    scan = os.path.join(self.root, TEST_DRIVE, "velodyne_points", "data", "0000000002.bin")
    os.makedirs(os.path.dirname(scan))
    _scan(pixels).tofile(scan)
    with open(os.path.join(self.root, "test_files_eigen.txt"), "w") as f:
      f.write(f"{TEST_DRIVE} 0000000002 l\n")
    np.save(os.path.join(self.root, "memory.npy"), np.full((2, 16, 32), 4.0, np.float32))

  def test_train_on_other_drives_evaluate_on_list(self):
    task = sfm.SfmTask(source=sfm_sources.KittiEigen(data_dir=self.root), height=16,
                       width=32, memory_file=os.path.join(self.root, "memory.npy"))
    batch = next(iter(task.train_dataset(3)))
    self.assertEqual(batch[keys.OBSERVATION]["frames"].shape, (3, 16, 32, 6))
    self.assertNotIn(keys.TARGET, batch)
    # Only the training drive's frames (values 100 .. 130) are seen in training.
    self.assertGreaterEqual(float(tf.reduce_min(batch[keys.OBSERVATION]["frames"])),
                            99.0 / 255.0)
    eval_batch = {k: (np.asarray(v) if k not in (keys.CONTEXT, keys.OBSERVATION) else v)
                  for k, v in next(iter(task.eval_dataset(4))).items()}
    self.assertEqual(eval_batch[keys.TARGET].shape, (1, 16, 32, 1))
    self.assertAllClose(eval_batch[keys.OBSERVATION]["frames"][0, 0, 0],
                        [20 / 255] * 3 + [10 / 255] * 3)
    depth = eval_batch[keys.TARGET][0, ..., 0]
    self.assertEqual(np.count_nonzero(depth), len(self.scan_pixels))
    self.assertAllClose(sorted(depth[depth > 0]), sorted(p[2] for p in self.scan_pixels),
                        atol=1e-4)
    # A prediction equal to twice the true depth where it is known and random elsewhere is
    # exact after median scaling: pixels without depth are not evaluated.
    predicted = np.where(depth > 0, 2.0 * depth,
                         np.random.default_rng(0).uniform(1.0, 50.0, depth.shape))
    metrics = task.metrics(eval_batch, {"depth": predicted[None, ..., None]})
    self.assertAllClose(metrics["abs_rel"], [0.0], atol=1e-5)
    self.assertAllClose(metrics["delta_1.25"], [1.0])

  def test_eigen_list_default_and_missing(self):
    task = sfm.SfmTask(source=sfm_sources.KittiEigen(
        data_dir=self.root, eigen_list=os.path.join(self.root, "other.txt")), height=16,
                       width=32)
    with self.assertRaisesRegex(errors.DataError, "other.txt: Eigen split list not found"):
      next(iter(task.eval_dataset(1)))


class FramesSourceTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.folder = tempfile.mkdtemp(dir=self.get_temp_dir())
    for i in range(4):
      _write_png(os.path.join(self.folder, f"{i:03d}.jpg"), np.full((20, 40, 3), 20 * i,
                                                                    np.uint8))

  def test_frames_source(self):
    source = sfm_sources.Frames(data_dir=self.folder, fov_degrees=90.0, eval_fraction=0.34)
    task = sfm.SfmTask(source=source, height=16, width=32, num_memory=2,
                       memory_file=self._memory())
    batch = next(iter(task.train_dataset(2)))
    self.assertEqual(batch[keys.OBSERVATION]["frames"].shape, (2, 16, 32, 6))
    eval_batch = next(iter(task.eval_dataset(4)))
    self.assertEqual(eval_batch[keys.OBSERVATION]["frames"].shape[0], 1)  # The last of 3 pairs.
    self.assertAllClose(eval_batch[keys.OBSERVATION]["frames"][0, 0, 0],
                        [60 / 255] * 3 + [40 / 255] * 3,
                        atol=2 / 255)
    # f = 20 px in the 40-pixel-wide frames (90 degrees), times 32 / 40.
    self.assertAllClose(eval_batch[keys.CONTEXT]["intrinsics"][0],
                        [16.0, 16.0, 20.0 * 0.8 - 0.5, 10.0 * 0.8 - 0.5])

  def _memory(self):
    path = os.path.join(self.folder, "memory.npy")
    np.save(path, np.full((2, 16, 32), 4.0, np.float32))
    return path

  def test_frames_config_exception_raised(self):
    with self.assertRaisesRegex(errors.ConfigError, "needs exactly one of "
                                "sfm_sources.Frames.intrinsics"):
      sfm_sources.Frames(data_dir=self.folder)
    with self.assertRaisesRegex(errors.ConfigError,
                                "sfm_sources.Frames.intrinsics: f_x = -1.0"):
      sfm_sources.Frames(data_dir=self.folder, intrinsics=[-1.0, 1.0, 1.0, 1.0])
    with self.assertRaisesRegex(errors.ConfigError, "fov_degrees = 0 must be in"):
      sfm_sources.Frames(data_dir=self.folder, fov_degrees=0)
    with self.assertRaisesRegex(errors.ConfigError, "sfm_sources.Frames.crop must be one of"):
      sfm_sources.Frames(data_dir=self.folder, fov_degrees=60.0, crop="middle")
    with self.assertRaisesRegex(errors.ConfigError, "needs a data_dir: bind "
                                "sfm_sources.Frames.data_dir"):
      sfm_sources.Frames(fov_degrees=60.0)


_OLD_OPERATIVE_CONFIG = """# Parameters for SfmTask:
# ==============================================================================
SfmTask.blur_levels = 0
SfmTask.cache_dir = None
SfmTask.crop = 'center'
SfmTask.data_dir = \\
    '/videos/""" + "x" * 80 + """.mp4'
SfmTask.eigen_list = None
SfmTask.eval_fraction = 0.2
SfmTask.fov_degrees = 60.0
SfmTask.frame_step = 2
SfmTask.height = 32
SfmTask.intrinsics = None
SfmTask.labelled_only = False
SfmTask.memory_file = None
SfmTask.memory_scale = 1.0
SfmTask.metric_scale = False
SfmTask.num_eval = 4
SfmTask.num_images = 4
SfmTask.num_memory = 8
SfmTask.num_snippets = 2
SfmTask.num_train = 8
SfmTask.paired_fraction = 0.0
SfmTask.poses_file = None
SfmTask.source = 'frames'
SfmTask.texture = 'photos'
SfmTask.width = 64

# Parameters for train:
# ==============================================================================
train.task = @SfmTask()
"""


class SourceBindingsTest(testing.TestCase):
  """The short name and the object bind the same source; SfmTask's old per-source bindings
  fail in one line naming the new binding."""

  def _task(self, gin_file, *bindings):
    config.parse([os.path.join(testing.GIN_DIR, gin_file)], list(bindings))
    return config.resolve("train.task")

  def test_short_name_and_object_are_the_same_source(self):
    for source in ("'frames'", "@sfm_sources.Frames()"):
      task = self._task("sfm.gin", f"tasks.SfmTask.source = {source}",
                        "sfm_sources.Frames.data_dir = '/videos/clip.mp4'",
                        "sfm_sources.Frames.fov_degrees = 60.0",
                        "sfm_sources.Frames.frame_step = 2")
      self.assertIsInstance(task.source, sfm_sources.Frames)
      self.assertEqual((task.source.data_dir, task.source.fov_degrees,
                        task.source.frame_step), ("/videos/clip.mp4", 60.0, 2))
    task = self._task("sfm.gin")
    self.assertIsInstance(task.source, sfm_sources.Procedural)
    self.assertEqual((task.source.num_train, task.source.texture), (2000, "photos"))

  @testing.parameterized.parameters(
      ("sfm.gin", "num_train", "sfm_sources.Procedural.num_train"),
      ("sfm.gin", "texture", "sfm_sources.Procedural.texture"),
      ("sfm.gin", "num_snippets", "sfm_sources.Procedural.num_snippets"),
      ("sfm_video.gin", "data_dir", "sfm_sources.Frames.data_dir"),
      ("sfm_video.gin", "intrinsics", "sfm_sources.Frames.intrinsics"),
      ("sfm_video.gin", "fov_degrees", "sfm_sources.Frames.fov_degrees"),
      ("sfm_video.gin", "crop", "sfm_sources.Frames.crop"),
      ("sfm_video.gin", "frame_step", "sfm_sources.Frames.frame_step"),
      ("sfm_video.gin", "eval_fraction", "sfm_sources.Frames.eval_fraction"),
      ("sfm.gin", "poses_file", "sfm_sources.KittiRaw.poses_file"),
      ("sfm.gin", "eigen_list", "sfm_sources.KittiEigen.eigen_list"),
      # With no real source bound, every class that takes the argument is named.
      ("sfm.gin", "data_dir", "sfm_sources.Frames.data_dir or sfm_sources.KittiRaw.data_dir "
       "or sfm_sources.KittiEigen.data_dir or sfm_sources.SfmLearner.data_dir"))
  def test_old_binding_names_the_new_one(self, gin_file, parameter, new):
    with self.assertRaises(errors.ConfigError) as raised:
      self._task(gin_file, f"tasks.SfmTask.{parameter} = 1")
    message = str(raised.exception)
    self.assertLen(message.splitlines(), 1)
    self.assertStartsWith(message, f"gin: tasks.SfmTask.{parameter} moved: bind {new}")

  def test_the_source_bound_before_picks_the_class(self):
    with self.assertRaisesRegex(errors.ConfigError, r"^gin: tasks.SfmTask.data_dir moved: "
                                r"bind sfm_sources.KittiEigen.data_dir \("):
      self._task("sfm.gin", "tasks.SfmTask.source = @sfm_sources.KittiEigen()",
                 "tasks.SfmTask.data_dir = '/kitti'")

  def test_moved_bindings_name_real_parameters(self):
    # Every hint names an argument the source class takes, and no SfmTask argument.
    for old, hint in sfm_moved.MOVED_BINDINGS.items():
      parameter = old.rsplit(".", 1)[1]
      self.assertNotIn(parameter, inspect.signature(sfm.SfmTask.__init__).parameters)
      for name in re.findall(r"sfm_sources\.(\w+)\.", hint()):
        self.assertIn(parameter,
                      inspect.signature(getattr(sfm_sources, name).__init__).parameters)

  def test_operative_config_of_an_older_run_is_upgraded(self):
    # What training wrote before the sources were objects (every argument of the old
    # SfmTask, a long value continued on the next line): evaluation and export still read it.
    path = os.path.join(self.get_temp_dir(), "operative_config.gin")
    with open(path, "w") as f:
      f.write(_OLD_OPERATIVE_CONFIG)
    config.parse_operative(path)
    task = config.resolve("train.task")
    self.assertIsInstance(task.source, sfm_sources.Frames)
    self.assertEqual((task.source.data_dir, task.source.fov_degrees, task.source.crop,
                      task.source.frame_step, task.source.eval_fraction),
                     ("/videos/" + "x" * 80 + ".mp4", 60.0, "center", 2, 0.2))
    self.assertEqual((task.height, task.width, task.num_memory, task.cache_dir), (32, 64, 8, None))
    upgraded = sfm_moved.upgrade_operative_config(_OLD_OPERATIVE_CONFIG)
    self.assertNotIn("SfmTask.num_train", upgraded)  # Frames ignored it: dropped.
    self.assertNotIn("SfmTask.data_dir", upgraded)
    self.assertIn("sfm_sources.Frames.data_dir = \\\n    '/videos/", upgraded)
    self.assertEqual(sfm_moved.upgrade_operative_config(upgraded), upgraded)
    procedural = sfm_moved.upgrade_operative_config(
        _OLD_OPERATIVE_CONFIG.replace("'frames'", "'procedural'"))
    self.assertIn("sfm_sources.Procedural.num_train = 8\n", procedural)
    self.assertNotIn("data_dir", procedural)

  def test_unknown_binding_is_still_gins_error(self):
    with self.assertRaisesRegex(errors.ConfigError, "doesn't have a parameter named "
                                "'datadir'"):
      self._task("sfm.gin", "tasks.SfmTask.datadir = 1")


if __name__ == "__main__":
  tf.test.main()
