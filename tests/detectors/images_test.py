"""Reading photos (EXIF orientation), arrays as RGB and the errors on bad files (frame
folders and videos: tests/core/video_test.py)."""

import os

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf import testing
from aign_tf.detectors import images


class ImagesTest(testing.TestCase):

  def test_read_image_applies_exif_orientation(self):
    # A 40x20 (W x H) picture, red on its left half, stored with orientation 6: viewers
    # turn it 90 degrees clockwise, so it shows 20 wide, 40 high, red on top.
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    path = os.path.join(self.get_temp_dir(), "phone.jpg")
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    image = images.read_image(path)
    self.assertEqual(image.shape, (40, 20, 3))
    self.assertGreater(image[5, 10, 0], 200)
    self.assertLess(image[35, 10, 0], 50)

  def test_read_image_converts_grey_and_rgba(self):
    path = os.path.join(self.get_temp_dir(), "grey.png")
    Image.fromarray(np.full((8, 6), 77, np.uint8)).save(path)
    np.testing.assert_array_equal(images.read_image(path), np.full((8, 6, 3), 77))
    self.assertEqual(images.as_rgb(np.zeros((4, 5, 4), np.uint8)).shape, (4, 5, 3))
    with self.assertRaisesRegex(errors.DataError, "expected uint8"):
      images.as_rgb(np.zeros((4, 5, 3), np.float32))

  def test_bad_files_name_the_file(self):
    path = os.path.join(self.get_temp_dir(), "notes.png")
    with open(path, "w") as f:
      f.write("not a picture")
    with self.assertRaisesRegex(errors.DataError, "notes.png: cannot read image"):
      images.read_image(path)
    with self.assertRaisesRegex(errors.DataError, "image not found: .*missing.png"):
      images.read_image(os.path.join(self.get_temp_dir(), "missing.png"))
