"""Tests of face image loading, conversion, face set specs and manifests."""

import json
import os
import tempfile

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import faces
from aign_tf.data import faces_synthetic


def write(path, array, mode=None):
  Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
  return path


class LoadImageTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = tempfile.mkdtemp(dir=self.get_temp_dir())

  def test_rgb_is_resized(self):
    image = np.zeros((32, 32, 3), np.uint8)
    image[:16] = [255, 0, 0]
    out = faces.load_image(write(os.path.join(self.dir, "a.png"), image), 16)
    self.assertEqual(out.shape, (16, 16, 3))
    self.assertEqual(out.dtype, np.uint8)
    self.assertAllEqual(out[0, 0], [255, 0, 0])
    self.assertAllEqual(out[-1, -1], [0, 0, 0])

  def test_grayscale_becomes_rgb(self):
    out = faces.load_image(write(os.path.join(self.dir, "g.png"),
                                 np.full((16, 16), 77, np.uint8)), 16)
    self.assertAllEqual(out[3, 3], [77, 77, 77])

  def test_rgba_is_composited_over_white(self):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent on the left half
    rgba[:, 8:, 3] = 255
    out = faces.load_image(write(os.path.join(self.dir, "t.png"), rgba), 16)
    self.assertAllEqual(out[0, 0], [255, 255, 255])
    self.assertAllEqual(out[0, 15], [255, 0, 0])

  def test_sixteen_bit_is_scaled(self):
    path = os.path.join(self.dir, "d.png")
    Image.fromarray(np.full((16, 16), 65535, np.uint16)).save(path)
    self.assertAllEqual(faces.load_image(path, 16)[0, 0], [255, 255, 255])

  def test_palette_image(self):
    path = os.path.join(self.dir, "p.png")
    Image.fromarray(np.full((16, 16, 3), [10, 200, 30], np.uint8)).convert(
        "P", palette=Image.ADAPTIVE, colors=4).save(path)
    self.assertAllClose(faces.load_image(path, 16)[0, 0], [10, 200, 30], atol=8)

  def test_non_square_is_centre_cropped(self):
    image = np.zeros((16, 32, 3), np.uint8)
    image[:, 8:24] = 255
    out = faces.load_image(write(os.path.join(self.dir, "w.png"), image), 16)
    self.assertAllEqual(out, np.full((16, 16, 3), 255, np.uint8))

  def test_unreadable_file_raises_naming_it(self):
    path = os.path.join(self.dir, "broken.png")
    with open(path, "wb") as f:
      f.write(b"not an image")
    with self.assertRaisesRegex(errors.DataError, "broken.png: cannot read image"):
      faces.load_image(path, 16)

  def test_too_small_raises_naming_size(self):
    path = write(os.path.join(self.dir, "tiny.png"), np.zeros((6, 6, 3), np.uint8))
    with self.assertRaisesRegex(errors.DataError, "tiny.png: image is 6x6"):
      faces.load_image(path, 16)


