"""Faults during training: SIGKILL at a random moment, then the same command resumes;
seeded deterministic runs repeat exactly."""

import os
import random
import re
import signal
import subprocess
import sys
import time

import tensorflow as tf

from aign_tf import testing

# A toy run slow enough (~100 steps/s on 2 cores) to be killed in the middle.
SLOW_TOY = ["--gin_file=gin/toy.gin", "--gin_bindings=train_steps = 1500",
            "--gin_bindings=batch_size = 1024", "--gin_bindings=generators.MLP.hidden_units = 512",
            "--gin_bindings=tasks.ToyTask.num_train = 8192",
            "--gin_bindings=train.checkpoint_every = 100",
            "--gin_bindings=train.log_every = 100", "--gin_bindings=train.eval_every = 0"]


def command(model_dir, args):
  return [sys.executable, "tools/train.py", *args, f"--model_dir={model_dir}"]


def environment():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


class FaultTest(testing.TestCase):

  def test_sigkill_then_same_command_resumes(self):
    model_dir = os.path.join(self.get_temp_dir(), "killed")
    checkpoints = os.path.join(model_dir, "checkpoints")
    process = subprocess.Popen(command(model_dir, SLOW_TOY), cwd=testing.REPO_DIR,
                               env=environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
      deadline = time.time() + 180
      while time.time() < deadline and tf.train.latest_checkpoint(checkpoints) is None:
        time.sleep(0.2)
      time.sleep(random.Random().uniform(0.0, 3.0))  # A random moment, maybe mid-save.
      process.send_signal(signal.SIGKILL)
      process.wait(timeout=60)
    finally:
      process.kill()
    killed_at = tf.train.latest_checkpoint(checkpoints)
    self.assertIsNotNone(killed_at)
    with open(os.path.join(model_dir, "operative_config.gin")) as f:
      config_before = f.read()

    result = subprocess.run(command(model_dir, SLOW_TOY), cwd=testing.REPO_DIR,
                            env=environment(), capture_output=True, text=True, timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    resumed = re.search(r"Resumed from \S+ckpt-(\d+) at step (\d+)", result.stderr)
    self.assertIsNotNone(resumed, result.stderr[-3000:])
    self.assertEqual(resumed.group(1), resumed.group(2))
    self.assertGreaterEqual(int(resumed.group(1)), 100)
    self.assertEqual(tf.train.latest_checkpoint(checkpoints),
                     os.path.join(checkpoints, "ckpt-1500"))
    with open(os.path.join(model_dir, "operative_config.gin")) as f:
      self.assertEqual(f.read(), config_before)
    # The generator optimizer's step continued from the checkpoint.
    reader = tf.train.load_checkpoint(os.path.join(checkpoints, "ckpt-1500"))
    iterations = [n for n in reader.get_variable_to_shape_map()
                  if n.startswith("generator_optimizer/_iterations")]
    self.assertLen(iterations, 1)
    self.assertEqual(int(reader.get_tensor(iterations[0])), 1500)

  def test_deterministic_runs_are_identical(self):
    digests = []
    for run in range(2):
      model_dir = os.path.join(self.get_temp_dir(), f"det{run}")
      result = subprocess.run(
          command(model_dir, ["--gin_file=gin/toy.gin", "--gin_file=gin/testing/tiny.gin",
                              "--gin_bindings=train_steps = 5",
                              "--gin_bindings=train.deterministic = True",
                              "--gin_bindings=train.seed = 7"]),
          cwd=testing.REPO_DIR, env=environment(), capture_output=True, text=True,
          timeout=300)
      self.assertEqual(result.returncode, 0, result.stderr[-3000:])
      digests.append(re.findall(r"weights digest at step 5: (\w+)", result.stderr))
    self.assertLen(digests[0], 1)
    self.assertEqual(digests[0], digests[1])


if __name__ == "__main__":
  tf.test.main()
