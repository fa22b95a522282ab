"""Bad configuration, full disks and broken checkpoints end in one line naming the binding,
path or file (exit code 2 from the tools), never in a traceback or silence; nothing is lost."""

import errno
import glob
import json
import os
import subprocess
import sys
from unittest import mock

from absl import logging as absl_logging

from aign_tf import config
from aign_tf import errors
from aign_tf import runs
from aign_tf import testing
from aign_tf.core import files
from aign_tf.serving import export
from aign_tf.train import evaluation
from aign_tf.train import trainer

TOY = [os.path.join(testing.GIN_DIR, "toy.gin"),
       os.path.join(testing.GIN_DIR, "testing", "tiny.gin")]


def run_tool(script, *args):
  return subprocess.run([sys.executable, f"tools/{script}", *args], cwd=testing.REPO_DIR,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True,
                        text=True, timeout=600)


def error_lines(stderr):
  return [line for line in stderr.splitlines() if line.startswith("error:")]


class BindingErrorTest(testing.TestCase):
  """A binding of the right name and a wrong value or type names the binding."""

  @testing.parameterized.parameters(
      ("faces_sr.gin", "tasks.FaceSRTask.resolution = 'big'", "train.task"),
      ("faces_sr.gin", "generators.SRResNet.filters = -8", "models.AIGN.generator"),
      ("toy.gin", "models.AIGN.reconstruction_weight = 'heavy'", "train.model"))
  def test_wrong_value_names_the_binding(self, gin_file, binding, build):
    config.parse([os.path.join(testing.GIN_DIR, gin_file),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")], [binding])
    with self.assertRaises((TypeError, ValueError)) as raised:
      value = config.resolve(build)
      if build == "train.model":
        value()
    error = config.binding_error(raised.exception)
    self.assertIsInstance(error, errors.ConfigError)
    message = str(error)
    self.assertEqual(len(message.splitlines()), 1, message)
    self.assertIn(binding.replace(" = ", " = ").split(" = ")[0], message)

  def test_other_errors_are_not_taken_for_bindings(self):
    self.assertIsNone(config.binding_error(ValueError("plain bug")))

  def test_tool_prints_one_line_without_gin_search_noise(self):
    result = run_tool("train.py", "--gin_file=gin/toy.gin", "--gin_file=gin/testing/tiny.gin",
                      "--gin_bindings=models.AIGN.reconstruction_weight = 'heavy'",
                      f"--model_dir={self.get_temp_dir()}/run")
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertEqual(error_lines(result.stderr),
                     ["error: gin: models.AIGN.reconstruction_weight = 'heavy': "
                      "AIGN.reconstruction_weight must be a number >= 0, got 'heavy'"])
    self.assertNotIn("Traceback", result.stderr)
    self.assertNotIn("Path not found", result.stderr)

  def test_moved_binding_names_its_new_place(self):
    # The README's video command before the sfm sources were objects of their own.
    with self.assertRaises(errors.ConfigError) as raised:
      config.parse([os.path.join(testing.GIN_DIR, "sfm_video.gin")],
                   ["tasks.SfmTask.data_dir = '/path/bikes.mp4'"])
    self.assertEqual(str(raised.exception),
                     "gin: tasks.SfmTask.data_dir moved: bind sfm_sources.Frames.data_dir "
                     "(bindings string line 1: tasks.SfmTask.data_dir = '/path/bikes.mp4')")

  def test_misspelt_parameter_of_a_keras_class_names_the_binding(self):
    # Gin takes any name for a constructor with **kwargs (AIGN, the networks); Keras would
    # only fail when building the model, with "Keyword argument not understood".
    for binding, parameter in (("models.AIGN.adversarial_wieght = 0.1", "adversarial_wieght"),
                               ("generators.DepthEgomotionNet.basefilters = 8", "basefilters")):
      with self.subTest(binding=binding), self.assertRaises(errors.ConfigError) as raised:
        config.parse([os.path.join(testing.GIN_DIR, "sfm.gin")], [binding])
      message = str(raised.exception)
      self.assertIn(f"{binding.split(' = ')[0]}: ", message)
      self.assertIn(f"has no parameter {parameter!r}", message)
    self.assertIn("base_filters", message)  # the parameters it does take
    # Keras' own keyword arguments and the classes' own parameters still parse.
    config.parse([os.path.join(testing.GIN_DIR, "sfm.gin")],
                 ["generators.DepthEgomotionNet.name = 'depth'",
                  "models.AIGN.weight_average_decay = 0.9"])

  def test_ignored_strategy_binding_is_refused(self):
    result = run_tool("train.py", "--gin_file=gin/toy.gin", "--gin_file=gin/testing/tiny.gin",
                      "--gin_bindings=train.make_strategy.name = 'mirrored'",
                      f"--model_dir={self.get_temp_dir()}/run")
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn("train.make_strategy", error_lines(result.stderr)[0])


class DiskErrorTest(testing.TestCase):
  """A read-only or full disk names the path; evaluate prints its metrics first."""

  def setUp(self):
    super().setUp()
    self.model_dir = os.path.join(self.get_temp_dir(), "run")
    config.parse(TOY)
    trainer.train(self.model_dir)

  def test_atomic_write_on_a_full_disk_names_the_path_and_leaves_nothing(self):
    target = os.path.join(self.get_temp_dir(), "out", "report.json")
    with mock.patch("os.fsync", side_effect=OSError(errno.ENOSPC, "No space left on device")):
      with self.assertRaisesRegex(errors.WriteError, "report.json: cannot write "
                                                     r"\(No space left on device\)"):
        files.atomic_write(target, "{}")
    self.assertEqual(os.listdir(os.path.dirname(target)), [])

  def test_train_into_a_path_below_a_file_is_one_line(self):
    blocker = os.path.join(self.get_temp_dir(), "a_file")
    with open(blocker, "w") as f:
      f.write("x")
    result = run_tool("train.py", "--gin_file=gin/toy.gin", "--gin_file=gin/testing/tiny.gin",
                      f"--model_dir={blocker}/run")
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn(blocker, error_lines(result.stderr)[0])
    self.assertNotIn("Traceback", result.stderr)

  def test_evaluate_prints_metrics_before_failing_to_write(self):
    blocker = os.path.join(self.get_temp_dir(), "a_file")
    with open(blocker, "w") as f:
      f.write("x")
    result = run_tool("evaluate.py", f"--model_dir={self.model_dir}",
                      f"--output_json={blocker}/eval.json")
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn("factor_error", result.stderr)  # The table, printed before the error.
    lines = error_lines(result.stderr)
    self.assertEqual(len(lines), 1, result.stderr[-2000:])
    self.assertIn(f"{blocker}/eval.json", lines[0])

  def test_export_on_a_full_disk_names_the_version_and_leaves_no_temporary(self):
    export_base = os.path.join(self.get_temp_dir(), "export")
    with mock.patch("tensorflow.saved_model.save",
                    side_effect=OSError(errno.ENOSPC, "No space left on device")):
      with self.assertRaisesRegex(errors.WriteError, r"toy/1: cannot write"):
        export.export(self.model_dir, export_base)
    self.assertEqual(glob.glob(os.path.join(export_base, "toy", ".tmp-*")), [])

  def test_next_export_removes_temporaries_of_killed_exports(self):
    export_base = os.path.join(self.get_temp_dir(), "export")
    dead = os.path.join(export_base, "toy", ".tmp-1-999999999-abc")   # No such process.
    empty = os.path.join(export_base, "toy", ".tmp-1-old")           # Older naming, empty.
    alive = os.path.join(export_base, "toy", f".tmp-2-{os.getpid()}-xyz")  # Still running.
    for folder in (dead, empty, alive):
      os.makedirs(folder)
    with open(os.path.join(dead, "saved_model.pb"), "w") as f:
      f.write("half")
    export.export(self.model_dir, export_base, version=3)
    self.assertFalse(os.path.exists(dead))
    self.assertFalse(os.path.exists(empty))
    self.assertTrue(os.path.exists(alive))


class BrokenCheckpointTest(testing.TestCase):
  """A truncated newest checkpoint is named and the newest one that restores is used."""

  def setUp(self):
    super().setUp()
    self.model_dir = os.path.join(self.get_temp_dir(), "run")
    config.parse(TOY)
    trainer.train(self.model_dir)  # tiny.gin: checkpoint every step -> ckpt-1, ckpt-2.
    checkpoint_dir = os.path.join(self.model_dir, runs.CHECKPOINT_DIR)
    self.newest = os.path.join(checkpoint_dir, "ckpt-2")
    for path in glob.glob(self.newest + ".data-*"):
      with open(path, "r+b") as f:
        f.truncate(8)

  def test_restore_falls_back_with_a_warning_naming_the_file(self):
    with self.assertLogs(absl_logging.get_absl_logger(), "WARNING") as logs:
      _, _, step = runs.restore(self.model_dir)
    self.assertEqual(step, 1)
    self.assertTrue(any("ckpt-2" in line and "cannot be restored" in line
                        for line in logs.output), logs.output)

  def test_evaluate_and_resume_use_the_older_checkpoint(self):
    report = evaluation.evaluate(self.model_dir)
    self.assertEqual(report["step"], 1)
    config.parse(TOY, ["train_steps = 3"])
    result = trainer.train(self.model_dir)
    self.assertEqual(result["step"], 3)

  def test_every_checkpoint_broken_is_one_error_naming_them(self):
    for path in glob.glob(os.path.join(self.model_dir, runs.CHECKPOINT_DIR, "ckpt-1.data-*")):
      with open(path, "r+b") as f:
        f.truncate(8)
    with self.assertRaisesRegex(errors.DataError, "no checkpoint restores.*ckpt-2.*ckpt-1"):
      runs.restore(self.model_dir)

  def test_export_tool_exits_2_only_when_nothing_restores(self):
    result = run_tool("export.py", f"--model_dir={self.model_dir}",
                      f"--export_base={self.get_temp_dir()}/export")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("ckpt-2", result.stderr)
    info = json.loads(open(glob.glob(os.path.join(
        self.get_temp_dir(), "export", "toy", "1", "assets.extra", "*.json"))[0]).read())
    self.assertEqual(info["step"], 1)
