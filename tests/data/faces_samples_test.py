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
  import av  # pylint: disable=g-import-not-at-top,unused-import
except ImportError:
  cv2 = None  # Face crops from videos need both (OpenCV finds faces, PyAV decodes).


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


def write_fake_cache(cache, sizes=None):
  """Every sample of `faces_samples.NAMES` as 16x16 crops whose pixels hold the sample's
  number; photos get one person label per face."""
  sizes = sizes or {"franck": 2400, "cap12": 400}
  directory = faces_samples.task_dir(cache)
  os.makedirs(directory, exist_ok=True)
  for number, name in enumerate(faces_samples.NAMES):
    count = sizes.get(name, 3)
    images = np.full((count, 16, 16, 3), number, np.uint8)
    arrays = {"images": images, "frames": np.arange(count)}
    if name in faces_samples.PHOTOS:
      arrays["people"] = np.array([f"{name}-person{i}" for i in range(count)])
    np.savez(os.path.join(directory, f"{name}.npz"), **arrays)
  samples.write_manifest(directory, {}, [f"{n}.npz" for n in faces_samples.NAMES])


class AutoFacesTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.cache = tempfile.mkdtemp(dir=self.get_temp_dir())

  def build_roles(self, count=None):
    return {role: faces.build({"source": "auto", "role": role, "cache_dir": self.cache,
                               **({} if count is None else {"count": count})}, 16)
            for role in faces.AUTO_ROLES}

  def test_without_samples_procedural_faces_with_held_out_identities(self):
    with self.assertLogs("absl", "INFO") as logs:
      sets = self.build_roles(count=40)
    self.assertRegex(logs.output[0], "faces inputs: procedural faces .*python "
                     "tools/fetch_samples.py faces gets real ones")
    self.assertEqual(sets["memory"].spec["resolved"]["source"], "synthetic")
    self.assertEqual(len(sets["inputs"]), 40)
    held_out = set(sets["eval"].labels["identity"])
    self.assertFalse(held_out & set(sets["inputs"].labels["identity"]))
    self.assertFalse(held_out & set(sets["memory"].labels["identity"]))
    faces.check_disjoint(sets)
    faces.check_held_out(sets, label="identity")

  def test_with_samples_real_faces_and_held_out_people(self):
    write_fake_cache(self.cache)
    with self.assertLogs("absl", "INFO") as logs:
      sets = self.build_roles()
    self.assertRegex(logs.output[0], "faces inputs: real face samples from " + self.cache)
    self.assertEqual(len(sets["inputs"]), 1200 + 80)
    self.assertEqual(len(sets["memory"]), 1200 + 320 + 3 + 3)
    self.assertEqual(len(sets["eval"]), 3 + 3)
    eval_pixels = set(sets["eval"].images[:, 0, 0, 0])
    self.assertEqual(eval_pixels, {faces_samples.NAMES.index("faceapi"),
                                   faces_samples.NAMES.index("tracking")})
    self.assertFalse(eval_pixels & set(sets["memory"].images[:, 0, 0, 0]))
    faces.check_disjoint(sets)
    faces.check_held_out(sets)
    self.assertIn("franck", sets["memory"].labels["person"])
    # A count caps each role (smoke tests), seeded.
    small = self.build_roles(count=4)
    self.assertEqual([len(small[r]) for r in faces.AUTO_ROLES], [4, 4, 4])

  def test_shared_person_is_refused(self):
    write_fake_cache(self.cache)
    sets = self.build_roles()
    sets["memory"] = faces.build({"source": "samples", "name": "tracking",
                                  "cache_dir": self.cache}, 16)
    with self.assertRaisesRegex(errors.DataError, "eval and memory face sets share the person "
                                "'tracking-person0'"):
      faces.check_held_out(sets)

  def test_auto_needs_a_role(self):
    with self.assertRaisesRegex(errors.ConfigError, "'auto' needs a 'role'"):
      faces.build({"source": "auto"}, 16)

  def test_incomplete_cache_is_not_used(self):
    self.write_partial()
    with self.assertLogs("absl", "INFO") as logs:
      faces.build({"source": "auto", "role": "eval", "cache_dir": self.cache}, 16)
    self.assertRegex(logs.output[0], "procedural faces")

  def write_partial(self):
    directory = faces_samples.task_dir(self.cache)
    os.makedirs(directory)
    np.savez(os.path.join(directory, "cap12.npz"), images=np.zeros((3, 16, 16, 3), np.uint8),
             frames=np.arange(3))
    samples.write_manifest(directory, {}, ["cap12.npz"])  # An older fetch: videos only.

  def test_photo_crops_cut_around_the_box(self):
    photo = np.zeros((400, 300, 3), np.uint8)
    photo[100:200, 100:200] = 255  # The "face" box.
    crop = faces_samples.photo_crops(photo, [(100, 100, 100, 100)], resolution=32)
    self.assertEqual(crop.shape, (1, 32, 32, 3))
    # Side 160 around the box centre (150, 150) with the centre at 56% of the height.
    bright = np.nonzero(crop[0, :, :, 0] > 128)
    self.assertAllClose([bright[1].mean(), bright[0].mean()], [15.5, 0.56 * 32 - 0.5],
                        atol=1.0)
    with self.assertRaisesRegex(errors.DataError, "smaller than 128"):
      faces_samples.photo_crops(photo, [(0, 0, 40, 40)])


class FacesVideoTest(testing.TestCase):

  def test_crop_box_and_cut(self):
    left, top, side = faces_video.crop_box((10, 20, 30, 30), margin=2.0, centre_y=0.5)
    self.assertEqual((left, top, side), (-5, 5, 60))
    frame = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    crop = faces_video.cut(frame, -1, 2, 3)
    self.assertEqual(crop.shape, (3, 3, 3))
    self.assertAllEqual(crop[0, 0], frame[2, 0])  # replicated edge
    self.assertAllEqual(crop[2, 2], frame[3, 1])

  @unittest.skipIf(cv2 is None, "OpenCV or PyAV not installed")
  def test_video_without_faces_raises_naming_file(self):
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "blank.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 64))
    for _ in range(3):
      writer.write(np.full((64, 64, 3), 128, np.uint8))
    writer.release()
    with self.assertRaisesRegex(errors.DataError, "blank.avi: no face found"):
      faces.build({"source": "video", "paths": [path]}, 32)

  @unittest.skipIf(cv2 is None, "OpenCV or PyAV not installed")
  def test_unreadable_video_raises(self):
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "bad.mp4")
    with open(path, "wb") as f:
      f.write(b"not a video")
    with self.assertRaisesRegex(errors.DataError, "bad.mp4"):
      faces.build({"source": "video", "paths": [path]}, 32)


if __name__ == "__main__":
  import tensorflow as tf
  tf.test.main()
