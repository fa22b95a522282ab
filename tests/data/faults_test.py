"""Data faults the other data tests leave out (issue 7, "Data"): a zero-byte, truncated or
mislabelled image; a truncated, zero-byte, damaged or non-npz `.npz` (never unpickled); a BVH
with NaN or binary content. Each must raise `errors.DataError` naming the file, or, with
`on_bad_file="skip"`, be left out and counted in the log."""

import io
import json
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
from tests.data.mocap import bvh_test
from tests.data.mocap import deepmimic_test

# bvh_test.CHAIN's second frame, whose sixth value (channel 5) the tests replace.
_FRAME1 = "0 100 0 90 0 0 0 0 0"


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

  def test_npz_with_damaged_member_names_the_file(self):
    # The zip directory is intact (np.load opens it); the member's bytes are not.
    positions = np.random.default_rng(0).uniform(size=(20, 17, 3)).astype(np.float32)
    for compressed in (False, True):
      buffer = io.BytesIO()
      (np.savez_compressed if compressed else np.savez)(
          buffer, positions_3d=np.array({"S1": {"Walk": positions}}, dtype=object))
      data = bytearray(buffer.getvalue())
      middle = len(data) // 2
      data[middle:middle + 8] = b"\xff" * 8
      name = f"damaged_{compressed}.npz"
      with self.subTest(name), self.assertRaisesRegex(errors.DataError,
                                                      f"{name}: cannot read npz"):
        h36m.load_h36m_3d(self.write(name, bytes(data)))

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
    good = self.write("good.bvh", bvh_test.CHAIN)
    self.assertEqual(bvh.parse_bvh(good)[1].shape, (3, 9))
    for value in ("nan", "NaN", "inf", "-Infinity"):
      path = self.write(f"bad_{value}.bvh",
                        bvh_test.CHAIN.replace(_FRAME1, f"0 100 0 90 0 {value} 0 0 0"))
      with self.subTest(value), self.assertRaisesRegex(
          errors.DataError, f"bad_{value}.bvh: non-finite value .* frame 1, channel 5"):
        bvh.load_bvh(path)

  def test_binary_or_empty_bvh_names_the_file(self):
    for name, data, message in (("image.bvh", self.png(), "not a text BVH file"),
                                ("zero_byte.bvh", b"", "no MOTION section")):
      with self.subTest(name), self.assertRaisesRegex(errors.DataError, f"{name}: {message}"):
        pose.load_clip_files([self.write(name, data)])


