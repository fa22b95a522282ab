"""Tests of the inpainting masks (1 = visible, 0 = hole; mask PNGs: white = hole)."""

import os
import tempfile

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import faces_synthetic
from aign_tf.data import masks


class MasksTest(testing.TestCase):

  def test_box_mask_preset(self):
    mask = masks.box_mask(8, centre=(4, 2), size=(4, 2))
    expected = np.ones((8, 8, 1), np.float32)
    expected[1:3, 2:6] = 0.0
    self.assertAllEqual(mask, expected)

  def test_mouth_box_from_geometry(self):
    mask = masks.make_masks("mouth", 1, 64)[0, ..., 0]
    rows, cols = np.nonzero(mask == 0)
    gx, gy = faces_synthetic.GEOMETRY["mouth"]
    self.assertAllClose([cols.mean(), rows.mean()], [gx * 64, gy * 64], atol=1.0)
    self.assertAllClose(len(rows), 0.34 * 64 * 0.17 * 64, rtol=0.15)

  def test_nose_box_follows_landmarks(self):
    landmarks = np.zeros((2, 4, 2), np.float32)
    landmarks[0, 2] = (10, 12)
    landmarks[1, 2] = (40, 30)
    out = masks.make_masks("nose", 2, 64, landmarks=landmarks)
    for i in range(2):
      rows, cols = np.nonzero(out[i, ..., 0] == 0)
      self.assertAllClose([cols.mean(), rows.mean()], landmarks[i, 2], atol=1.0)

  def test_random_masks_are_seeded_and_vary(self):
    a = masks.make_masks("random", 4, 32, seed=1)
    self.assertAllEqual(a, masks.make_masks("random", 4, 32, seed=1))
    self.assertNotAllEqual(a[0], a[1])
    self.assertTrue(np.all((a == 0).sum(axis=(1, 2, 3)) > 0))

  def test_file_mask_white_is_hole(self):
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "m.png")
    image = np.zeros((8, 8), np.uint8)
    image[2:4, 5:7] = 255
    Image.fromarray(image).save(path)
    out = masks.make_masks("file", 3, 8, paths=[path])
    self.assertEqual(out.shape, (3, 8, 8, 1))
    self.assertAllEqual(out[2, ..., 0], (image < 128).astype(np.float32))

  def test_rgba_file_mask(self):
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "m.png")
    image = np.zeros((8, 8, 4), np.uint8)
    image[..., 3] = 255
    image[:4] = 255
    Image.fromarray(image).save(path)
    self.assertEqual(masks.load_mask(path, 8)[..., 0].sum(), 32)

  def test_wrong_size_mask_raises_naming_file(self):
    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "small.png")
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(path)
    with self.assertRaisesRegex(errors.DataError, "small.png: mask is 6x4, the images are 8x8"):
      masks.load_mask(path, 8)

  def test_landmarks_of_another_shape_raise(self):
    with self.assertRaisesRegex(errors.ConfigError, r"landmarks must be \[2, 4, 2\] or "
                                r"\[2, 5, 2\], got \[2, 3, 2\]"):
      masks.make_masks("mouth", 2, 16, landmarks=np.zeros((2, 3, 2)))

  def test_unknown_kind_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "mask kind 'eyes'"):
      masks.make_masks("eyes", 1, 8)


if __name__ == "__main__":
  import tensorflow as tf
  tf.test.main()
