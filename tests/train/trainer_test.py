"""Tests of the training root: resume, checkpoints, operative config, non-finite losses."""

import json
import os

import numpy as np
import tensorflow as tf

from aign_tf import config
from aign_tf import errors
from aign_tf import runs
from aign_tf import testing
from aign_tf.tasks import toy
from aign_tf.train import actions
from aign_tf.train import evaluation
from aign_tf.train import history as history_lib
from aign_tf.train import loop
from aign_tf.train import trainer


def run(model_dir, train_steps, model_fn=None, **kwargs):
  return trainer.train(
      model_dir, task=toy.ToyTask(num_train=256, num_memory=256, num_eval=32),
      model=model_fn or testing.toy_model,
      generator_optimizer=kwargs.pop("generator_optimizer", tf_keras_adam),
      discriminator_optimizer=tf_keras_adam,
      batch_size=8, train_steps=train_steps, log_every=1, checkpoint_every=1, eval_every=0,
      **kwargs)


def tf_keras_adam():
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  return keras.optimizers.Adam(1e-3)


class TrainerTest(testing.TestCase):

  def test_writes_checkpoint_config_and_summaries(self):
    model_dir = self.get_temp_dir()
    result = run(model_dir, 2)
    self.assertEqual(result["step"], 2)
    self.assertTrue(tf.io.gfile.exists(os.path.join(model_dir, "checkpoints", "ckpt-2.index")))
    self.assertTrue(os.path.isfile(os.path.join(model_dir, runs.OPERATIVE_CONFIG)))
    self.assertNotEmpty(tf.io.gfile.glob(os.path.join(model_dir, "train", "events.*")))
    self.assertIn("factor_error", result["eval"])
    # The final evaluation is appended to the history with its step and time.
    with open(os.path.join(model_dir, runs.EVAL_HISTORY)) as f:
      history = [json.loads(line) for line in f]
    self.assertLen(history, 1)
    self.assertEqual(history[0]["step"], 2)
    self.assertAllClose(history[0]["factor_error"], result["eval"]["factor_error"])
    self.assertGreater(history[0]["train_seconds"], 0.0)

  def test_a_schedule_that_does_not_fit_train_steps_is_logged(self):
    import tf_keras as keras  # pylint: disable=g-import-not-at-top
    schedule = lambda: keras.optimizers.schedules.PiecewiseConstantDecay([7], [1e-3, 1e-4])
    with self.assertLogs("absl", level="WARNING") as logs:
      run(self.get_temp_dir(), 2,
          generator_optimizer=lambda: keras.optimizers.Adam(schedule()))
    self.assertTrue(any("at step(s) [7], but train_steps=2" in line
                        for line in logs.output), logs.output)

  def test_resumed_run_continues_the_training_clock(self):
    model_dir = self.get_temp_dir()
    run(model_dir, 2)
    with open(os.path.join(model_dir, runs.EVAL_HISTORY), "a") as f:
      f.write('{"step": 2, "train_seco')  # a line cut short by a kill is ignored
    with open(os.path.join(model_dir, runs.EVAL_HISTORY)) as f:
      first = json.loads(f.readline())["train_seconds"]
    self.assertAllClose(history_lib.previous_train_seconds(model_dir, 2), first)
    self.assertEqual(history_lib.previous_train_seconds(model_dir, 1), 0.0)
    run(model_dir, 4)
    with open(os.path.join(model_dir, runs.EVAL_HISTORY)) as f:
      lines = f.read().splitlines()
    # The cut line stays on its own; the new record is a whole line after it.
    self.assertEqual(lines[1], '{"step": 2, "train_seco')
    history = [json.loads(line) for line in (lines[0], lines[2])]
    self.assertEqual([h["step"] for h in history], [2, 4])
    self.assertGreater(history[1]["train_seconds"], first)

  def test_resume_continues_step_and_optimizer_state(self):
    model_dir = self.get_temp_dir()
    models = []

    def model_fn():
      models.append(testing.toy_model())
      return models[-1]

    run(model_dir, 3, model_fn)
    saved = [w.copy() for w in models[-1].generator.get_weights()]
    # Same steps again: nothing to train, and the restored weights are the saved ones.
    first_eval = history_lib.read(model_dir)
    result = run(model_dir, 3, model_fn)
    self.assertEqual(result["step"], 3)
    for a, b in zip(saved, models[-1].generator.get_weights()):
      self.assertAllEqual(a, b)
    # ... and the step's evaluation is read from the history, not repeated or appended again.
    self.assertEqual(history_lib.read(model_dir), first_eval)
    self.assertAllClose(result["eval"]["factor_error"], first_eval[-1]["factor_error"])
    self.assertEqual(int(models[-1].generator_optimizer.iterations), 3)
    # More steps: continues from 3.
    result = run(model_dir, 5, model_fn)
    self.assertEqual(result["step"], 5)
    self.assertEqual(int(models[-1].generator_optimizer.iterations), 5)
    self.assertEqual(int(models[-1].discriminator_optimizer.iterations), 5)
    self.assertEqual(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")),
                     os.path.join(model_dir, "checkpoints", "ckpt-5"))

  def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(self):
    model_dir = self.get_temp_dir()
    models = []

    def explode(prediction, batch):
      del batch
      step = models[-1].generator_optimizer.iterations
      return tf.where(step >= 3, np.nan, 0.0) * tf.ones_like(prediction[:, 0])

    def model_fn():
      models.append(testing.toy_model(regularizers={"boom": explode}))
      return models[-1]

    with self.assertRaisesRegex(loop.NonFiniteLossError, r"step 4: .*nan.*ckpt-3"):
      run(model_dir, 10, model_fn)
    self.assertEqual(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")),
                     os.path.join(model_dir, "checkpoints", "ckpt-3"))

  def test_skip_mode_skips_non_finite_steps(self):
    calls = tf.Variable(0)
    models = []

    def explode_once(prediction, batch):
      del batch
      calls.assign_add(1)
      return tf.where(tf.equal(calls, 3), np.inf, 0.0) * tf.ones_like(prediction[:, 0])

    def model_fn():
      models.append(testing.toy_model(regularizers={"boom": explode_once}))
      return models[-1]

    result = run(self.get_temp_dir(), 6, model_fn, on_nonfinite="skip")
    self.assertEqual(result["step"], 6)
    self.assertEqual(result["skipped_steps"], 1)
    self.assertEqual(int(models[-1].generator_optimizer.iterations), 5)
    self.assertEqual(int(models[-1].discriminator_optimizer.iterations), 5)
    for weight in models[-1].generator.get_weights():
      self.assert_finite(weight)
    with self.assertRaisesRegex(errors.ConfigError, "on_nonfinite"):
      run(os.path.join(self.get_temp_dir(), "x"), 1, on_nonfinite="ignore")

  def test_supervised_weight_without_paired_data(self):
    class NoTargets(toy.ToyTask):

      def _examples(self, factors, paired_fraction, seed):
        examples = super()._examples(factors, paired_fraction, seed)
        del examples["target"], examples["target_mask"]
        return examples

    model_dir = os.path.join(self.get_temp_dir(), "conflict")
    with self.assertRaisesRegex(errors.ConfigError, "supervised_weight=1.0.*paired"):
      trainer.train(model_dir, task=NoTargets(num_train=64, num_memory=64, num_eval=8),
                    model=lambda: testing.toy_model(supervised_weight=1.0),
                    generator_optimizer=tf_keras_adam,
                    discriminator_optimizer=tf_keras_adam, batch_size=8, train_steps=1)
    self.assertFalse(os.path.exists(model_dir))

  def test_model_dir_that_is_a_file(self):
    path = os.path.join(self.get_temp_dir(), "file")
    with open(path, "w") as f:
      f.write("x")
    with self.assertRaisesRegex(errors.ConfigError, "not a directory"):
      run(path, 1)

  def test_bad_steps_and_strategy(self):
    with self.assertRaisesRegex(errors.ConfigError, "train_steps"):
      run(os.path.join(self.get_temp_dir(), "a"), 0)
    with self.assertRaisesRegex(errors.ConfigError, "unknown strategy 'tpu2'"):
      run(os.path.join(self.get_temp_dir(), "b"), 1, strategy="tpu2")
    self.assertFalse(os.path.exists(os.path.join(self.get_temp_dir(), "b")))



