"""Tests of the face sample cache (on a fake cache the test writes) and the video reader."""

import os
import tempfile
import unittest

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import faces
from aign_tf.data import faces_samples
from aign_tf.data import faces_video
from aign_tf.data import samples

try:
  import cv2  # pylint: disable=g-import-not-at-top
except ImportError:
  cv2 = None


class FacesSamplesTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.cache = tempfile.mkdtemp(dir=self.get_temp_dir())

  def write_sample(self, name, count):
    directory = faces_samples.task_dir(self.cache)
    os.makedirs(directory, exist_ok=True)
    images = np.stack([np.full((32, 32, 3), i, np.uint8) for i in range(count)])
    np.savez(os.path.join(directory, f"{name}.npz"), images=images,
             frames=np.arange(count) * 2)
    samples.write_manifest(directory, {}, [f"{name}.npz"])

  def test_not_fetched_names_the_command(self):
    with self.assertRaisesRegex(errors.DataError, "tools/fetch_samples.py faces"):
      faces_samples.load("franck", self.cache)

  def test_frame_range_spec(self):
    self.write_sample("cap12", 10)
    face_set = faces.build({"source": "samples", "name": "cap12", "start": 2, "stop": 6,
                            "cache_dir": self.cache}, 16)
    self.assertEqual(face_set.images.shape, (4, 16, 16, 3))
    self.assertEqual(face_set.names, [f"samples:cap12#frame{2 * i}" for i in range(2, 6)])
    self.assertAllEqual(face_set.images[:, 0, 0, 0], [2, 3, 4, 5])

  def test_corrupt_cache_raises(self):
    self.write_sample("cap12", 3)
    with open(os.path.join(faces_samples.task_dir(self.cache), "cap12.npz"), "ab") as f:
      f.write(b"x")
    with self.assertRaisesRegex(errors.DataError, "checksum differs"):
      faces_samples.load("cap12", self.cache)

  def test_unknown_sample_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "face sample 'bob'"):
      faces_samples.load("bob", self.cache)


class FacesVideoTest(testing.TestCase):

  def test_crop_box_and_cut(self):
    left, top, side = faces_video.crop_box((10, 20, 30, 30), margin=2.0, centre_y=0.5)
    self.assertEqual((left, top, side), (-5, 5, 60))
    frame = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    crop = faces_video.cut(frame, -1, 2, 3)
    self.assertEqual(crop.shape, (3, 3, 3))
    self.assertAllEqual(crop[0, 0], frame[2, 0])  # replicated edge
    self.assertAllEqual(crop[2, 2], frame[3, 1])

  @unittest.skipIf(cv2 is None, "OpenCV not installed")
  def test_video_without_faces_raises_naming_file(self):
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "blank.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 64))
    for _ in range(3):
      writer.write(np.full((64, 64, 3), 128, np.uint8))
    writer.release()
    with self.assertRaisesRegex(errors.DataError, "blank.avi: no face found"):
      faces.build({"source": "video", "paths": [path]}, 32)

  @unittest.skipIf(cv2 is None, "OpenCV not installed")
  def test_unreadable_video_raises(self):
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "bad.mp4")
    with open(path, "wb") as f:
      f.write(b"not a video")
    with self.assertRaisesRegex(errors.DataError, "bad.mp4"):
      faces.build({"source": "video", "paths": [path]}, 32)


if __name__ == "__main__":
  import tensorflow as tf
  tf.test.main()
