"""Tests of the SfmTask sources "kitti_eigen" (Eigen test split with velodyne depth) and
"frames" (image folders and videos)."""

import os
import tempfile

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.tasks import sfm

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
    task = sfm.SfmTask(source="kitti_eigen", data_dir=self.root, height=16, width=32,
                       memory_file=os.path.join(self.root, "memory.npy"))
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
    task = sfm.SfmTask(source="kitti_eigen", data_dir=self.root, height=16, width=32,
                       eigen_list=os.path.join(self.root, "other.txt"))
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
    task = sfm.SfmTask(source="frames", data_dir=self.folder, height=16, width=32,
                       fov_degrees=90.0, eval_fraction=0.34, num_memory=2,
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
    with self.assertRaisesRegex(errors.ConfigError, "needs exactly one of SfmTask.intrinsics"):
      sfm.SfmTask(source="frames", data_dir=self.folder)
    with self.assertRaisesRegex(errors.ConfigError, "SfmTask.intrinsics: f_x = -1.0"):
      sfm.SfmTask(source="frames", data_dir=self.folder, intrinsics=[-1.0, 1.0, 1.0, 1.0])
    with self.assertRaisesRegex(errors.ConfigError, "fov_degrees = 0 must be in"):
      sfm.SfmTask(source="frames", data_dir=self.folder, fov_degrees=0)
    with self.assertRaisesRegex(errors.ConfigError, "SfmTask.crop must be one of"):
      sfm.SfmTask(source="frames", data_dir=self.folder, fov_degrees=60.0, crop="middle")


if __name__ == "__main__":
  tf.test.main()
