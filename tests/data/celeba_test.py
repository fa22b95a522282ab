"""Tests of the CelebA attribute reader, the safe expression parser and the loader."""

import os
import tempfile

import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import celeba
from aign_tf.data import faces
from aign_tf.data import masks

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
    with self.assertRaisesRegex(errors.DataError, "line 8 has 2 attribute values, expected 3 "
                                r"\(000006.jpg\)"):
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

  def test_missing_attribute_file_raises_for_an_expression(self):
    os.remove(os.path.join(self.root, "list_attr_celeba.txt"))
    with self.assertRaisesRegex(errors.DataError, "no list_attr_celeba.txt or "
                                "list_attr_celeba.csv.*'Male'"):
      faces.build({"source": "celeba", "root": self.root, "attributes": "Male"}, 16)
    # Without an expression the partition list names the images.
    test = faces.build({"source": "celeba", "root": self.root, "partition": "test"}, 16)
    self.assertEqual([os.path.basename(n) for n in test.names], ["000004.jpg", "000005.jpg"])


# The other mirrors' CSV forms (Kaggle's header and the text form's values).
LANDMARKS = {"000001.jpg": (69, 111, 107, 111, 88, 135, 72, 152, 104, 152),
             "000002.jpg": (60, 100, 100, 104, 80, 130, 60, 150, 110, 150),
             "000003.jpg": (69, 111, 107, 111, 88, 135, 72, 152, 104, 152),
             "000004.jpg": (69, 111, 107, 111, 88, 135, 72, 152, 104, 152),
             "000005.jpg": (69, 111, 107, 111, 88, 135, 72, 152, 104, 152)}


def write_csv_lists(root, id_column="image_id"):
  os.remove(os.path.join(root, "list_attr_celeba.txt"))
  os.remove(os.path.join(root, "list_eval_partition.txt"))
  with open(os.path.join(root, "list_attr_celeba.csv"), "w") as f:
    f.write(",".join([id_column] + NAMES) + "\n")
    for name, values in ROWS.items():
      f.write(",".join([name] + [str(v) for v in values]) + "\n")
  with open(os.path.join(root, "list_eval_partition.csv"), "w") as f:
    f.write(f"{id_column},partition\n")
    for i, name in enumerate(ROWS):
      f.write(f"{name},{0 if i < 3 else 2}\n")
  with open(os.path.join(root, "list_landmarks_align_celeba.csv"), "w") as f:
    f.write(",".join((id_column,) + celeba.LANDMARK_COLUMNS) + "\n")
    for name, values in LANDMARKS.items():
      f.write(",".join([name] + [str(v) for v in values]) + "\n")


def write_landmarks_txt(root):
  with open(os.path.join(root, "list_landmarks_align_celeba.txt"), "w") as f:
    f.write(f"{len(LANDMARKS)}\n{' '.join(celeba.LANDMARK_COLUMNS)}\n")
    for name, values in LANDMARKS.items():
      f.write(f"{name:<10}" + "".join(f"{v:>6d}" for v in values) + "\n")


class CelebAFormatsTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.root = tempfile.mkdtemp(dir=self.get_temp_dir())
    write_celeba(self.root)

  @testing.parameterized.parameters("image_id", "filename")
  def test_csv_lists_select_like_the_text_lists(self, id_column):
    text = faces.build({"source": "celeba", "root": self.root, "attributes": "Male",
                        "partition": "train"}, 16)
    write_csv_lists(self.root, id_column)
    files, names, values = celeba.read_attributes(
        os.path.join(self.root, "list_attr_celeba.csv"))
    self.assertEqual((files, names), (list(ROWS), NAMES))
    self.assertAllEqual(values, list(ROWS.values()))
    from_csv = faces.build({"source": "celeba", "root": self.root, "attributes": "Male",
                            "partition": "train"}, 16)
    self.assertEqual(from_csv.names, text.names)
    self.assertAllEqual(from_csv.images, text.images)

  def test_landmarks_text_and_csv_map_into_the_crop(self):
    write_landmarks_txt(self.root)
    from_text = faces.build({"source": "celeba", "root": self.root}, 89)
    self.assertEqual(from_text.landmarks.shape, (5, 5, 2))
    # (x, y) in the 178x218 image -> (x, y - 20) * 89 / 178.
    self.assertAllClose(from_text.landmarks[1, 2], [40.0, 55.0])
    os.remove(os.path.join(self.root, "list_landmarks_align_celeba.txt"))
    write_csv_lists(self.root)
    from_csv = faces.build({"source": "celeba", "root": self.root}, 89)
    self.assertAllClose(from_csv.landmarks, from_text.landmarks)
    self.assertIsNone(faces.build({"source": "celeba", "root": self.root,
                                   "landmarks": False}, 89).landmarks)

  def test_mouth_and_nose_boxes_follow_each_faces_landmarks(self):
    write_landmarks_txt(self.root)
    face_set = faces.build({"source": "celeba", "root": self.root}, 178)
    mouth = masks.make_masks("mouth", len(face_set), 178, landmarks=face_set.landmarks)
    rows, cols = np.nonzero(mouth[1, ..., 0] == 0)
    # Image 2: corners (60, 130) and (110, 130) in the crop: 50 apart.
    self.assertAllClose([cols.mean(), rows.mean()], [85, 130], atol=1.0)
    self.assertEqual((cols.max() - cols.min() + 1, rows.max() - rows.min() + 1), (90, 45))
    nose = masks.make_masks("nose", len(face_set), 178, landmarks=face_set.landmarks)
    rows, cols = np.nonzero(nose[1, ..., 0] == 0)
    self.assertAllClose([cols.mean(), rows.mean()], [80, 110], atol=1.0)
    # The mean CelebA face gets about the fixed-fraction boxes.
    default = masks.make_masks("mouth", 1, 178)
    self.assertAllClose(np.sum(mouth[0] == 0), np.sum(default == 0), rtol=0.1)

  def test_kaggle_nested_image_folder(self):
    outer = os.path.join(self.root, "img_align_celeba")
    nested = os.path.join(outer, "img_align_celeba")
    os.makedirs(nested)
    for name in ROWS:
      os.rename(os.path.join(outer, name), os.path.join(nested, name))
    face_set = faces.build({"source": "celeba", "root": self.root, "attributes": "Young"}, 16)
    self.assertEqual([os.path.basename(n) for n in face_set.names],
                     ["000001.jpg", "000003.jpg"])

  @testing.parameterized.named_parameters(
      ("attribute_value", "list_attr_celeba.csv", 3, "000003.jpg,1,2,1",
       r"list_attr_celeba.csv: line 4 \(000003.jpg\), field 'Male': '2' is not -1 or 1"),
      ("attribute_count", "list_attr_celeba.csv", 2, "000002.jpg,1,1",
       r"list_attr_celeba.csv: line 3 has 2 attribute values, expected 3 \(000002.jpg\)"),
      ("partition", "list_eval_partition.csv", 5, "000005.jpg,test",
       r"list_eval_partition.csv: line 6 \(000005.jpg\), field 'partition': 'test' is not "
       r"0 \(train\), 1 \(val\) or 2 \(test\)"),
      ("landmark", "list_landmarks_align_celeba.csv", 1,
       "000001.jpg,69,111,107,111,x,135,72,152,104,152",
       r"list_landmarks_align_celeba.csv: line 2 \(000001.jpg\), field 'nose_x': 'x' is not "
       "a pixel coordinate"))
  def test_bad_csv_row_names_file_line_and_field(self, name, row, line, message):
    write_csv_lists(self.root)
    path = os.path.join(self.root, name)
    with open(path) as f:
      lines = f.read().splitlines()
    lines[row] = line
    with open(path, "w") as f:
      f.write("\n".join(lines) + "\n")
    with self.assertRaisesRegex(errors.DataError, message):
      faces.build({"source": "celeba", "root": self.root, "partition": "test"}, 16)

  def test_wrong_landmark_header_raises(self):
    with open(os.path.join(self.root, "list_landmarks_align_celeba.txt"), "w") as f:
      f.write("1\nx1 y1 x2 y2\n000001.jpg 1 2 3 4\n")
    with self.assertRaisesRegex(errors.DataError, "list_landmarks_align_celeba.txt: line 2: "
                                "header 'x1 y1 x2 y2' is not the CelebA landmark header"):
      faces.build({"source": "celeba", "root": self.root}, 16)


if __name__ == "__main__":
  import tensorflow as tf
  tf.test.main()
