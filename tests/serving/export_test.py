"""Export tests: signatures, atomic versions, models.config, and a round trip per task.

The round trip runs for every task gin file under gin/ (variants excluded): train 2 tiny
steps, export, load the SavedModel in a fresh process with TensorFlow alone, call every
signature and compare with the Keras generator run in this process. Tasks without an export
(`task.export`, aign_tf/tasks/export_base.py), or whose export raises NotImplementedError, are
skipped with a reason, so tasks landing later are covered without editing this file.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

from aign_tf import config
from aign_tf import errors
from aign_tf import runs
from aign_tf import testing
from aign_tf.core import files
from aign_tf.serving import export
from aign_tf.serving import model_config
from aign_tf.serving import testing as serving_testing
from aign_tf.tasks import base
from aign_tf.tasks import export_base
from aign_tf.tasks import toy
from aign_tf.tasks import toy_export
from aign_tf.train import trainer


task_gin_files = testing.task_gin_files


# Loads SavedModels with TensorFlow only and calls every signature on saved inputs; one
# process for all tasks (TensorFlow's import dominates its cost). Per-export errors are
# reported, not raised, so each task's test fails on its own.
FRESH_PROCESS = r"""
import json
import sys
import traceback
import numpy as np
import tensorflow as tf
jobs = json.loads(sys.argv[1])
for job in jobs:
  try:
    loaded = tf.saved_model.load(job["path"])
    data = np.load(job["inputs"])
    results = {}
    for name, fn in loaded.signatures.items():
      kwargs = {k: tf.constant(data[name + "/" + k]) for k in fn.structured_input_signature[1]}
      for key, value in fn(**kwargs).items():
        value = np.asarray(value.numpy())  # Scalar strings come back as bytes.
        # Byte strings as fixed-width "S" (np.load refuses pickled object arrays); this
        # strips trailing NULs, which PNGs (ending in the fixed IEND CRC) never have.
        results[name + "/" + key] = value.astype("S") if value.dtype == object else value
    np.savez(job["outputs"], **results)
  except Exception:
    with open(job["outputs"] + ".error", "w") as f:
      f.write(traceback.format_exc())
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("aign_tf", "tf_keras", "gin"))
assert not leaked, leaked
"""


def signature_inputs(task, arrays):
  """Inputs of each signature: serving_default as is, serving_bytes and serving_png with
  PNG images."""
  inputs = {export.SERVING_DEFAULT: arrays, export.METADATA: {}}
  if task.export.image_inputs():
    encoded = dict(arrays)
    for name in task.export.image_inputs():
      encoded[name] = np.array([serving_testing.encode_png(x) for x in arrays[name]], "S")
    inputs[export.SERVING_BYTES] = encoded
    inputs[export.SERVING_PNG] = encoded
  return inputs


def run_fresh_process(jobs):
  """jobs: list of (export path, {signature: {input: array}}, scratch dir). Returns one
  dict "signature/output" -> array (or an error string) per job."""
  specs = []
  for path, inputs, directory in jobs:
    flat = {f"{sig}/{k}": v for sig, values in inputs.items() for k, v in values.items()}
    np.savez(os.path.join(directory, "inputs.npz"), **flat)
    specs.append({"path": path, "inputs": os.path.join(directory, "inputs.npz"),
                  "outputs": os.path.join(directory, "outputs.npz")})
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", FRESH_PROCESS, json.dumps(specs)],
                          capture_output=True, text=True, timeout=600, env=env)
  if result.returncode != 0:
    raise AssertionError(result.stderr[-3000:])
  outputs = []
  for spec in specs:
    if os.path.exists(spec["outputs"] + ".error"):
      with open(spec["outputs"] + ".error") as f:
        outputs.append(f.read())
      continue
    with np.load(spec["outputs"]) as data:
      outputs.append({k: data[k] for k in data.files})
  return outputs


class RoundTrips:
  """Trains, exports and reloads every task once (on first use), for all round-trip tests."""

  results = None

  @classmethod
  def get(cls, gin_file, scratch):
    if cls.results is None:
      cls.results = cls._run_all(scratch)
    return cls.results[gin_file]

  @classmethod
  def _run_all(cls, scratch):
    from aign_tf.train import evaluation  # pylint: disable=g-import-not-at-top
    results, jobs = {}, []
    for i, gin_file in enumerate(task_gin_files()):
      directory = os.path.join(scratch, f"round_trip_{i}")
      os.makedirs(directory, exist_ok=True)
      try:
        config.parse([os.path.join(testing.GIN_DIR, gin_file),
                      os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
        task = config.resolve("train.task")
      except errors.ConfigError as e:
        results[gin_file] = {"skip": f"{gin_file} does not parse yet (gin_smoke_test "
                                     f"reports it): {e}"}
        continue
      try:
        export.input_specs(task)
      except errors.ConfigError as e:
        if (export_base.export_class(type(task)) is None
            or isinstance(e.__cause__, NotImplementedError)):
          results[gin_file] = {"skip": f"task {task.name!r} does not define its export yet"}
          continue
      model_dir = os.path.join(directory, "run")
      try:
        trainer.train(model_dir)
        export_root = os.path.join(directory, "export")
        info = export.export(model_dir, export_root)
        # The Keras generator, restored the same way, run in this process.
        task, model, step = runs.restore(model_dir)
        arrays = serving_testing.random_inputs(export.input_specs(task), batch_size=2)
        expected = task.export.serve(model.generator,
                                     {k: tf.constant(v) for k, v in arrays.items()})
        with open(os.path.join(model_dir, runs.OPERATIVE_CONFIG)) as f:
          digest = files.text_digest(f.read())
      except Exception as e:  # pylint: disable=broad-except
        results[gin_file] = {"error": f"{type(e).__name__}: {e}"}
        continue
      finally:
        config.gin.clear_config()
      results[gin_file] = {
          "task": task, "info": info, "step": step, "digest": digest,
          "export_base": export_root,
          "expected": {k: np.asarray(v) for k, v in expected.items()}}
      jobs.append((gin_file, (info["path"], signature_inputs(task, arrays), directory)))
    if jobs:
      for (gin_file, _), outputs in zip(jobs, run_fresh_process([j for _, j in jobs])):
        results[gin_file]["outputs"] = outputs
    return results


class ExportTest(testing.TestCase):

  def test_image_task_signatures(self):
    path = os.path.join(self.get_temp_dir(), "image", "1")
    task, generator = serving_testing.export_fake("image", path)
    loaded = tf.saved_model.load(path)
    self.assertSameElements(loaded.signatures,
                            ["serving_default", "serving_bytes", "serving_png", "metadata"])
    images = serving_testing.random_inputs(task.export.input_signature(), 3)["image"]
    direct = loaded.signatures["serving_default"](image=tf.constant(images))
    decoded = loaded.signatures["serving_bytes"](
        image=tf.constant([serving_testing.encode_png(x) for x in images]))
    expected = task.export.serve(generator, {"image": tf.constant(images)})
    for name in ("image", "image_float", "mean"):
      self.assertAllClose(direct[name], expected[name], atol=1e-6)
      self.assertAllClose(decoded[name], expected[name], atol=1e-6)
    self.assertEqual(direct["image"].dtype, tf.uint8)
    # serving_png: only the uint8 picture, as one PNG per example under a `_bytes` name.
    pngs = loaded.signatures["serving_png"](
        image=tf.constant([serving_testing.encode_png(x) for x in images]))
    self.assertSameElements(pngs, ["image_png_bytes"])
    self.assertEqual(pngs["image_png_bytes"].shape, [3])
    for png, picture in zip(pngs["image_png_bytes"].numpy(), direct["image"].numpy()):
      self.assertTrue(png.startswith(b"\x89PNG"))
      self.assertAllEqual(tf.io.decode_png(png), picture)
    metadata = loaded.signatures["metadata"]()
    self.assertEqual(metadata["task"].numpy(), b"image_test")
    self.assertEqual(int(metadata["step"]), 7)
    self.assertEqual(metadata["config_digest"].numpy().decode(),
                     files.text_digest("# fake image seed=0\n"))
    self.assertIn(b"uint8", metadata["conventions"].numpy())
    with open(os.path.join(path, export.EXPORT_INFO)) as f:
      self.assertEqual(json.load(f)["image_inputs"], ["image"])

  @testing.parameterized.named_parameters(
      ("wrong_size", lambda: serving_testing.encode_png(np.zeros([9, 8, 3], np.uint8)),
       "must be 8x8"),
      ("not_an_image", lambda: b"certainly not a PNG", "Unknown image file format"),
      ("empty", lambda: b"", "mpty"))
  def test_serving_bytes_rejects(self, make, needle):
    path = os.path.join(self.get_temp_dir(), "image", "1")
    serving_testing.export_fake("image", path)
    loaded = tf.saved_model.load(path)
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError, needle):
      loaded.signatures["serving_bytes"](image=tf.constant([make()]))

  def test_grayscale_png_is_converted_to_rgb(self):
    path = os.path.join(self.get_temp_dir(), "image", "1")
    serving_testing.export_fake("image", path)
    loaded = tf.saved_model.load(path)
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8, 1)
    from_gray = loaded.signatures["serving_bytes"](
        image=tf.constant([serving_testing.encode_png(gray)]))
    from_rgb = loaded.signatures["serving_default"](
        image=tf.constant(np.repeat(gray, 3, axis=-1)[None]))
    self.assertAllClose(from_gray["image_float"], from_rgb["image_float"])

  def test_serving_png_needs_image_inputs_and_uint8_outputs(self):

    class FloatOnly(serving_testing.ImageTask):
      pass

    @export_base.register_export(FloatOnly)
    class FloatOnlyExport(serving_testing.ImageExport):  # pylint: disable=unused-variable
      def serve(self, generator, inputs):
        return {k: v for k, v in super().serve(generator, inputs).items() if k != "image"}

    class GrayOut(serving_testing.ImageTask):
      pass

    @export_base.register_export(GrayOut)
    class GrayOutExport(serving_testing.ImageExport):  # pylint: disable=unused-variable
      def serve(self, generator, inputs):
        y = super().serve(generator, inputs)
        return dict(y, gray=y["image"][..., :1], flat=tf.reshape(y["image"], [-1, 192]))

    base = self.get_temp_dir()
    export.save(FloatOnly(), FloatOnly().generator(), os.path.join(base, "float", "1"))
    self.assertNotIn("serving_png", tf.saved_model.load(os.path.join(base, "float", "1"))
                     .signatures)
    serving_testing.export_fake("toy", os.path.join(base, "toy", "1"))
    self.assertNotIn("serving_png", tf.saved_model.load(os.path.join(base, "toy", "1"))
                     .signatures)
    export.save(GrayOut(), GrayOut().generator(), os.path.join(base, "gray", "1"))
    png_fn = tf.saved_model.load(os.path.join(base, "gray", "1")).signatures["serving_png"]
    self.assertSameElements(png_fn.structured_outputs, ["image_png_bytes", "gray_png_bytes"])
    gray = png_fn(image=tf.constant([serving_testing.encode_png(np.zeros([8, 8, 3], np.uint8))]))
    self.assertEqual(tf.io.decode_png(gray["gray_png_bytes"][0]).shape, [8, 8, 1])

  def test_save_never_overwrites_and_leaves_no_temporaries(self):
    base = os.path.join(self.get_temp_dir(), "toy")
    serving_testing.export_fake("toy", os.path.join(base, "1"), seed=0)
    before = open(os.path.join(base, "1", "saved_model.pb"), "rb").read()
    with self.assertRaisesRegex(errors.ConfigError, "exists"):
      serving_testing.export_fake("toy", os.path.join(base, "1"), seed=1)
    self.assertEqual(open(os.path.join(base, "1", "saved_model.pb"), "rb").read(), before)
    self.assertEqual(os.listdir(base), ["1"])
    self.assertEqual(export.versions(base), [1])

  def test_failed_save_leaves_no_version(self):

    class Broken(toy.ToyTask):
      pass

    @export_base.register_export(Broken)
    class BrokenExport(toy_export.ToyExport):  # pylint: disable=unused-variable
      def serve(self, generator, inputs):
        return {"x": inputs["observation"] @ tf.zeros([5, 1])}  # Shape error while tracing.

    base = os.path.join(self.get_temp_dir(), "broken")
    os.makedirs(base)
    with self.assertRaises(Exception):
      export.save(Broken(), serving_testing.toy_generator(), os.path.join(base, "1"))
    self.assertEqual(os.listdir(base), [])

  @testing.parameterized.named_parameters(
      ("not_implemented", {}, "does not define an export signature"),
      ("fixed_batch", {"x": tf.TensorSpec([2, 4], tf.float32)}, "None batch axis"),
      ("bad_name", {"a b": tf.TensorSpec([None], tf.float32)}, "not an identifier"),
      ("bad_image", {"image": tf.TensorSpec([None, 8, 8, 3], tf.float32)}, "uint8"))
  def test_bad_task_signatures(self, specs, needle):

    class Task(toy.ToyTask):
      pass

    @export_base.register_export(Task)
    class Export(export_base.TaskExport):  # pylint: disable=unused-variable
      def input_signature(self):
        return specs or super().input_signature()

      def image_inputs(self):
        return ("image",) if "image" in specs else ()

    with self.assertRaisesRegex(errors.ConfigError, needle):
      export.input_specs(Task())

  def test_task_without_export(self):

    class Task(base.Task):
      name = "no_export"

    with self.assertRaisesRegex(errors.ConfigError, "task 'no_export' does not define an "
                                "export: register an export_base.TaskExport"):
      export.input_specs(Task())

  def test_models_config_lists_every_export(self):
    base = self.get_temp_dir()
    serving_testing.export_fake("toy", os.path.join(base, "toy", "1"))
    serving_testing.export_fake("image", os.path.join(base, "image_test", "3"))
    os.makedirs(os.path.join(base, "empty_model"))
    os.makedirs(os.path.join(base, "mobile"))
    path = export.update_models_config(base)
    models = {m.name: m for m in model_config.read_config(path)}
    self.assertSameElements(models, ["toy", "image_test"])
    self.assertEqual(models["toy"].base_path, os.path.abspath(os.path.join(base, "toy")))
    # Policies and labels set by hand survive the next update.
    models["toy"].labels = {"stable": 1}
    with open(path, "w") as f:
      f.write(model_config.format_config(models.values()))
    export.update_models_config(base)
    self.assertEqual({m.name: m.labels for m in model_config.read_config(path)}["toy"],
                     {"stable": 1})

  def test_export_from_empty_model_dir(self):
    with self.assertRaisesRegex(errors.ConfigError, "not a training directory"):
      export.export(self.get_temp_dir(), os.path.join(self.get_temp_dir(), "export"))

  @testing.parameterized.parameters(*[(f,) for f in task_gin_files()])
  def test_round_trip(self, gin_file):
    result = RoundTrips.get(gin_file, tempfile.mkdtemp(prefix="round_trips-"))
    if "skip" in result:
      self.skipTest(result["skip"])
    self.assertNotIn("error", result, result.get("error"))
    task, info, outputs = result["task"], result["info"], result["outputs"]
    self.assertIsInstance(outputs, dict, f"the fresh process failed: {outputs}")
    self.assertEqual((info["name"], info["version"], info["step"]), (task.name, 1, 2))
    self.assertEqual([m.name for m in model_config.read_config(
        os.path.join(result["export_base"], "models.config"))], [task.name])
    signatures = [export.SERVING_DEFAULT] + (
        [export.SERVING_BYTES] if task.export.image_inputs() else [])
    pictures = export.image_outputs(
        {k: tf.TensorSpec(v.shape, v.dtype) for k, v in result["expected"].items()})
    png = [export.SERVING_PNG] if task.export.image_inputs() and pictures else []
    self.assertSameElements({k.split("/")[0] for k in outputs},
                            signatures + png + [export.METADATA])
    if png:
      self.assertSameElements(
          [k.split("/", 1)[1] for k in outputs if k.startswith(export.SERVING_PNG + "/")],
          [name + export.PNG_SUFFIX for name in pictures])
    for name in (pictures if png else []):
      encoded = outputs[f"{export.SERVING_PNG}/{name}{export.PNG_SUFFIX}"]
      decoded = np.stack([tf.io.decode_png(x).numpy() for x in encoded])
      self.assertAllEqual(decoded, outputs[f"{export.SERVING_BYTES}/{name}"],
                          msg=f"{export.SERVING_PNG}/{name}")
    for signature in signatures:
      for name, value in result["expected"].items():
        self.assertAllClose(outputs[f"{signature}/{name}"], value, atol=1e-5, rtol=1e-5,
                            msg=f"{signature}/{name}")
    self.assertEqual(outputs["metadata/task"], task.name.encode())
    self.assertEqual(int(outputs["metadata/step"]), result["step"])
    self.assertEqual(outputs["metadata/config_digest"], result["digest"].encode())

  def test_export_versions(self):
    model_dir = os.path.join(self.get_temp_dir(), "run")
    config.parse([os.path.join(testing.GIN_DIR, "toy.gin"),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
    trainer.train(model_dir)
    export_base = os.path.join(self.get_temp_dir(), "export")
    self.assertEqual(export.export(model_dir, export_base)["version"], 1)
    self.assertEqual(export.export(model_dir, export_base, name="toy2", version=5)["version"],
                     5)
    self.assertEqual(export.export(model_dir, export_base, name="toy2")["version"], 6)
    with self.assertRaisesRegex(errors.ConfigError, "exists"):
      export.export(model_dir, export_base, version=1)
    with self.assertRaisesRegex(errors.ConfigError, "invalid model name"):
      export.export(model_dir, export_base, name="../escape")
    self.assertEqual(export.versions(os.path.join(export_base, "toy")), [1])
    self.assertEqual(sorted(os.listdir(export_base)), ["models.config", "toy", "toy2"])
    self.assertSameElements([m.name for m in model_config.read_config(
        os.path.join(export_base, "models.config"))], ["toy", "toy2"])

  def test_saved_model_cli_lists_signatures(self):
    path = os.path.join(self.get_temp_dir(), "image", "1")
    serving_testing.export_fake("image", path)
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run([cli, "show", "--all", "--dir", path], capture_output=True,
                            text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    for signature in ("serving_default", "serving_bytes", "serving_png", "metadata"):
      self.assertIn(f"signature_def['{signature}']", result.stdout)
    self.assertIn("inputs['image'] tensor_info:", result.stdout)
    self.assertIn("DT_UINT8", result.stdout)
    self.assertIn("DT_STRING", result.stdout)
    self.assertIn("outputs['config_digest']", result.stdout)


if __name__ == "__main__":
  tf.test.main()
