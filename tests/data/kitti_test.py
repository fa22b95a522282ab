"""Tests of KITTI velodyne depth and the Eigen split on tiny hand-made files."""

import os
import tempfile

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import kitti
from aign_tf.data import sfm

# Laser (x forward, y left, z up) -> camera 0 (x right, y down, z forward), then 0.5 back.
VELO_TO_CAM = "calib_time: 15-Mar-2012 11:37:16\nR: 0 -1 0 0 0 -1 1 0 0\nT: 0 0 -0.5\n"
# R_rect_00 = diag(-1, -1, 1); P_rect_02 with f = 100, c = (20, 10), a column shift of 50 and
# a depth offset of 0.5; a 40 x 20 image.
CAM_TO_CAM = ("R_rect_00: -1 0 0 0 -1 0 0 0 1\n"
              "P_rect_02: 100 0 20 50 0 100 10 0 0 0 1 0.5\n"
              "S_rect_02: 4.000000e+01 2.000000e+01\n")
# Laser points and, by hand: camera 0 = (-y, -z, x - 0.5); rectified = (-X, -Y, Z);
# (u w, v w, w) = (100 X + 20 Z + 50, 100 Y + 10 Z, Z + 0.5).
POINTS = np.array([
    [4.5, 0.2, -0.1, 0.3],    # rect (0.2, -0.1, 4): w 4.5, u 150/4.5 = 33.33, v 30/4.5 = 6.67
    [10.0, 0.9, -0.25, 0.1],  # rect (0.9, -0.25, 9.5): w 10, u 33, v 7 (same pixel, farther)
    [-5.0, 0.0, 0.0, 0.2],    # behind the camera (w = -5)
    [5.0, -20.0, 0.0, 0.1],   # rect (-20, 0, 4.5): u = -1860 / 5, left of the image
    [2.0, -0.1, 0.05, 0.9],   # rect (-0.1, 0.05, 1.5): w 2, u 70/2 = 35, v 20/2 = 10
], np.float32)


def _write(path, text):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    f.write(text)


def _write_calibration(date_dir, velo=VELO_TO_CAM, cam=CAM_TO_CAM):
  _write(os.path.join(date_dir, "calib_velo_to_cam.txt"), velo)
  _write(os.path.join(date_dir, "calib_cam_to_cam.txt"), cam)


def _write_scan(path, points):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  np.asarray(points, "<f4").tofile(path)


class VelodyneDepthTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp(dir=self.get_temp_dir())
    _write_calibration(self.root)
    self.scan = os.path.join(self.root, "scan.bin")
    _write_scan(self.scan, POINTS)

  def test_read_calibration(self):
    velo = kitti.read_velo_to_cam(os.path.join(self.root, "calib_velo_to_cam.txt"))
    self.assertAllClose(velo @ [4.5, 0.2, -0.1, 1.0], [-0.2, 0.1, 4.0, 1.0])
    r_rect, p_rect, size = kitti.read_cam_to_cam(
        os.path.join(self.root, "calib_cam_to_cam.txt"))
    self.assertAllClose(r_rect, np.diag([-1.0, -1.0, 1.0, 1.0]))
    self.assertAllClose(p_rect[:, 3], [50.0, 0.0, 0.5])
    self.assertEqual(size, (20, 40))

  def test_velodyne_depth_preset(self):
    depth = kitti.velodyne_depth(self.scan, self.root)
    expected = np.zeros((20, 40), np.float32)
    expected[7, 33] = 4.5  # The nearer of the two points that land on (row 7, column 33).
    expected[10, 35] = 2.0
    self.assertAllClose(depth, expected, atol=1e-5)

  def test_velodyne_depth_matlab_offset(self):
    depth = kitti.velodyne_depth(self.scan, self.root, matlab_offset=True)
    expected = np.zeros((20, 40), np.float32)
    expected[6, 32] = 4.5
    expected[9, 34] = 2.0
    self.assertAllClose(depth, expected, atol=1e-5)

  def test_velodyne_depth_nearest_wins_in_any_order(self):
    _write_scan(self.scan, POINTS[::-1])
    self.assertAllClose(kitti.velodyne_depth(self.scan, self.root)[7, 33], 4.5, atol=1e-5)

  def test_velodyne_depth_resized_scatters_points(self):
    depth = kitti.velodyne_depth(self.scan, self.root, size=(10, 20))
    # u' = (u + 0.5) / 2 - 0.5: (33.33, 6.67) -> (16.42, 3.08); (33, 7) -> (16.25, 3.25);
    # (35, 10) -> (17.25, 5.25).
    expected = np.zeros((10, 20), np.float32)
    expected[3, 16] = 4.5
    expected[5, 17] = 2.0
    self.assertAllClose(depth, expected, atol=1e-5)
    full = kitti.velodyne_depth(self.scan, self.root)
    self.assertAllClose(kitti.resize_sparse_depth(full, 10, 20), expected, atol=1e-5)

  def test_garg_crop_mask(self):
    mask = kitti.garg_crop_mask(100, 1000)
    self.assertEqual(mask.sum(), (99 - 40) * (964 - 35))
    self.assertTrue(mask[40, 35] and mask[98, 963])
    self.assertFalse(mask[39, 500] or mask[99, 500] or mask[50, 34] or mask[50, 964])

  def test_velodyne_exception_raised(self):
    with self.assertRaisesRegex(errors.DataError, "missing.bin: velodyne scan not found"):
      kitti.read_velodyne(os.path.join(self.root, "missing.bin"))
    with open(self.scan, "wb") as f:
      f.write(b"\0" * 20)
    with self.assertRaisesRegex(errors.DataError, "scan.bin: 20 bytes is not a multiple of 16"):
      kitti.velodyne_depth(self.scan, self.root)
    _write_scan(self.scan, POINTS)
    other = os.path.join(self.root, "other")
    with self.assertRaisesRegex(errors.DataError,
                                "calib_velo_to_cam.txt: KITTI calibration file not found"):
      kitti.velodyne_depth(self.scan, other)
    _write_calibration(other, velo="R: 1 0 0 0 1 0 0 0 1\n")
    with self.assertRaisesRegex(errors.DataError, "calib_velo_to_cam.txt: no 'T' line"):
      kitti.velodyne_depth(self.scan, other)
    _write_calibration(other, velo="R: 1 0 0 0 1 0 0 0\nT: 0 0 0\n")
    with self.assertRaisesRegex(errors.DataError,
                                "calib_velo_to_cam.txt: 'R' has 8 values, expected 9"):
      kitti.velodyne_depth(self.scan, other)
    _write_calibration(other, cam=CAM_TO_CAM.replace("R_rect_00", "R_rect_01"))
    with self.assertRaisesRegex(errors.DataError, "calib_cam_to_cam.txt: no 'R_rect_00' line"):
      kitti.velodyne_depth(self.scan, other)
    _write_calibration(other, cam=CAM_TO_CAM.replace("0 0 1 0.5", "0 0 1 x"))
    with self.assertRaisesRegex(errors.DataError, "calib_cam_to_cam.txt: 'P_rect_02' is not "
                                                  "numeric"):
      kitti.velodyne_depth(self.scan, other)


def _write_frame(root, drive, index, value, camera="02"):
  path = os.path.join(root, drive, f"image_{camera}", "data", f"{index:010d}.png")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(np.full((20, 40, 3), value, np.uint8)).save(path)


DRIVE = "2011_09_26/2011_09_26_drive_0002_sync"
OTHER_DRIVE = "2011_09_26/2011_09_26_drive_0001_sync"


class EigenSplitTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp(dir=self.get_temp_dir())
    _write_calibration(os.path.join(self.root, "2011_09_26"))
    with open(os.path.join(self.root, "2011_09_26", "calib_cam_to_cam.txt"), "a") as f:
      f.write("P_rect_03: 100 0 20 -50 0 100 10 0 0 0 1 0.5\nS_rect_03: 40 20\n")
    for index in range(3):
      _write_frame(self.root, DRIVE, index, 30 * index)
      _write_frame(self.root, OTHER_DRIVE, index, 100 + index)
      _write_scan(os.path.join(self.root, DRIVE, "velodyne_points", "data",
                               f"{index:010d}.bin"), POINTS)
    self.list_path = os.path.join(self.root, "test_files_eigen.txt")

  def _list(self, *lines):
    _write(self.list_path, "\n".join(lines) + "\n")
    return self.list_path

  def test_read_eigen_list_both_formats(self):
    path = self._list(f"{DRIVE} 0000000069 l", "",
                      f"{DRIVE}/image_02/data/0000000012.png",
                      f"{DRIVE}/image_02/data/0000000013.jpg {DRIVE}/image_03/data/0000000013.jpg",
                      f"{DRIVE} 0000000002 r")
    self.assertEqual(kitti.read_eigen_list(path), [
        (DRIVE, 69, "02", 1), (DRIVE, 12, "02", 3), (DRIVE, 13, "02", 4), (DRIVE, 2, "03", 5)])
    self.assertEqual(kitti.eigen_test_drives(path), {"2011_09_26_drive_0002_sync"})

  def test_load_eigen_test(self):
    path = self._list(f"{DRIVE} 0000000001 l", f"{DRIVE}/image_02/data/0000000002.png")
    data = kitti.load_eigen_test(self.root, path, 10, 20, crop=False)
    self.assertEqual(data["target_frame"].shape, (2, 10, 20, 3))
    self.assertAllEqual(data["target_frame"][:, 0, 0, 0], [30, 60])
    self.assertAllEqual(data["source_frame"][:, 0, 0, 0], [0, 30])
    self.assertAllClose(data["intrinsics"][0],
                        [50.0, 50.0, (20 + 0.5) / 2 - 0.5, (10 + 0.5) / 2 - 0.5])
    expected = np.zeros((10, 20), np.float32)
    expected[3, 16] = 4.5
    expected[5, 17] = 2.0
    self.assertAllClose(data["depth"][1, ..., 0], expected, atol=1e-5)
    self.assertEqual(data["depth"].shape, (2, 10, 20, 1))
    self.assertAllEqual(data["frame"], [1, 2])
    self.assertAllEqual(data["drive"], ["2011_09_26_drive_0002_sync"] * 2)
    # The depth cap and the Garg crop (rows [4, 9), columns [0, 19) of a 10 x 20 map) each
    # remove the point at (3, 16).
    capped = kitti.load_eigen_test(self.root, path, 10, 20, max_depth=3.0, crop=False)
    cropped = kitti.load_eigen_test(self.root, path, 10, 20, max_depth=None, crop=True)
    expected[3, 16] = 0.0
    self.assertAllClose(capped["depth"][0, ..., 0], expected, atol=1e-5)
    self.assertAllClose(cropped["depth"][0, ..., 0], expected, atol=1e-5)

  def test_right_camera_uses_its_projection(self):
    for index in range(2):
      _write_frame(self.root, DRIVE, index, 7, camera="03")
    data = kitti.load_eigen_test(self.root, self._list(f"{DRIVE} 0000000001 r"), 20, 40,
                                 crop=False)
    # P_rect_03 has -50 where P_rect_02 has +50, so u w drops by 100: u = 50 / 4.5 = 11.1,
    # 230 / 10 = 23 (no longer behind the first point) and -30 / 2 = -15 (outside).
    expected = np.zeros((20, 40), np.float32)
    expected[7, 11] = 4.5
    expected[7, 23] = 10.0
    self.assertAllClose(data["depth"][0, ..., 0], expected, atol=1e-5)

  def test_eigen_exception_raised(self):
    with self.assertRaisesRegex(errors.DataError, "test_files_eigen.txt:2: frame 0 of "):
      kitti.load_eigen_test(self.root, self._list(f"{DRIVE} 0000000001 l",
                                                  f"{DRIVE} 0000000000 l"))
    os.remove(os.path.join(self.root, DRIVE, "image_02", "data", "0000000001.png"))
    with self.assertRaisesRegex(errors.DataError, r"test_files_eigen.txt:1: previous frame "
                                                  "0000000001 of .* not found"):
      kitti.load_eigen_test(self.root, self._list(f"{DRIVE} 0000000002 l"))
    with self.assertRaisesRegex(errors.DataError, "test_files_eigen.txt:1: frame image .*"
                                                  "0000000009.png not found"):
      kitti.load_eigen_test(self.root, self._list(f"{DRIVE} 0000000009 l"))
    with self.assertRaisesRegex(errors.DataError, "test_files_eigen.txt:1: expected"):
      kitti.read_eigen_list(self._list(f"{DRIVE} 12 x"))
    with self.assertRaisesRegex(errors.DataError, "test_files_eigen.txt: no entries"):
      kitti.read_eigen_list(self._list(""))
    os.remove(os.path.join(self.root, DRIVE, "velodyne_points", "data", "0000000002.bin"))
    _write_frame(self.root, DRIVE, 1, 0)
    with self.assertRaisesRegex(errors.DataError, "0000000002.bin: velodyne scan not found"):
      kitti.load_eigen_test(self.root, self._list(f"{DRIVE} 0000000002 l"))

  def test_kitti_raw_excludes_test_drives(self):
    path = self._list(f"{DRIVE} 0000000001 l")
    pairs = kitti.load_kitti_raw(self.root, 16, 32, exclude_drives=kitti.eigen_test_drives(path))
    self.assertAllEqual(pairs["drive"], ["2011_09_26_drive_0001_sync"] * 2)
    self.assertAllEqual(pairs["target_frame"][:, 0, 0, 0], [101, 102])
    with self.assertRaisesRegex(errors.DataError, "every KITTI raw drive is excluded"):
      kitti.load_kitti_raw(self.root, exclude_drives={"2011_09_26_drive_0001_sync",
                                                     "2011_09_26_drive_0002_sync"})


if __name__ == "__main__":
  tf.test.main()
