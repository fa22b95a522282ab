"""Test helpers: the project `TestCase` and small fakes."""

import glob
import os
import re

from absl.testing import parameterized
import gin
import numpy as np
import tensorflow as tf
import tf_keras as keras

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIN_DIR = os.path.join(REPO_DIR, "gin")


class TestCase(parameterized.TestCase, tf.test.TestCase):
  """Clears gin before and after each test and fixes the seeds."""

  # tf.test.TestCase's deprecated `test_session` context manager looks like a test to
  # pytest, which then reports one skipped "test" per test class: hide it.
  test_session = None

  def setUp(self):
    super().setUp()
    gin.clear_config()
    keras.utils.set_random_seed(0)

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def assert_finite(self, value):
    self.assertTrue(np.all(np.isfinite(np.asarray(value))), f"not finite: {value}")


# The absl flags each script loaded by `load_script` defined: {module name: {name: Flag}}.
_SCRIPT_FLAGS = {}


def load_script(relative_path):
  """Imports a script of the repository (e.g. "experiments/sfm_ablation.py") as a module,
  once per process, so tests can call its functions. Scripts define absl flags of the same
  names (--gin_bindings, ...) in one global registry, so the flags of the scripts loaded
  before step aside and this script's own are (re)installed: call it in `setUp`."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  name = "script_" + re.sub(r"\W", "_", relative_path)
  for defined in _SCRIPT_FLAGS.values():
    for flag_name in defined:
      if flag_name in flags.FLAGS:
        delattr(flags.FLAGS, flag_name)
  if name in sys.modules:
    for flag_name, flag in _SCRIPT_FLAGS.get(name, {}).items():
      flags.FLAGS[flag_name] = flag
    return sys.modules[name]
  before = set(flags.FLAGS)
  spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_DIR, relative_path))
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  _SCRIPT_FLAGS[name] = {flag_name: flags.FLAGS[flag_name]
                         for flag_name in set(flags.FLAGS) - before}
  return module


def write_random_frames(folder, count, height, width, seed=0):
  """`count` PNG frames of uniform noise, `height x width`, named 0.png, 1.png, ... in a new
  `folder` (a frames source for tests); returns `folder`."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  os.makedirs(folder)
  rng = np.random.default_rng(seed)
  for i in range(count):
    Image.fromarray(rng.integers(0, 255, (height, width, 3), np.uint8)).save(
        os.path.join(folder, f"{i}.png"))
  return folder


def task_gin_files():
  """gin/<task>.gin files, one per application: those including only base.gin (variants
  include a task file). A new task's gin file is picked up by every test that uses this."""
  found = []
  for path in sorted(glob.glob(os.path.join(GIN_DIR, "*.gin"))):
    if os.path.basename(path) == "base.gin":
      continue
    with open(path) as f:
      includes = re.findall(r"^\s*include\s+['\"]([^'\"]+)['\"]", f.read(), re.M)
    if all(os.path.basename(i) == "base.gin" for i in includes):
      found.append(os.path.basename(path))
  return found


def toy_model(reconstruction_weight=1.0, adversarial_weight=0.1, supervised_weight=0.0,
              discriminator_steps=1, renderer=None, learning_rate=1e-3, **kwargs):
  """A compiled AIGN for the toy task (MLP generator and discriminator)."""
  # Imported here so that `aign_tf.testing` stays light for tests that do not need it.
  from aign_tf.models import aign  # pylint: disable=g-import-not-at-top
  from aign_tf.models import discriminators  # pylint: disable=g-import-not-at-top
  from aign_tf.models import generators  # pylint: disable=g-import-not-at-top
  from aign_tf.renderers import base  # pylint: disable=g-import-not-at-top
  model = aign.AIGN(
      generator=generators.MLP(output_dim=8, hidden_units=32),
      renderer=renderer or base.AveragePooling1D(2),
      discriminator=discriminators.MLP(hidden_units=32),
      reconstruction_weight=reconstruction_weight,
      adversarial_weight=adversarial_weight,
      supervised_weight=supervised_weight,
      discriminator_steps=discriminator_steps, **kwargs)
  model.compile(generator_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
                discriminator_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
  return model


def main():
  """Runs a test module's tests (`python tests/.../x_test.py`)."""
  tf.test.main()
