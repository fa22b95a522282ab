"""Distribution strategies give the same training as a single device."""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap

import numpy as np
import tensorflow as tf

from aign_tf import testing

_MIRRORED_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import tf_keras as keras
    from aign_tf import testing
    from aign_tf.tasks import toy
    from aign_tf.train import trainer

    def run(model_dir, strategy):
      models = []
      def model_fn():
        models.append(testing.toy_model(supervised_weight=1.0, weight_average_decay=0.9))
        return models[-1]
      trainer.train(model_dir, task=toy.ToyTask(num_train=256, num_memory=256,
                                                num_eval=32, paired_fraction=0.3),
                    model=model_fn,
                    generator_optimizer=lambda: keras.optimizers.Adam(1e-3),
                    discriminator_optimizer=lambda: keras.optimizers.Adam(1e-3),
                    batch_size=8, train_steps=4, checkpoint_every=10, eval_every=0,
                    strategy=strategy)
      model = models[-1]
      return (model.generator.get_weights() + model.discriminator.get_weights()
              + [a.numpy() for a in model.generator_average.weights])

    single = run(sys.argv[1] + "/default", "default")
    mirrored = run(sys.argv[1] + "/mirrored",
                   tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    print("MAXDIFF", max(float(np.abs(a - b).max()) for a, b in zip(single, mirrored)))
""")


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


class DistributeTest(testing.TestCase):

  def test_mirrored_matches_single_device(self):
    out = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT, self.get_temp_dir()],
                         capture_output=True, text=True, timeout=600, cwd=testing.REPO_DIR)
    self.assertEqual(out.returncode, 0, out.stderr[-3000:])
    diff = float(out.stdout.split("MAXDIFF")[1])
    self.assertLess(diff, 1e-5)

  def test_multi_worker_two_processes(self):
    model_dir = os.path.join(self.get_temp_dir(), "mw")
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    processes = []
    for index in range(2):
      env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                 TF_CONFIG=json.dumps({"cluster": cluster,
                                       "task": {"type": "worker", "index": index}}))
      processes.append(subprocess.Popen(
          [sys.executable, "tools/train.py", "--gin_file=gin/toy.gin",
           "--gin_file=gin/testing/tiny.gin", "--gin_bindings=train.strategy = 'multi_worker'",
           "--gin_bindings=train_steps = 3", f"--model_dir={model_dir}"],
          cwd=testing.REPO_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
          text=True))
    outputs = []
    for process in processes:
      try:
        outputs.append(process.communicate(timeout=300)[1])
      finally:
        process.kill()
    for process, stderr in zip(processes, outputs):
      self.assertEqual(process.returncode, 0, stderr[-3000:])
    chief = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    self.assertTrue(chief.endswith("ckpt-3"), chief)
    self.assertFalse(os.path.exists(os.path.join(model_dir, "workers", "worker_1")))
    # Both workers hold identical weights.
    digests = [re.findall(r"weights digest at step 3: (\w+)", stderr) for stderr in outputs]
    self.assertLen(digests[0], 1, outputs[0][-2000:])
    self.assertEqual(digests[0], digests[1])
    reader = tf.train.load_checkpoint(chief)
    self.assertNotEmpty([n for n in reader.get_variable_to_shape_map() if "generator/" in n])
    # Only the chief writes summaries and the config.
    self.assertTrue(os.path.isfile(os.path.join(model_dir, "operative_config.gin")))
    self.assertLen(tf.io.gfile.glob(os.path.join(model_dir, "train", "events*")), 1)


class StrategyErrorTest(testing.TestCase):

  @testing.parameterized.named_parameters(
      ("unset", None, "needs the TF_CONFIG"),
      ("not_json", "{cluster:", "not valid JSON"),
      ("no_cluster", '{"task": {"type": "worker", "index": 0}}', "no 'cluster'"),
      ("no_task", '{"cluster": {"worker": ["127.0.0.1:1"]}}', "no 'task'"),
      ("wrong_type", '{"cluster": {"worker": ["127.0.0.1:1"]}, '
       '"task": {"type": "chief", "index": 0}}', "'chief' index 0 is not in the cluster"),
      ("index_out_of_range", '{"cluster": {"worker": ["127.0.0.1:1"]}, '
       '"task": {"type": "worker", "index": 3}}', "index 3"))
  def test_bad_tf_config(self, text, needle):
    from aign_tf import errors  # pylint: disable=g-import-not-at-top
    from aign_tf.train import distribute  # pylint: disable=g-import-not-at-top
    with self.assertRaisesRegex(errors.ConfigError, re.escape(needle)):
      distribute.check_tf_config(text)

  def test_tpu_without_a_tpu_is_a_clear_error(self):
    from aign_tf import errors  # pylint: disable=g-import-not-at-top
    from aign_tf.train import distribute  # pylint: disable=g-import-not-at-top
    if tf.config.list_logical_devices("TPU"):
      self.skipTest("a TPU is attached")
    with self.assertRaisesRegex(errors.ConfigError, "no TPU could be reached"):
      distribute.make_strategy("tpu")