class WeightAverageTrainingTest(testing.TestCase):
  """`models.AIGN.weight_average_decay`: checkpointed, evaluated, restored for export."""

  def train_toy(self, model_dir, steps, decay):
    config.parse([os.path.join(testing.GIN_DIR, "toy.gin"),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")],
                 [f"train_steps = {steps}", "train.checkpoint_every = 2",
                  f"models.AIGN.weight_average_decay = {decay}"])
    return trainer.train(model_dir)

  def saved(self, model_dir, prefix):
    reader = tf.train.load_checkpoint(os.path.join(model_dir, runs.CHECKPOINT_DIR))
    return [reader.get_tensor(name) for name in sorted(reader.get_variable_to_shape_map())
            if name.startswith(prefix) and "OPTIMIZER" not in name]

  def assert_holds(self, weights, saved):
    for weight in weights:
      self.assertTrue(any(w.shape == weight.shape and np.array_equal(w, weight)
                          for w in saved))

  def test_evaluation_and_restore_use_the_average(self):
    model_dir = self.get_temp_dir()
    result = self.train_toy(model_dir, 6, 0.9)
    averages = self.saved(model_dir, runs.AVERAGE_KEY + "/")
    raw = self.saved(model_dir, "generator/")
    self.assertLen(averages, len(raw))
    # Restored for evaluation and export: the generator holds the average ...
    _, model, step = runs.restore(model_dir)
    self.assertEqual(step, 6)
    self.assert_holds(model.generator.get_weights(), averages)
    self.assertFalse(any(np.array_equal(w, r) for w in model.generator.get_weights()
                         for r in raw if w.shape == r.shape and w.size > 1))
    # ... and the training run's last evaluation was of the average too.
    report = evaluation.evaluate(model_dir, num_batches=1)
    self.assertAllClose(report["metrics"]["reconstruction_loss"],
                        result["eval"]["reconstruction_loss"], rtol=1e-5)
    # Decay bound to 0: the raw weights.
    _, model, _ = runs.restore(model_dir,
                                     ["models.AIGN.weight_average_decay = 0.0"])
    self.assert_holds(model.generator.get_weights(), raw)

  def test_raw_weights_evaluated_beside_the_average_when_asked(self):
    model_dir = self.get_temp_dir()
    config.parse([os.path.join(testing.GIN_DIR, "toy.gin"),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")],
                 ["train_steps = 4", "models.AIGN.weight_average_decay = 0.9",
                  "train.eval_raw_weights = True"])
    result = trainer.train(model_dir)
    name = actions.RAW_PREFIX + "reconstruction_loss"
    self.assertIn(name, history_lib.read(model_dir)[-1])
    # The prefixed metric is that of the training weights (the average restored with the
    # decay bound to 0), the plain one that of the average.
    raw = evaluation.evaluate(model_dir, num_batches=1,
                              extra_bindings=["models.AIGN.weight_average_decay = 0.0"])
    self.assertAllClose(result["eval"][name], raw["metrics"]["reconstruction_loss"],
                        rtol=1e-5)
    self.assertNotAllClose(result["eval"][name], result["eval"]["reconstruction_loss"])

  def test_switching_averaging_on_when_resuming(self):
    model_dir = self.get_temp_dir()
    self.train_toy(model_dir, 2, 0.0)
    self.assertEmpty(self.saved(model_dir, runs.AVERAGE_KEY + "/"))
    result = self.train_toy(model_dir, 4, 0.9)
    self.assertEqual(result["step"], 4)
    self.assertLen(self.saved(model_dir, runs.AVERAGE_KEY + "/"),
                   len(self.saved(model_dir, "generator/")))


if __name__ == "__main__":
  tf.test.main()
