"""Data faults the other data tests leave out (issue 7, "Data"): a zero-byte, truncated or
mislabelled image; a truncated, zero-byte or non-npz `.npz` (never unpickled); a BVH with NaN
or binary content. Each must raise `errors.DataError` naming the file."""

import io
import os
import pickle

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import faces
from aign_tf.data import pose
from aign_tf.data.mocap import bvh
from aign_tf.data.mocap import h36m

# Two joints, 9 channels, 2 frames (the second line of MOTION is replaced in the tests).
BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 10 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.033333
0 100 0 0 0 0 0 0 0
FRAME1
"""


class _Marker:
  """Unpickling this creates a file: proof that a pickle was loaded."""

  def __init__(self, path):
    self.path = path

  def __reduce__(self):
    return (open, (self.path, "w"))


class DataFaultsTest(testing.TestCase):

  def write(self, name, data):
    path = os.path.join(self.get_temp_dir(), name)
    with open(path, "wb") as f:
      f.write(data.encode() if isinstance(data, str) else data)
    return path

  def png(self):
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()

  def npz(self, positions):
    buffer = io.BytesIO()
    np.savez(buffer, positions_3d=np.array({"S1": {"Walk": positions}}, dtype=object))
    return buffer.getvalue()

  # Images -----------------------------------------------------------------------------------

  def test_bad_image_files_name_the_file(self):
    png = self.png()
    self.assertEqual(faces.load_image(self.write("good.png", png), 8).shape, (8, 8, 3))
    for name, data in (("zero_byte.png", b""), ("truncated.png", png[:len(png) // 2]),
                       ("text_named.jpg", "this is not an image\n")):
      with self.subTest(name), self.assertRaisesRegex(errors.DataError,
                                                      f"{name}: cannot read image"):
        faces.load_image(self.write(name, data), 8)

  def test_folder_with_only_other_extensions_raises(self):
    folder = os.path.join(self.get_temp_dir(), "not_images")
    os.makedirs(folder)
    with open(os.path.join(folder, "face.png.txt"), "wb") as f:
      f.write(self.png())
    with self.assertRaisesRegex(errors.DataError, "not_images: folder holds no image files"):
      faces.list_images(folder)

  # npz --------------------------------------------------------------------------------------

  def test_bad_npz_files_name_the_file(self):
    good = self.npz(np.zeros((4, 17, 3), np.float32))
    self.assertEqual(list(h36m.load_h36m_3d(self.write("good.npz", good))), ["S1/Walk"])
    for name, data, reason in (("zero_byte.npz", b"", "empty file"),
                               ("truncated.npz", good[:len(good) // 2], "truncated"),
                               ("text.npz", "positions_3d = 1\n", "truncated or another")):
      with self.subTest(name), self.assertRaisesRegex(
          errors.DataError, f"{name}: not an npz archive .*{reason}"):
        h36m.load_h36m_3d(self.write(name, data))
    # Through the user-facing files source too (the extension picks the npz reader).
    with self.assertRaisesRegex(errors.DataError, "truncated.npz: not an npz archive"):
      pose.load_clip_files([os.path.join(self.get_temp_dir(), "truncated.npz")])

  def test_pickle_renamed_npz_is_not_unpickled(self):
    marker = os.path.join(self.get_temp_dir(), "unpickled_marker")
    path = self.write("evil.npz", pickle.dumps(_Marker(marker)))
    with self.assertRaisesRegex(errors.DataError, "evil.npz: not an npz archive"):
      h36m.load_h36m_3d(path)
    self.assertFalse(os.path.exists(marker))

  def test_npz_3d_with_nan_names_file_and_joint(self):
    positions = np.zeros((4, 17, 3), np.float32)
    positions[2, 3, 1] = np.nan
    with self.assertRaisesRegex(errors.DataError, r"nan3d.npz\[S1\]\[Walk\]: non-finite"):
      h36m.load_h36m_3d(self.write("nan3d.npz", self.npz(positions)))

  # BVH --------------------------------------------------------------------------------------

  def test_bvh_with_nan_or_infinity_names_file_and_frame(self):
    good = self.write("good.bvh", BVH.replace("FRAME1", "0 100 0 90 0 0 0 0 0"))
    self.assertEqual(bvh.parse_bvh(good)[1].shape, (2, 9))
    for value in ("nan", "NaN", "inf", "-Infinity"):
      path = self.write(f"bad_{value}.bvh", BVH.replace("FRAME1", f"0 100 0 90 0 {value} 0 0 0"))
      with self.subTest(value), self.assertRaisesRegex(
          errors.DataError, f"bad_{value}.bvh: non-finite value .* frame 1, channel 5"):
        bvh.load_bvh(path)

  def test_binary_or_empty_bvh_names_the_file(self):
    for name, data, message in (("image.bvh", self.png(), "not a text BVH file"),
                                ("zero_byte.bvh", b"", "no MOTION section")):
      with self.subTest(name), self.assertRaisesRegex(errors.DataError, f"{name}: {message}"):
        pose.load_clip_files([self.write(name, data)])
