"""Follows docs/adding_a_task.md: its files, written out and imported, train, evaluate and
export."""

import importlib.util
import os
import re
import sys

import numpy as np

from aign_tf import config
from aign_tf import runs
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.serving import export
from aign_tf.tasks import base
from aign_tf.tasks import export_base
from aign_tf.train import trainer

DOC = os.path.join(testing.REPO_DIR, "docs", "adding_a_task.md")


def doc_files():
  """dict path -> text of every code block of the doc that starts with `# file: <path>`."""
  with open(DOC) as f:
    text = f.read()
  blocks = re.findall(r"```(?:python)?\n# file: (\S+)\n(.*?)```", text, re.S)
  return {path: body for path, body in blocks}


class AddingATaskTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.files = doc_files()
    self.scratch = self.get_temp_dir()

  def load(self, path):
    """Imports the doc's module `path` as the module its path names."""
    name = path[:-len(".py")].replace("/", ".")
    location = os.path.join(self.scratch, path)
    os.makedirs(os.path.dirname(location), exist_ok=True)
    with open(location, "w") as f:
      f.write(self.files[path])
    spec = importlib.util.spec_from_file_location(name, location)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    self.addCleanup(sys.modules.pop, name, None)
    spec.loader.exec_module(module)
    return module

  def test_the_doc_names_its_files(self):
    self.assertEqual(sorted(self.files), ["aign_tf/data/spikes.py",
                                          "aign_tf/renderers/box_blur.py",
                                          "aign_tf/tasks/spikes.py",
                                          "aign_tf/tasks/spikes_export.py", "gin/spikes.gin"])

  def test_following_the_doc_trains_and_evaluates(self):
    self.load("aign_tf/data/spikes.py")
    self.load("aign_tf/renderers/box_blur.py")
    task_module = self.load("aign_tf/tasks/spikes.py")
    self.addCleanup(base._TASKS.pop, "spikes", None)  # pylint: disable=protected-access
    self.assertIs(base.registered_tasks()["spikes"], task_module.SpikesTask)
    export_module = self.load("aign_tf/tasks/spikes_export.py")
    exports = export_base._EXPORTS  # pylint: disable=protected-access
    self.addCleanup(exports.pop, task_module.SpikesTask, None)
    gin_file = os.path.join(self.scratch, "gin", "spikes.gin")
    os.makedirs(os.path.dirname(gin_file), exist_ok=True)
    with open(gin_file, "w") as f:
      f.write(self.files["gin/spikes.gin"])
    config.parse([gin_file, os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
    result = trainer.train(os.path.join(self.scratch, "run"))
    self.assertEqual(result["step"], 2)
    self.assertIn("signal_error", result["eval"])
    self.assert_finite(result["eval"]["signal_error"])
    # The memory is built only for a model with a discriminator.
    task = task_module.SpikesTask(num_train=8, num_memory=8)
    self.assertIn(keys.MEMORY, next(iter(task.train_dataset(4))))
    self.assertNotIn(keys.MEMORY, next(iter(task.train_dataset(4, with_memory=False))))
    # The export: found from the task, its signatures built on the trained generator.
    task, model, _ = runs.restore(os.path.join(self.scratch, "run"))
    self.assertIsInstance(task.export, export_module.SpikesExport)
    _, signatures = export.build(task, model.generator)
    self.assertSameElements(signatures, [export.SERVING_DEFAULT, export.METADATA])
    blurred = np.random.default_rng(0).random((3, 16)).astype(np.float32)
    self.assertAllClose(signatures[export.SERVING_DEFAULT](blurred=blurred)["sharp"],
                        model.generator(blurred, training=False))
