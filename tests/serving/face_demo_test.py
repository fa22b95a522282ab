"""The LiteRT face demo on a tiny exported faces_sr / faces_inpaint model; bad inputs."""

import os

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.serving import face_demo
from aign_tf.serving import tflite
from tests.serving import tflite_test


def write_png(path, array):
  Image.fromarray(array).save(path)
  return path


class FaceDemoTest(testing.TestCase):

  def model(self, task, quantization="none"):
    output = os.path.join(self.get_temp_dir(), f"{task}.tflite")
    tflite.convert(tflite_test.Exports.get(task), quantization, output=output,
                   num_verification_samples=1, num_calibration_samples=4)
    return output

  @testing.parameterized.parameters("faces_sr", "faces_inpaint")
  def test_side_by_side_matches_litert(self, task):
    model = self.model(task)
    rng = np.random.default_rng(0)
    photo = write_png(os.path.join(self.get_temp_dir(), "photo.png"),
                      rng.integers(0, 256, [60, 90, 3], dtype=np.uint8))
    output = os.path.join(self.get_temp_dir(), "out.png")
    result = face_demo.run(model, photo, output, detect=False)
    self.assertEqual(result["crop"], (15, 0, 60))  # The centre square.
    panel = np.asarray(Image.open(output))
    out = result["output"]
    self.assertEqual(panel.shape, (out.shape[0], 2 * out.shape[1] + 4, 3))
    self.assertAllEqual(panel[:, -out.shape[1]:], out)
    runner, _ = tflite.signature_runner(model)
    inputs = {"image": result["input"][None]}
    if task == "faces_inpaint":
      inputs["mask"] = face_demo.mask_for(out.shape[0])[None]
    self.assertAllEqual(runner(**inputs)["image"][0], out)

  def test_bad_inputs(self):
    model = self.model("faces_sr")
    directory = self.get_temp_dir()
    output = os.path.join(directory, "out.png")
    text = os.path.join(directory, "notes.txt")
    with open(text, "w") as f:
      f.write("not an image")
    with self.assertRaisesRegex(errors.DataError, "cannot read image"):
      face_demo.run(model, text, output)
    with self.assertRaisesRegex(errors.ConfigError, "not a TFLite model"):
      face_demo.run(text, text, output)
    tiny = write_png(os.path.join(directory, "tiny.png"), np.zeros([8, 8, 3], np.uint8))
    with self.assertRaisesRegex(errors.DataError, "too small"):
      face_demo.run(model, tiny, output, detect=False)
    grey = write_png(os.path.join(directory, "grey.png"), np.full([80, 80, 3], 128, np.uint8))
    try:
      import cv2  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
      self.skipTest("no OpenCV: no face detection")
    with self.assertRaisesRegex(errors.DataError, "no face found"):
      face_demo.run(model, grey, output)
    self.assertFalse(os.path.exists(output))


if __name__ == "__main__":
  tf.test.main()
