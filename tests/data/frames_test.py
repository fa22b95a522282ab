"""Tests of frame pairs from image folders and videos, intrinsics from crops and fields of
view."""

import os
import sys
import tempfile
import unittest
from unittest import mock

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import frames
from aign_tf.data import sfm

try:
  import av  # pylint: disable=g-import-not-at-top
except ImportError:
  av = None


def _write_png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)


def _project(points, intrinsics):
  fx, fy, cx, cy = intrinsics
  return np.stack([fx * points[:, 0] / points[:, 2] + cx,
                   fy * points[:, 1] / points[:, 2] + cy], axis=-1)


def _unproject(pixels, depth, intrinsics):
  fx, fy, cx, cy = intrinsics
  return np.stack([(pixels[:, 0] - cx) / fx * depth, (pixels[:, 1] - cy) / fy * depth, depth],
                  axis=-1)


class IntrinsicsTest(testing.TestCase):

  def test_fov_intrinsics_preset(self):
    # 90 degrees across 40 pixels: the image half-width (20 px) is at 45 degrees, f = 20.
    self.assertAllClose(frames.fov_intrinsics(10, 40, 90.0), [20.0, 20.0, 19.5, 4.5])
    with self.assertRaisesRegex(errors.ConfigError, "fov_degrees = 180.0 must be in"):
      frames.fov_intrinsics(10, 40, 180.0)

  def test_center_crop_box(self):
    self.assertEqual(frames.center_crop_box((100, 400), 0.5), (0, 100, 100, 200))
    self.assertEqual(frames.center_crop_box((100, 120), 0.25), (35, 0, 30, 120))

  def test_crop_and_resize_keep_projection(self):
    original = np.array([300.0, 280.0, 330.0, 110.0])  # 240 x 640 frames
    frame = np.zeros((240, 640, 3), np.uint8)
    pairs = frames.prepare_frames([frame, frame], ["a", "b"], 32, 48, intrinsics=original,
                                  crop="center")
    top, left, crop_h, crop_w = frames.center_crop_box((240, 640), 32 / 48)
    self.assertEqual((top, left, crop_h, crop_w), (0, 140, 240, 360))
    sx, sy = 48 / crop_w, 32 / crop_h

    def to_output(pixels):  # Original pixel -> crop -> resize (pixel centres at integers).
      return np.stack([(pixels[:, 0] - left + 0.5) * sx - 0.5,
                       (pixels[:, 1] - top + 0.5) * sy - 0.5], axis=-1)

    new = pairs["intrinsics"][0].astype(np.float64)
    points = np.random.default_rng(0).uniform([-2, -1, 3], [2, 1, 10], (20, 3))
    self.assertAllClose(_project(points, new), to_output(_project(points, original)),
                        atol=1e-4)
    # Unprojecting an output pixel and projecting into the original frame lands on the
    # original pixel that maps to it.
    pixels = np.array([[0.0, 0.0], [47.0, 31.0], [12.5, 20.0]])
    back = _project(_unproject(pixels, np.array([2.0, 5.0, 7.0]), new), original)
    self.assertAllClose(to_output(back), pixels, atol=1e-4)

  def test_crop_moves_pixels_as_intrinsics_say(self):
    frame = np.zeros((20, 60, 3), np.uint8)
    frame[5, 33] = 255
    pairs = frames.prepare_frames([frame, frame], ["a", "b"], 20, 40, fov_degrees=60.0,
                                  crop="center")
    # 60 x 20 frame cropped to 40 x 20 from column 10: the bright pixel moves to column 23.
    self.assertAllEqual(np.argwhere(pairs["target_frame"][0, ..., 0] == 255), [[5, 23]])
    focal = 30.0 / np.tan(np.radians(30.0))
    self.assertAllClose(pairs["intrinsics"][0], [focal, focal, 29.5 - 10, 9.5], rtol=1e-6)
    self.assertAllClose(frames.crop_intrinsics([focal, focal, 29.5, 9.5], 0, 10),
                        pairs["intrinsics"][0], rtol=1e-6)

  def test_intrinsics_exception_raised(self):
    frame = np.zeros((8, 8, 3), np.uint8)
    for bad, message in (([-5.0, 5.0, 4.0, 4.0], "f_x = -5.0 must be finite and > 0"),
                         ([5.0, 5.0, np.nan, 4.0], "c_x = nan must be finite"),
                         ([5.0, 0.0, 4.0, 4.0], "f_y = 0.0 must be"),
                         ([5.0, 5.0, 4.0], "expected 4 values")):
      with self.assertRaisesRegex(errors.ConfigError, message):
        frames.prepare_frames([frame, frame], ["a", "b"], 8, 8, intrinsics=bad)
    with self.assertRaisesRegex(errors.ConfigError, "clip: missing calibration"):
      frames.prepare_frames([frame, frame], ["a", "b"], 8, 8, where="clip")
    with self.assertRaisesRegex(errors.ConfigError, "not both"):
      frames.prepare_frames([frame, frame], ["a", "b"], 8, 8, [5, 5, 4, 4], 60.0)
    with self.assertRaisesRegex(errors.ConfigError, "crop must be one of"):
      frames.prepare_frames([frame, frame], ["a", "b"], 8, 8, fov_degrees=60.0, crop="left")


class FrameFolderTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.folder = tempfile.mkdtemp(dir=self.get_temp_dir())
    for index, value in ((1, 10), (2, 20), (10, 100)):
      _write_png(os.path.join(self.folder, f"frame{index}.png"),
                 np.full((30, 60, 3), value, np.uint8))
    with open(os.path.join(self.folder, "notes.txt"), "w") as f:
      f.write("not a frame")

  def test_load_frame_folder(self):
    pairs = frames.load_frame_folder(self.folder, 16, 32, intrinsics=[50.0, 55.0, 29.5, 14.5])
    # Natural order: frame1, frame2, frame10 -> pairs (2, 1) and (10, 2).
    self.assertAllEqual(pairs["target_frame"][:, 0, 0, 0], [20, 100])
    self.assertAllEqual(pairs["source_frame"][:, 0, 0, 0], [10, 20])
    self.assertEqual(pairs["target_frame"].shape, (2, 16, 32, 3))
    self.assertEqual(pairs["target_frame"].dtype, np.uint8)
    self.assertAllClose(pairs["intrinsics"],
                        np.tile(sfm.scale_intrinsics([50.0, 55.0, 29.5, 14.5], (30, 60),
                                                     (16, 32)), (2, 1)))
    self.assertAllClose(pairs["intrinsics"][0], [50.0 * 32 / 60, 55.0 * 16 / 30,
                                                 15.5, 7.5])
    self.assertEqual([os.path.basename(n) for n in pairs["name"]], ["frame2.png",
                                                                     "frame10.png"])
    step = frames.load_frame_folder(self.folder, 16, 32, fov_degrees=60.0, step=2)
    self.assertAllEqual(step["target_frame"][:, 0, 0, 0], [100])

  def test_intrinsics_file(self):
    path = os.path.join(self.folder, "calib.txt")
    with open(path, "w") as f:
      f.write("60, 0, 29.5\n0, 60, 14.5\n0, 0, 1\n")
    pairs = frames.load_frame_folder(self.folder, 30, 60, intrinsics=path)
    self.assertAllClose(pairs["intrinsics"][0], [60.0, 60.0, 29.5, 14.5])
    with self.assertRaisesRegex(errors.DataError, "missing.txt: calibration .* not found"):
      frames.load_frame_folder(self.folder, 30, 60, intrinsics=path + "missing.txt")
    with open(path, "w") as f:
      f.write("60 60 29.5\n")
    with self.assertRaisesRegex(errors.DataError, "calib.txt: expected 4 values"):
      frames.load_frame_folder(self.folder, 30, 60, intrinsics=path)

  def test_folder_exception_raised(self):
    _write_png(os.path.join(self.folder, "frame3.png"), np.zeros((30, 50, 3), np.uint8))
    with self.assertRaisesRegex(errors.DataError, "frame3.png: frame is 50x30 but .*frame1.png "
                                                  "is 60x30"):
      frames.load_frame_folder(self.folder, 16, 32, fov_degrees=60.0)
    with open(os.path.join(self.folder, "frame3.png"), "w") as f:
      f.write("not a png")
    with self.assertRaisesRegex(errors.DataError, "frame3.png: cannot read image"):
      frames.load_frame_folder(self.folder, 16, 32, fov_degrees=60.0)
    with self.assertRaisesRegex(errors.DataError, "needs at least 2 image files"):
      frames.load_frame_folder(self.folder, 16, 32, fov_degrees=60.0, max_frames=1)
    with self.assertRaisesRegex(errors.DataError, "nowhere: frame folder not found"):
      frames.load_frame_folder(os.path.join(self.folder, "nowhere"), fov_degrees=60.0)


class VideoTest(testing.TestCase):

  def _write_video(self, values):
    """A 64x48 clip at 5 fps, frame i filled with red level values[i] (PyAV, mpeg4)."""
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "clip.mp4")
    with av.open(path, "w") as container:
      stream = container.add_stream("mpeg4", rate=5)
      stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
      for value in values:
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[..., 0] = value
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
          container.mux(packet)
      for packet in stream.encode():
        container.mux(packet)
    return path

  @unittest.skipIf(av is None, "PyAV not installed")
  def test_load_video(self):
    path = self._write_video([40, 80, 120, 160])
    pairs = frames.load_video(path, 16, 32, fov_degrees=90.0)
    self.assertEqual(pairs["target_frame"].shape, (3, 16, 32, 3))
    # Red channel first (RGB), lossy YUV 4:2:0: within a few levels.
    self.assertAllClose(pairs["target_frame"][:, 8, 16].astype(float),
                        [[80, 0, 0], [120, 0, 0], [160, 0, 0]], atol=8)
    self.assertAllClose(pairs["source_frame"][:, 8, 16, 0].astype(float), [40, 80, 120],
                        atol=8)
    self.assertAllClose(pairs["intrinsics"][0], sfm.scale_intrinsics(
        frames.fov_intrinsics(48, 64, 90.0), (48, 64), (16, 32)))
    self.assertEqual(pairs["name"][0], f"{path}#1")
    stepped = frames.load_video(path, 16, 32, fov_degrees=90.0, step=2)
    self.assertAllClose(stepped["target_frame"][:, 8, 16, 0].astype(float), [120], atol=8)
    self.assertEqual(list(stepped["name"]), [f"{path}#2"])
    self.assertLen(frames.load_frames(path, height=16, width=32, fov_degrees=90.0,
                                      max_frames=2)["name"], 1)

  @unittest.skipIf(av is None, "PyAV not installed")
  def test_video_exception_raised(self):
    with self.assertRaisesRegex(errors.DataError, "needs at least 2 frames, found 1"):
      frames.load_video(self._write_video([40]), 16, 32, fov_degrees=90.0)
    with self.assertRaisesRegex(errors.DataError, "missing.avi: no such video file"):
      frames.load_video(os.path.join(self.get_temp_dir(), "missing.avi"), fov_degrees=90.0)

  def test_missing_pyav_config_error(self):
    with mock.patch.dict(sys.modules, {"av": None}):
      with self.assertRaisesRegex(errors.ConfigError, r'pip install -e "\.\[video\]"'):
        frames.load_video("clip.avi", fov_degrees=90.0)


if __name__ == "__main__":
  tf.test.main()
