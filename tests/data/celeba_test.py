"""Tests of the CelebA attribute reader, the safe expression parser and the loader."""

import os
import tempfile

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import celeba
from aign_tf.data import faces

NAMES = ["Big_Lips", "Male", "Young"]
ROWS = {"000001.jpg": (1, 1, 1), "000002.jpg": (-1, 1, -1), "000003.jpg": (1, -1, 1),
        "000004.jpg": (-1, -1, -1), "000005.jpg": (1, 1, -1)}


def write_celeba(root):
  os.makedirs(os.path.join(root, "img_align_celeba"))
  with open(os.path.join(root, "list_attr_celeba.txt"), "w") as f:
    f.write(f"{len(ROWS)}\n{' '.join(NAMES)}\n")
    for name, values in ROWS.items():
      f.write(f"{name} " + " ".join(f"{v:2d}" for v in values) + "\n")
  with open(os.path.join(root, "list_eval_partition.txt"), "w") as f:
    for i, name in enumerate(ROWS):
      f.write(f"{name} {0 if i < 3 else 2}\n")
  for i, name in enumerate(ROWS):
    # 178x218 like the aligned images; colour encodes the index.
    Image.fromarray(np.full((218, 178, 3), 40 * i, np.uint8)).save(
        os.path.join(root, "img_align_celeba", name))


class ExpressionTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.values = np.array(list(ROWS.values()), np.int8)

  def select(self, expression):
    return list(np.nonzero(celeba.select(expression, NAMES, self.values))[0])

  @testing.parameterized.parameters(
      ("Male", [0, 1, 4]),
      ("Male and not Young", [1, 4]),
      ("not Male or Big_Lips", [0, 2, 3, 4]),
      ("Big_Lips and (Male or not Young)", [0, 4]),
      ("not not Young", [0, 2]),
      ("Male AND Young", [0]))
  def test_select(self, expression, expected):
    self.assertEqual(self.select(expression), expected)

  def test_unknown_attribute_names_it(self):
    with self.assertRaisesRegex(errors.ConfigError, "no attribute 'male'; did you mean 'Male'"):
      self.select("male and Young")

  @testing.parameterized.parameters("Male and", "(Male", "Male Young", "", "Male; import os",
                                    "__import__('os')")
  def test_malformed_expression_raises(self, expression):
    with self.assertRaises(errors.ConfigError):
      self.select(expression)


class CelebATest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp(dir=self.get_temp_dir())
    write_celeba(self.root)

  def test_read_attributes(self):
    files, names, values = celeba.read_attributes(
        os.path.join(self.root, "list_attr_celeba.txt"))
    self.assertEqual(files, list(ROWS))
    self.assertEqual(names, NAMES)
    self.assertAllEqual(values, list(ROWS.values()))

  def test_face_set_by_expression_and_partition(self):
    face_set = faces.build({"source": "celeba", "root": self.root,
                            "attributes": "Male and not Young"}, 16)
    self.assertEqual([os.path.basename(n) for n in face_set.names],
                     ["000002.jpg", "000005.jpg"])
    self.assertEqual(face_set.images.shape, (2, 16, 16, 3))
    self.assertAllClose(face_set.images[1].mean(), 160, atol=2)
    train = faces.build({"source": "celeba", "root": self.root, "attributes": "Male",
                         "partition": "train"}, 16)
    self.assertEqual([os.path.basename(n) for n in train.names], ["000001.jpg", "000002.jpg"])

  def test_selection_of_nothing_raises(self):
    with self.assertRaisesRegex(errors.DataError, "'Male and not Male'.*selects no image"):
      faces.build({"source": "celeba", "root": self.root, "attributes": "Male and not Male"},
                  16)

  def test_malformed_line_raises_naming_line(self):
    with open(os.path.join(self.root, "list_attr_celeba.txt"), "a") as f:
      f.write("000006.jpg 1 1\n")
    with self.assertRaisesRegex(errors.DataError, "line 8 has 2 attribute values"):
      faces.build({"source": "celeba", "root": self.root}, 16)

  def test_bad_or_missing_image_raise_or_skip(self):
    image_dir = os.path.join(self.root, "img_align_celeba")
    with open(os.path.join(image_dir, "000002.jpg"), "wb") as f:
      f.write(b"")  # Zero bytes.
    os.remove(os.path.join(image_dir, "000005.jpg"))
    spec = {"source": "celeba", "root": self.root, "attributes": "Male"}
    with self.assertRaisesRegex(errors.DataError, "000002.jpg: cannot read image"):
      faces.build(spec, 16)
    with self.assertLogs("absl", "WARNING") as logs:
      face_set = faces.build(dict(spec, on_bad_file="skip"), 16)
    self.assertEqual([os.path.basename(n) for n in face_set.names], ["000001.jpg"])
    self.assertRegex(logs.output[0], r"skipped 2 bad file\(s\).*000002.jpg.*000005.jpg")
    with self.assertRaisesRegex(errors.DataError, "asks for 2 images but only 1 of 3"):
      faces.build(dict(spec, on_bad_file="skip", count=2), 16)

  def test_missing_attribute_file_raises(self):
    os.remove(os.path.join(self.root, "list_attr_celeba.txt"))
    with self.assertRaisesRegex(errors.DataError, "no list_attr_celeba.txt"):
      faces.build({"source": "celeba", "root": self.root}, 16)


if __name__ == "__main__":
  import tensorflow as tf
  tf.test.main()