class FaceSetTest(testing.TestCase):

  def test_synthetic_spec(self):
    face_set = faces.build({"source": "synthetic", "count": 5, "identities": [3],
                            "seed": 4}, 16)
    self.assertEqual(face_set.images.shape, (5, 16, 16, 3))
    self.assertLen(face_set.names, 5)
    self.assertAllEqual(face_set.labels["identity"], [3] * 5)
    self.assertEqual(face_set.landmarks.shape, (5, len(faces_synthetic.LANDMARKS), 2))

  def test_folder_spec_subset_is_seeded_and_listed(self):
    folder = tempfile.mkdtemp(dir=self.get_temp_dir())
    for i in range(6):
      write(os.path.join(folder, f"{i}.png"), np.full((16, 16, 3), i * 10, np.uint8))
    spec = {"source": "folder", "paths": [folder], "count": 3, "seed": 1}
    first, second = faces.build(spec, 8), faces.build(spec, 8)
    self.assertEqual(first.names, second.names)
    self.assertLen(first, 3)
    self.assertTrue(all(name.startswith(folder) for name in first.names))
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "m.json")
    faces.write_manifest(path, first, "memory")
    with open(path) as f:
      manifest = json.load(f)
    self.assertEqual(manifest["images"], first.names)
    self.assertEqual(manifest["role"], "memory")
    self.assertEqual(manifest["sha256_pixels"], first.digest())

  def test_empty_folder_raises(self):
    folder = tempfile.mkdtemp(dir=self.get_temp_dir())
    with self.assertRaisesRegex(errors.DataError, "holds no image files"):
      faces.build({"source": "folder", "paths": folder}, 8)

  def test_count_too_large_raises(self):
    folder = tempfile.mkdtemp(dir=self.get_temp_dir())
    write(os.path.join(folder, "a.png"), np.zeros((8, 8, 3), np.uint8))
    with self.assertRaisesRegex(errors.DataError, "asks for 2 images but only 1"):
      faces.build({"source": "folder", "paths": folder, "count": 2}, 8)

  def test_union_spec_concatenates(self):
    face_set = faces.build({"source": "union", "parts": [
        {"source": "synthetic", "count": 2, "seed": 1},
        {"source": "synthetic", "count": 3, "seed": 2}]}, 8)
    self.assertLen(face_set, 5)
    self.assertEqual(face_set.landmarks.shape[0], 5)
    self.assertIn("seed=2", face_set.names[-1])
    self.assertAllEqual(face_set.labels["identity"].shape, [5])

  def test_five_landmarks_become_four_with_the_mouth_between_the_corners(self):
    five = np.array([[[1, 2], [3, 2], [2, 4], [1, 6], [3, 8]]], np.float32)
    self.assertAllClose(faces.four_landmarks(five), [[[1, 2], [3, 2], [2, 4], [2, 7]]])
    four = np.zeros((2, 4, 2), np.float32)
    self.assertAllEqual(faces.four_landmarks(four).shape, [2, 4, 2])

  def test_unknown_source_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "source 'flickr' is unknown"):
      faces.build({"source": "flickr"}, 8)

  def test_missing_field_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "lacks the field 'paths'"):
      faces.build({"source": "folder"}, 8)

  def test_shared_images_are_refused(self):
    spec = {"source": "synthetic", "count": 2, "seed": 1}
    sets = {"inputs": faces.build(spec, 8), "memory": faces.build(spec, 8)}
    with self.assertRaisesRegex(errors.DataError, "inputs and memory face sets share"):
      faces.check_disjoint(sets)
    sets["memory"] = faces.build(dict(spec, seed=2), 8)
    faces.check_disjoint(sets)


class SyntheticFacesTest(testing.TestCase):

  def test_deterministic(self):
    a = faces_synthetic.draw_faces(3, 32, identities=[1, 2], seed=5)
    b = faces_synthetic.draw_faces(3, 32, identities=[1, 2], seed=5)
    self.assertAllEqual(a["images"], b["images"])

  def test_lip_size_changes_only_the_mouth_region(self):
    small = faces_synthetic.draw_faces(1, 64, identities=[0], lip_size=0.8, seed=0)
    big = faces_synthetic.draw_faces(1, 64, identities=[0], lip_size=2.0, seed=0)
    diff = np.abs(small["images"][0].astype(int) - big["images"][0].astype(int)).sum(-1)
    mx, my = small["landmarks"][0, faces_synthetic.LANDMARKS.index("mouth")]
    rows, cols = np.nonzero(diff > 30)
    self.assertNotEmpty(rows)
    self.assertLess(np.max(np.abs(rows - my)), 10)
    self.assertLess(np.max(np.abs(cols - mx)), 12)

  def test_landmarks_follow_aligned_geometry(self):
    out = faces_synthetic.draw_faces(4, 64, identities=range(4), seed=0)
    for name, (gx, gy) in faces_synthetic.GEOMETRY.items():
      index = faces_synthetic.LANDMARKS.index(name)
      self.assertAllClose(out["landmarks"][:, index].mean(0), [gx * 64, gy * 64], atol=6)

  def test_skin_tone_darkens(self):
    light = faces_synthetic.draw_faces(1, 32, identities=[0], skin_tone=0.0, seed=0)
    dark = faces_synthetic.draw_faces(1, 32, identities=[0], skin_tone=1.0, seed=0)
    cheek = (slice(18, 21), slice(8, 11))
    self.assertGreater(light["images"][0][cheek].mean(), dark["images"][0][cheek].mean() + 60)


if __name__ == "__main__":
  import tensorflow as tf
  tf.test.main()