class SkipBadFilesTest(testing.TestCase):
  """`on_bad_file`: "raise" names the first bad file; "skip" leaves bad files out, counts
  them in one logged warning and still raises when nothing usable is left."""

  def setUp(self):
    super().setUp()
    self.folder = os.path.join(self.get_temp_dir(), self.id().rsplit(".", 1)[-1])
    os.makedirs(self.folder)

  def write(self, name, data):
    with open(os.path.join(self.folder, name), "wb") as f:
      f.write(data.encode() if isinstance(data, str) else data)

  def write_images(self, good=3):
    """`good` distinct 16x16 PNGs and three bad files: zero-byte, truncated, text as .jpg."""
    def png(value):
      buffer = io.BytesIO()
      Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(buffer, "PNG")
      return buffer.getvalue()
    for i in range(good):
      self.write(f"good_{i}.png", png(60 * i))
    self.write("zero_byte.png", b"")
    self.write("truncated.png", png(200)[:len(png(200)) // 2])
    self.write("text_named.jpg", "not an image\n")

  def spec(self, **options):
    return dict({"source": "folder", "paths": [self.folder]}, **options)

  def test_folder_raise_names_the_first_bad_file(self):
    self.write_images()
    # Sorted: good_0..2.png, text_named.jpg, truncated.png, zero_byte.png.
    with self.assertRaisesRegex(errors.DataError, "text_named.jpg: cannot read image"):
      faces.build(self.spec(), 8)
    with self.assertRaisesRegex(errors.DataError, "text_named.jpg: cannot read image"):
      faces.build(self.spec(on_bad_file="raise"), 8)

  def test_folder_skip_keeps_good_images_and_logs_the_count(self):
    self.write_images()
    with self.assertLogs("absl", "WARNING") as logs:
      face_set = faces.build(self.spec(on_bad_file="skip"), 8)
    self.assertEqual([os.path.basename(n) for n in face_set.names],
                     ["good_0.png", "good_1.png", "good_2.png"])
    self.assertAllEqual(face_set.images[:, 0, 0, 0], [0, 60, 120])
    self.assertLen(logs.output, 1)
    self.assertRegex(logs.output[0], r"skipped 3 bad file\(s\)")
    for name in ("zero_byte.png", "truncated.png", "text_named.jpg"):
      self.assertIn(name, logs.output[0])
    skipped = faces.manifest(face_set)["skipped_files"]
    self.assertCountEqual([reason.split(":")[0] for reason in skipped],
                          [os.path.join(self.folder, n) for n in
                           ("zero_byte.png", "truncated.png", "text_named.jpg")])

  def test_folder_skip_with_count_replaces_bad_files(self):
    self.write_images(good=4)
    # Whatever the seeded order, 3 of the 4 good images are returned, none twice.
    face_set = faces.build(self.spec(on_bad_file="skip", count=3, seed=5), 8)
    names = [os.path.basename(n) for n in face_set.names]
    self.assertLen(set(names), 3)
    self.assertTrue(all(n.startswith("good_") for n in names))
    with self.assertRaisesRegex(errors.DataError, "asks for 5 images but only 4 of 7 are usable"):
      faces.build(self.spec(on_bad_file="skip", count=5), 8)

  def test_folder_skip_with_nothing_usable_names_the_folder(self):
    self.write_images(good=0)
    with self.assertRaisesRegex(errors.DataError,
                                f"{self.folder}.*no usable image among 3 files"):
      faces.build(self.spec(on_bad_file="skip"), 8)

  def test_unknown_on_bad_file_value_raises(self):
    self.write_images(good=1)
    with self.assertRaisesRegex(errors.ConfigError, "on_bad_file must be one of"):
      faces.build(self.spec(on_bad_file="ignore"), 8)
    with self.assertRaisesRegex(errors.ConfigError, "on_bad_file must be one of"):
      pose.load_clip_files([os.path.join(self.folder, "*")], on_bad_file="warn")

  def write_clips(self):
    """Two usable clips (DeepMimic .txt, LAFAN-named .bvh) and three bad files."""
    self.write("walk.txt", json.dumps({"Frames": [deepmimic_test.frame()] * 3}))
    lafan = bvh_test.lafan_like_bvh(frames=3)
    self.write("good.bvh", lafan)
    motion = lafan.index("Frame Time")
    self.write("nan.bvh", lafan[:motion] + lafan[motion:].replace("95.0000", "nan", 1))
    self.write("cut.npz", b"PK\x03\x04 not a whole archive")
    self.write("notes.fbx", "Kaydara FBX\n")

  def test_mocap_files_raise_or_skip(self):
    self.write_clips()
    pattern = [os.path.join(self.folder, "*")]
    # Sorted: cut.npz, good.bvh, nan.bvh, notes.fbx, walk.txt.
    with self.assertRaisesRegex(errors.DataError, "cut.npz: not an npz archive"):
      pose.load_clip_files(pattern)
    with self.assertLogs("absl", "WARNING") as logs:
      clips = pose.load_clip_files(pattern, on_bad_file="skip")
    self.assertEqual(sorted(clips), ["good", "walk"])
    self.assertRegex(logs.output[0], r"skipped 3 bad file\(s\).*cut.npz.*nan.bvh: non-finite"
                     r".*notes.fbx: unknown mocap extension")
    clips = pose.pose_clips("memory", source="files", files={"memory": pattern}, stride=1,
                            on_bad_file="skip")
    self.assertEqual(sorted(clips), ["good", "walk"])
    self.assertEqual(clips["walk"].shape, (3, 17, 3))

  def test_mocap_files_skip_with_nothing_usable_raises(self):
    self.write("nan.txt", json.dumps({"Frames": [[float("nan")] * 44]}))
    with self.assertRaisesRegex(errors.DataError, r"no usable clip in the 1 files .*nan.txt"):
      pose.load_clip_files([os.path.join(self.folder, "*.txt")], on_bad_file="skip")
