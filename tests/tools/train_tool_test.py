"""End-to-end tests of tools/train.py and tools/evaluate.py as a user runs them."""

import json
import os
import signal
import subprocess
import sys
import time

import tensorflow as tf

from aign_tf import testing

TINY = ["--gin_file=gin/toy.gin", "--gin_file=gin/testing/tiny.gin"]


def tool(name, *args, timeout=300, **kwargs):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join("tools", name), *args],
                        cwd=testing.REPO_DIR, capture_output=True, text=True,
                        timeout=timeout, env=env, **kwargs)


class TrainToolTest(testing.TestCase):

  def test_train_then_evaluate(self):
    model_dir = os.path.join(self.get_temp_dir(), "run")
    result = tool("train.py", *TINY, f"--model_dir={model_dir}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    report_path = os.path.join(self.get_temp_dir(), "report.json")
    result = tool("evaluate.py", f"--model_dir={model_dir}", "--num_batches=2",
                  f"--output_json={report_path}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("factor_error", result.stdout)
    with open(report_path) as f:
      report = json.load(f)
    self.assertEqual(report["task"], "toy")
    self.assertEqual(report["step"], 2)
    self.assertEqual(report["num_examples"], 8)
    self.assertSameElements(report["metrics"],
                            ["factor_error", "predicted_offset", "reconstruction_loss"])

  @testing.parameterized.named_parameters(
      ("unknown_binding", ["--gin_bindings=train.no_such_thing = 3"], "no_such_thing"),
      ("unknown_configurable", ["--gin_bindings=Nope.x = 3"], "Nope.x"),
      ("missing_gin_file", ["--gin_file=gin/no_such_file.gin"], "no_such_file.gin"),
      ("bad_value", ["--gin_bindings=train.train_steps = 'ten'"], "train_steps"))
  def test_bad_configuration_is_one_line_error(self, extra, needle):
    model_dir = os.path.join(self.get_temp_dir(), "bad")
    result = tool("train.py", *TINY, *extra, f"--model_dir={model_dir}")
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    error_lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
    self.assertLen(error_lines, 1, result.stderr[-2000:])
    self.assertIn(needle, error_lines[0])
    self.assertNotIn("Traceback", result.stderr)
    self.assertFalse(os.path.exists(model_dir))

  def test_model_dir_that_is_a_file(self):
    path = os.path.join(self.get_temp_dir(), "a_file")
    with open(path, "w") as f:
      f.write("not a directory")
    result = tool("train.py", *TINY, f"--model_dir={path}")
    self.assertEqual(result.returncode, 2)
    self.assertIn("not a directory", result.stderr)

  def test_evaluate_empty_model_dir(self):
    result = tool("evaluate.py", f"--model_dir={self.get_temp_dir()}")
    self.assertEqual(result.returncode, 2)
    self.assertIn("not a training directory", result.stderr)

  def test_sigterm_saves_a_final_checkpoint(self):
    model_dir = os.path.join(self.get_temp_dir(), "long")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(
        [sys.executable, "tools/train.py", "--gin_file=gin/toy.gin",
         "--gin_bindings=train_steps = 1000000", "--gin_bindings=train.checkpoint_every = 1000000",
         "--gin_bindings=train.log_every = 100", f"--model_dir={model_dir}"],
        cwd=testing.REPO_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
      deadline = time.time() + 120
      events = os.path.join(model_dir, "train")
      while time.time() < deadline and not tf.io.gfile.glob(os.path.join(events, "events*")):
        time.sleep(0.5)
      time.sleep(3)  # Let it train a while.
      process.send_signal(signal.SIGTERM)
      _, stderr = process.communicate(timeout=120)
    finally:
      process.kill()
    self.assertEqual(process.returncode, 0, stderr[-2000:])
    self.assertIn("Stopped by SIGTERM", stderr)
    latest = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    self.assertIsNotNone(latest)
    self.assertGreater(int(latest.rsplit("-", 1)[1]), 0)


if __name__ == "__main__":
  tf.test.main()
