"""The trainer's parts, each on its own: periodic triggers, the step loop, checkpointing and
the eval history."""

import json
import math
import os

import tensorflow as tf
import tf_keras

from aign_tf import errors
from aign_tf import runs
from aign_tf import testing
from aign_tf.tasks import toy
from aign_tf.train import actions
from aign_tf.train import checkpointing
from aign_tf.train import history
from aign_tf.train import loop
from aign_tf.train import trainer


class PeriodicTest(testing.TestCase):

  def fired(self, **kwargs):
    steps = []
    periodic = actions.Periodic(action=steps.append, **kwargs)
    for step in range(1, 11):
      periodic(step)
    return steps

  def test_every_interval(self):
    self.assertEqual(self.fired(interval=3), [3, 6, 9])

  def test_never_without_interval(self):
    self.assertEqual(self.fired(interval=0), [])

  def test_at_end_adds_the_last_step(self):
    self.assertEqual(self.fired(interval=4, last_step=10, at_end=True), [4, 8, 10])

  def test_skip_last_leaves_the_last_step_to_the_caller(self):
    self.assertEqual(self.fired(interval=5, last_step=10, skip_last=True), [5])


class LoopTest(testing.TestCase):

  def test_runs_to_train_steps_and_calls_actions_after_each_step(self):
    step = tf.Variable(0, dtype=tf.int64)
    seen = []
    skipped = loop.run(lambda: {"generator_loss": 1.0}, step, 4, actions=[seen.append])
    self.assertEqual((int(step), seen, skipped), (4, [1, 2, 3, 4], 0))

  def test_stop_request_ends_after_the_current_step(self):
    step = tf.Variable(0, dtype=tf.int64)
    stop = {"signal": None}

    def step_fn():
      stop["signal"] = "SIGTERM"
      return {"generator_loss": 1.0}

    loop.run(step_fn, step, 100, stop=stop)
    self.assertEqual(int(step), 1)

  def test_non_finite_loss_raises_naming_step_loss_and_checkpoint(self):
    step = tf.Variable(0, dtype=tf.int64)
    with self.assertRaisesRegex(loop.NonFiniteLossError,
                                "step 1: generator_loss is nan.*ckpt-7"):
      loop.run(lambda: {"generator_loss": math.nan}, step, 3,
               last_checkpoint=lambda: "ckpt-7")

  def test_skipped_steps_are_counted(self):
    step = tf.Variable(0, dtype=tf.int64)
    skipped = loop.run(lambda: {"generator_loss": math.inf, "skipped": 1.0}, step, 3)
    self.assertEqual(skipped, 3)


class CheckpointerTest(testing.TestCase):

  def build(self, model_dir):
    model = testing.toy_model()
    task = toy.ToyTask(num_train=16, num_memory=16, num_eval=8)
    trainer.build_variables(model, next(iter(task.train_dataset(4))))
    step = tf.Variable(0, dtype=tf.int64)
    return model, step, checkpointing.Checkpointer(model, step, model_dir)

  def test_save_then_restore_into_a_fresh_model(self):
    model_dir = self.get_temp_dir()
    model, step, checkpoints = self.build(model_dir)
    self.assertIsNone(checkpoints.restore())  # Nothing to resume yet.
    step.assign(5)
    path = checkpoints.save()
    self.assertEqual(checkpoints.save(), path)  # The same step is not saved twice.
    self.assertTrue(path.endswith("ckpt-5"))
    fresh, fresh_step, fresh_checkpoints = self.build(model_dir)
    self.assertEqual(fresh_checkpoints.restore(), path)
    self.assertEqual(int(fresh_step), 5)
    self.assertEqual(trainer.weights_digest(fresh.generator),
                     trainer.weights_digest(model.generator))

  def test_unwritable_folder_is_a_write_error(self):
    blocker = os.path.join(self.get_temp_dir(), "a_file")
    with open(blocker, "w") as f:
      f.write("x")
    _, _, checkpoints = self.build(blocker)
    with self.assertRaisesRegex(errors.WriteError, "cannot write a checkpoint"):
      checkpoints.save()


class HistoryTest(testing.TestCase):

  def test_append_read_and_resume_clock(self):
    model_dir = self.get_temp_dir()
    history.append(model_dir, {"step": 10, "train_seconds": 3.0, "loss": 1.0})
    with open(os.path.join(model_dir, runs.EVAL_HISTORY), "a") as f:
      f.write('{"step": 20, "train_sec')  # Cut short by a kill.
    history.append(model_dir, {"step": 30, "train_seconds": 9.0, "loss": 0.5})
    self.assertEqual([r["step"] for r in history.read(model_dir)], [10, 30])
    self.assertEqual(history.previous_train_seconds(model_dir, 20), 3.0)
    self.assertEqual(history.previous_train_seconds(model_dir, 5), 0.0)
    with open(os.path.join(model_dir, runs.EVAL_HISTORY)) as f:
      self.assertEqual(json.loads(f.readlines()[-1])["step"], 30)


class ScheduleWarningsTest(testing.TestCase):

  def test_a_step_change_after_the_last_step_is_named(self):
    schedules = tf_keras.optimizers.schedules
    adam = tf_keras.optimizers.Adam(schedules.PiecewiseConstantDecay([7000], [5e-4, 1e-4]))
    messages = trainer.schedule_warnings({"generator": adam, "discriminator": None}, 5000)
    self.assertLen(messages, 1)
    self.assertIn("generator optimizer's PiecewiseConstantDecay", messages[0])
    self.assertIn("[7000]", messages[0])
    self.assertIn("lr_decay_step", messages[0])
    self.assertEqual(trainer.schedule_warnings({"generator": adam}, 10000), [])
    self.assertLen(trainer.schedule_warnings({"generator": adam}, 7001), 1)  # Last step 7000.
    self.assertEqual(trainer.schedule_warnings({"generator": adam}, 7002), [])

  def test_a_decay_longer_than_the_run_names_its_last_rate(self):
    schedules = tf_keras.optimizers.schedules
    cosine = tf_keras.optimizers.Adam(schedules.CosineDecay(5e-4, decay_steps=10000))
    wrapped = tf_keras.mixed_precision.LossScaleOptimizer(cosine)
    messages = trainer.schedule_warnings({"discriminator": wrapped}, 5000)
    self.assertLen(messages, 1)
    self.assertIn("decays over 10000 steps, but train_steps=5000", messages[0])
    self.assertIn("ends at 0.00025", messages[0])  # Half-way down a cosine.
    self.assertEqual(trainer.schedule_warnings({"generator": cosine}, 10000), [])
    constant = tf_keras.optimizers.Adam(1e-3)
    self.assertEqual(trainer.schedule_warnings({"generator": constant}, 1), [])
