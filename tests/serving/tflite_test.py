"""TFLite conversion: tiny faces_sr / faces_inpaint models trained, exported, converted to
none/float16/int8 and run in LiteRT against the SavedModel; bad inputs."""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

from aign_tf import config
from aign_tf import errors
from aign_tf import testing
from aign_tf.serving import export
from aign_tf.serving import tflite
from aign_tf.train import trainer


class Exports:
  """Trains (2 steps, tiny shapes) and exports each faces task once for all tests."""

  paths = {}
  scratch = None

  @classmethod
  def get(cls, name):
    if name not in cls.paths:
      if cls.scratch is None:
        cls.scratch = tempfile.mkdtemp(prefix="tflite_test-")
      model_dir = os.path.join(cls.scratch, f"run_{name}")
      config.parse([os.path.join(testing.GIN_DIR, f"{name}.gin"),
                    os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
      try:
        trainer.train(model_dir)
        info = export.export(model_dir, os.path.join(cls.scratch, "export"))
      finally:
        config.gin.clear_config()
      cls.paths[name] = info["path"]
    return cls.paths[name]


class TFLiteTest(testing.TestCase):

  @testing.parameterized.product(task=["faces_sr", "faces_inpaint"],
                                 quantization=["none", "float16", "int8"])
  def test_convert_and_run_in_litert(self, task, quantization):
    saved_model = Exports.get(task)
    output = os.path.join(self.get_temp_dir(), f"{task}_{quantization}.tflite")
    report = tflite.convert(saved_model, quantization, output=output,
                            num_calibration_samples=8, num_verification_samples=4)
    self.assertTrue(tflite.is_tflite_file(output))
    with open(output + ".json") as f:
      self.assertEqual(json.load(f)["quantization"], quantization)
    # Batch 1, the SavedModel's input names and dtypes.
    runner, details = tflite.signature_runner(output)
    loaded, signature = tflite.load_saved_model(saved_model)
    specs = tflite.input_specs(signature)
    self.assertSameElements(details, specs)
    for name, (shape, dtype) in details.items():
      self.assertEqual(list(shape), [1] + specs[name].shape.as_list()[1:])
      self.assertEqual(dtype, np.uint8)
    # Independently of convert()'s own check: run a held-out input through both.
    task_obj = tflite.task_from_saved_model(saved_model)
    inputs, source = tflite.example_inputs(task_obj, specs, "eval", 1)
    self.assertEqual(source, f"task:{task}/eval")
    expected = signature(**{k: tf.constant(v) for k, v in inputs.items()})
    actual = runner(**inputs)
    self.assertEqual(actual["image"].dtype, np.uint8)
    self.assertEqual(actual["image"].shape, tuple(expected["image"].shape))
    tolerance = {"none": 1e-5, "float16": 2e-3, "int8": 0.1}[quantization]
    self.assertAllClose(actual["image_float"], expected["image_float"], atol=tolerance)
    floor = {"none": 80.0, "float16": 50.0, "int8": 25.0}[quantization]
    psnr = report["psnr_db"]
    self.assertTrue(psnr == "inf" or psnr > floor, f"PSNR {psnr} dB")
    self.assertEqual(report["size_bytes"], os.path.getsize(output))
    if quantization == "int8":
      self.assertEqual(report["calibration"]["source"], f"task:{task}/train")
      self.assertLess(report["size_bytes"],
                      os.path.getsize(tflite.default_output(saved_model, "none"))
                      if os.path.exists(tflite.default_output(saved_model, "none"))
                      else 10 ** 9)
    del loaded

  def test_inpainting_keeps_visible_pixels(self):
    saved_model = Exports.get("faces_inpaint")
    output = os.path.join(self.get_temp_dir(), "inpaint.tflite")
    tflite.convert(saved_model, "none", output=output, num_verification_samples=1)
    runner, details = tflite.signature_runner(output)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, details["image"][0], dtype=np.uint8)
    mask = np.zeros(details["mask"][0], np.uint8)
    mask[:, 8:16, 8:16] = 255
    result = runner(image=image, mask=mask)["image"]
    visible = mask[..., 0] < 128
    self.assertAllEqual(result[visible], image[visible])

  def test_failed_threshold_removes_output(self):
    saved_model = Exports.get("faces_sr")
    output = os.path.join(self.get_temp_dir(), "strict.tflite")
    with self.assertRaisesRegex(tflite.ConversionError, "< --min_psnr 1000"):
      tflite.convert(saved_model, "float16", output=output, num_verification_samples=1,
                     min_psnr=1000.0)
    self.assertFalse(os.path.exists(output))
    self.assertFalse(os.path.exists(output + ".json"))

  def test_random_inputs_without_operative_config(self):
    path = os.path.join(self.get_temp_dir(), "image", "1")
    from aign_tf.serving import testing as serving_testing  # pylint: disable=g-import-not-at-top
    serving_testing.export_fake("image", path)
    if os.path.exists(os.path.join(path, export.OPERATIVE_CONFIG_COPY)):
      os.remove(os.path.join(path, export.OPERATIVE_CONFIG_COPY))
    report = tflite.convert(path, "int8", output=os.path.join(self.get_temp_dir(), "i.tflite"),
                            num_calibration_samples=4, num_verification_samples=2)
    self.assertEqual(report["calibration"]["source"], "random")
    self.assertEqual(report["verification"]["source"], "random")

  def test_bad_inputs(self):
    directory = self.get_temp_dir()
    not_a_model = os.path.join(directory, "notes.txt")
    with open(not_a_model, "w") as f:
      f.write("hello")
    with self.assertRaisesRegex(errors.ConfigError, "not a SavedModel"):
      tflite.convert(not_a_model)
    with self.assertRaisesRegex(errors.ConfigError, "not a SavedModel"):
      tflite.convert(directory)
    with self.assertRaisesRegex(errors.ConfigError, "not found"):
      tflite.convert(os.path.join(directory, "missing"))
    with self.assertRaisesRegex(errors.ConfigError, "quantization must be one of"):
      tflite.convert(Exports.get("faces_sr"), "dynamic")
    with self.assertRaisesRegex(errors.ConfigError, "not a TFLite model"):
      tflite.signature_runner(not_a_model)

  def test_tool_prints_one_line_error(self):
    not_a_model = os.path.join(self.get_temp_dir(), "model.tflite")
    with open(not_a_model, "wb") as f:
      f.write(b"\x00" * 64)
    result = subprocess.run(
        [sys.executable, os.path.join(testing.REPO_DIR, "tools", "export_tflite.py"),
         f"--saved_model={not_a_model}"], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    self.assertEqual(result.returncode, 2)
    errors_printed = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    self.assertLen(errors_printed, 1)
    self.assertIn("not a SavedModel", errors_printed[0])
    self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
  tf.test.main()
