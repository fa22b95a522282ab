"""The LiteRT face demo on a tiny exported faces_sr / faces_inpaint model: a real photo
(scikit-image's astronaut), a 16-bit greyscale PNG, a photo with no face, bad inputs."""

import os
import subprocess
import sys

import numpy as np
from PIL import Image
import skimage.data
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.detectors import blazeface
from aign_tf.detectors import testing as detector_testing
from aign_tf.serving import face_demo
from aign_tf.serving import tflite
from tests.serving import tflite_test

# The astronaut's face (eyes ~(205, 101) and ~(249, 107), mouth ~(221, 146)): the pasted
# result may differ from the photo only inside this box.
FACE_REGION = (150, 30, 300, 205)  # xmin, ymin, xmax, ymax


def write_png(path, array):
  Image.fromarray(array).save(path)
  return path


class FaceDemoTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.models = {}

  def setUp(self):
    super().setUp()
    self.detector = blazeface.FaceDetector(detector_testing.model_dir())

  def model(self, task):
    if task not in self.models:
      saved_model = tflite_test.Exports.get(task)
      output = os.path.join(tflite_test.Exports.scratch, f"{task}_demo.tflite")
      tflite.convert(saved_model, "none", output=output,
                     num_verification_samples=1)
      self.models[task] = output
    return self.models[task]

  def astronaut(self):
    return write_png(os.path.join(self.get_temp_dir(), "astronaut.png"),
                     skimage.data.astronaut())

  @testing.parameterized.parameters("faces_sr", "faces_inpaint")
  def test_astronaut_face_aligned_run_and_pasted_back(self, task):
    model = self.model(task)
    out_dir = os.path.join(self.get_temp_dir(), task)
    result = face_demo.run(model, self.astronaut(), out_dir, detector=self.detector)
    self.assertLen(result["faces"], 1)
    face_box = result["faces"][0].box
    self.assertTrue(np.all(face_box[:2] >= FACE_REGION[:2]), face_box)
    self.assertTrue(np.all(face_box[2:] <= FACE_REGION[2:]), face_box)
    r = result["results"][0]

    # Aligned: the eyes are on the canonical positions of the crop.
    side = r["aligned"].shape[0]
    np.testing.assert_allclose(r["keypoints"][:2] / side, blazeface.DEFAULT_EYES, atol=1e-6)
    # The crop is the photo seen through the similarity: blazeface.align's crop, here at 8x
    # the side and box-averaged (the demo avoids aliasing the same way, with its own factor).
    reference = face_demo.shrink(
        blazeface.align(skimage.data.astronaut(), result["faces"][0], 8 * side).crop, side)
    self.assertLess(np.mean(np.abs(r["aligned"].astype(float) - reference)), 3.0)

    # The model ran on that crop: same output as LiteRT on the demo's input.
    runner, details = tflite.signature_runner(model)
    inputs = {"image": r["input"][None]}
    if "mask" in details:
      inputs["mask"] = r["mask"][None]
      # The hidden box covers the mouth keypoint.
      mouth = np.round(r["keypoints"][3] * details["image"][0][1] / side).astype(int)
      self.assertEqual(r["mask"][mouth[1], mouth[0], 0], 255)
    else:
      self.assertEqual(r["input"].shape[0], details["image"][0][1])
    self.assertAllEqual(runner(**inputs)["image"][0], r["output"])

    # Pasted back: the photo changed around the face and nowhere else.
    photo = skimage.data.astronaut()
    written = np.asarray(Image.open(result["paths"][1]))
    self.assertAllEqual(written, result["photo"])
    changed = np.any(written != photo, axis=-1)
    self.assertGreater(changed.sum(), 100)
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = FACE_REGION
    self.assertTrue(xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1,
                    (xs.min(), ys.min(), xs.max(), ys.max()))
    # The panel: one row (aligned | input | output), enlarged.
    panel = np.asarray(Image.open(result["paths"][0]))
    self.assertGreaterEqual(panel.shape[1], 3 * 192)

  def test_several_faces_are_all_replaced(self):
    head = skimage.data.astronaut()[0:256, 100:356]
    pair = write_png(os.path.join(self.get_temp_dir(), "pair.png"),
                     np.concatenate([head, head[:, ::-1]], axis=1))
    result = face_demo.run(self.model("faces_sr"), pair, self.get_temp_dir(),
                           detector=self.detector)
    self.assertLen(result["faces"], 2)
    changed = np.any(result["photo"] != np.asarray(Image.open(pair)), axis=-1)
    self.assertTrue(changed[:, :256].any() and changed[:, 256:].any())

  def test_exif_orientation(self):
    # Stored sideways (turned a quarter counter-clockwise) with EXIF orientation 6: the demo
    # sees and writes the upright photo.
    path = os.path.join(self.get_temp_dir(), "sideways.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.rot90(skimage.data.astronaut())).save(path, exif=exif, quality=95)
    result = face_demo.run(self.model("faces_sr"), path, self.get_temp_dir(),
                           detector=self.detector)
    self.assertLen(result["faces"], 1)
    self.assertEqual(result["photo"].shape, (512, 512, 3))
    face_box = result["faces"][0].box
    self.assertTrue(np.all(face_box[:2] >= FACE_REGION[:2]), face_box)
    self.assertTrue(np.all(face_box[2:] <= FACE_REGION[2:]), face_box)

  def test_16_bit_greyscale_png(self):
    # The astronaut in 16-bit grey: decoded by scaling, not clipping at 255 (which would make
    # nearly every pixel white and hide the face).
    grey = np.asarray(Image.fromarray(skimage.data.astronaut()).convert("L"), np.uint16) * 257
    path = os.path.join(self.get_temp_dir(), "grey16.png")
    Image.fromarray(grey).save(path)
    self.assertEqual(Image.open(path).mode, "I;16")
    image = face_demo.load_image(path)
    self.assertEqual(image.shape, (512, 512, 3))
    self.assertLess(np.mean(image == 255), 0.05)
    np.testing.assert_allclose(image[..., 0], grey // 257, atol=1)
    _, faces = blazeface.faces_in_photo(path, self.detector)
    self.assertLen(faces, 1)
    result = face_demo.run(self.model("faces_sr"), path, self.get_temp_dir(),
                           detector=self.detector)
    self.assertLen(result["faces"], 1)

  def test_no_face_one_line_error_exit_2_nothing_written(self):
    brick = write_png(os.path.join(self.get_temp_dir(), "brick.png"), skimage.data.brick())
    out_dir = os.path.join(self.get_temp_dir(), "out")
    with self.assertRaisesRegex(errors.DataError, "brick.png: no face found"):
      face_demo.run(self.model("faces_sr"), brick, out_dir, detector=self.detector)
    self.assertFalse(os.path.exists(out_dir))
    # The tool: one line on stderr naming the file, exit code 2, no output folder.
    done = subprocess.run(
        [sys.executable, os.path.join(testing.REPO_DIR, "tools", "face_demo.py"),
         f"--model={self.model('faces_sr')}", f"--image={brick}", f"--output_dir={out_dir}"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, AIGN_TF_DETECTORS=detector_testing.model_dir(),
                 PYTHONPATH=os.pathsep.join([testing.REPO_DIR, os.environ.get("PYTHONPATH", "")])))
    self.assertEqual(done.returncode, 2, done.stderr[-2000:])
    self.assertEqual(done.stderr.strip().splitlines()[-1],
                     f"error: {brick}: no face found")
    self.assertFalse(os.path.exists(out_dir))

  def test_bad_inputs(self):
    model = self.model("faces_sr")
    directory = self.get_temp_dir()
    output = os.path.join(directory, "out")
    text = os.path.join(directory, "notes.txt")
    with open(text, "w") as f:
      f.write("not an image")
    with self.assertRaisesRegex(errors.DataError, "notes.txt: cannot read image"):
      face_demo.run(model, text, output, detector=self.detector)
    with self.assertRaisesRegex(errors.ConfigError, "not a TFLite model"):
      face_demo.run(text, text, output, detector=self.detector)
    tiny = write_png(os.path.join(directory, "tiny.png"), np.zeros([8, 8, 3], np.uint8))
    with self.assertRaisesRegex(errors.DataError, "too small"):
      face_demo.run(model, tiny, output, detector=self.detector)
    with self.assertRaisesRegex(errors.ConfigError, "mask part"):
      face_demo.run(model, tiny, output, mask_part="ear", detector=self.detector)
    self.assertFalse(os.path.exists(output))


if __name__ == "__main__":
  tf.test.main()
