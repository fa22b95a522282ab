"""Tests of the training health checks: D winning, a frozen generator, task hooks, stop."""

import tempfile

import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.tasks import toy
from aign_tf.train import health
from aign_tf.train import trainer


class _History:
  """A fake log action: `latest` walks through a list of log periods."""

  def __init__(self, periods):
    self.periods, self.index = periods, -1

  def __call__(self):
    self.index += 1
    return self.periods[min(self.index, len(self.periods) - 1)]


def _balanced():
  return {"discriminator_loss": 1.35, "real_logit": 0.2, "fake_logit": -0.1}


def _d_wins():
  return {"discriminator_loss": 0.004, "real_logit": 6.1, "fake_logit": -5.8}


class _FlatTask(toy.ToyTask):
  """A toy task whose health hook always reports a collapse."""

  def health(self, batch, prediction):
    return {"flat": "everything is flat; remedy: none"}


class HealthCheckTest(testing.TestCase):

  def test_discriminator_winning_is_reported_once_after_patience(self):
    check = health.HealthCheck(_History([_balanced()] * 2 + [_d_wins()] * 6), patience=3)
    with self.assertLogs("absl", level="WARNING") as logs:
      for step in range(50, 450, 50):
        check(step)
    self.assertLen(check.reported, 1)
    step, name, message = check.reported[0]
    self.assertEqual((step, name), (250, "discriminator_wins"))
    self.assertIn("step 250", message)
    self.assertIn("real logit 6.10", message)
    self.assertIn("adversarial_weight = 0", message)
    self.assertLen([r for r in logs.output if "discriminator_wins" in r], 1)

  def test_short_spikes_are_not_reported(self):
    check = health.HealthCheck(
        _History([_d_wins(), _d_wins(), _balanced(), _d_wins(), _d_wins(), _balanced()]),
        patience=3)
    for step in range(6):
      check(step)
    self.assertEmpty(check.reported)

  def test_stop_sets_the_loop_stop_signal(self):
    stop = {"signal": None}
    check = health.HealthCheck(_History([_d_wins()]), on_collapse="stop", patience=2,
                               stop=stop)
    check(1)
    self.assertIsNone(stop["signal"])
    check(2)
    self.assertEqual(stop["signal"], health.STOP_SIGNAL)

  def test_task_remedy_is_used(self):
    task = toy.ToyTask(num_train=8, num_memory=8, num_eval=4)
    task.memory_remedy = lambda: "bind tasks.ToyTask.memory_difference"
    check = health.HealthCheck(_History([_d_wins()]), task=task, patience=1)
    with self.assertLogs("absl", level="WARNING"):
      check(7)
    self.assertIn("bind tasks.ToyTask.memory_difference", check.reported[0][2])

  def test_bad_options(self):
    with self.assertRaisesRegex(errors.ConfigError, "train.on_collapse"):
      health.check_options("ignore", 3)
    with self.assertRaisesRegex(errors.ConfigError, "train.collapse_patience"):
      health.check_options("warn", 0)


def _adam():
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  return keras.optimizers.Adam(1e-3)


class TrainerHealthTest(testing.TestCase):

  def _train(self, task, steps, **kwargs):
    return trainer.train(
        tempfile.mkdtemp(dir=self.get_temp_dir()), task=task, model=testing.toy_model,
        generator_optimizer=_adam, discriminator_optimizer=_adam, batch_size=8,
        train_steps=steps, log_every=1, checkpoint_every=100, eval_every=0, **kwargs)

  def test_task_collapse_stops_training_with_a_checkpoint(self):
    task = _FlatTask(num_train=64, num_memory=64, num_eval=16)
    with self.assertLogs("absl", level="WARNING") as logs:
      result = self._train(task, 10, on_collapse="stop", collapse_patience=2)
    self.assertEqual(result["stopped_by"], health.STOP_SIGNAL)
    self.assertEqual(result["step"], 2)
    self.assertTrue(any("Training health (flat)" in r for r in logs.output))

  def test_frozen_generator_is_reported(self):
    def frozen():  # A zero learning rate: nothing changes.
      import tf_keras as keras  # pylint: disable=g-import-not-at-top
      return keras.optimizers.SGD(0.0)

    task = toy.ToyTask(num_train=64, num_memory=64, num_eval=16)
    with self.assertLogs("absl", level="WARNING") as logs:
      trainer.train(tempfile.mkdtemp(dir=self.get_temp_dir()), task=task, model=testing.toy_model,
                    generator_optimizer=frozen, discriminator_optimizer=_adam,
                    batch_size=8, train_steps=4, log_every=1, checkpoint_every=100,
                    eval_every=0, collapse_patience=2)
    self.assertTrue(any("generator_frozen" in r for r in logs.output))

  def test_healthy_run_is_silent(self):
    result = self._train(toy.ToyTask(num_train=64, num_memory=64, num_eval=16), 3)
    self.assertIsNone(result["stopped_by"])


if __name__ == "__main__":
  tf.test.main()
