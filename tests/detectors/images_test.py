"""Reading photos (EXIF orientation), frame folders and the errors on bad files."""

import os
from unittest import mock

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
    empty = os.path.join(self.get_temp_dir(), "empty")
    os.makedirs(empty)
    with self.assertRaisesRegex(errors.DataError, "empty: no image files"):
      list(images.iter_frames(empty))

  def test_frame_folder_in_name_order_with_step(self):
    folder = os.path.join(self.get_temp_dir(), "frames")
    os.makedirs(folder)
    for i in (2, 0, 1, 3):
      Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(os.path.join(folder, f"{i}.png"))
    frames = list(images.iter_frames(folder, step=2))
    self.assertEqual([name for name, _ in frames], ["0", "2"])
    self.assertEqual(frames[1][1][0, 0, 0], 2)

  def test_missing_pyav_names_the_extra(self):
    with mock.patch.dict("sys.modules", {"av": None}):
      with self.assertRaisesRegex(errors.ConfigError, r'pip install -e "\.\[video\]"'):
        list(images.iter_frames(os.path.join(self.get_temp_dir(), "clip.mp4")))

  def test_video_frames_follow_their_rotation_tag(self):

    class Frame:  # What PyAV's VideoFrame offers: pixels and the display rotation.

      def __init__(self, rotation):
        self.rotation = rotation

      def to_ndarray(self, format):  # pylint: disable=redefined-builtin
        del format
        array = np.zeros((2, 3, 3), np.uint8)
        array[0, 0] = 255  # Top-left marker.
        return array

    # -90: stored sideways, shown turned 90 degrees clockwise: the marker goes top-right.
    turned = images.upright(Frame(-90))
    self.assertEqual(turned.shape, (3, 2, 3))
    self.assertEqual(turned[0, 1, 0], 255)
    self.assertEqual(images.upright(Frame(0)).shape, (2, 3, 3))
    self.assertEqual(images.upright(Frame(180))[1, 2, 0], 255)
