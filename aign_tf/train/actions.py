"""Periodic actions of the training loop, each with its own trigger.

An action is a callable `action(step)` run after the step `step`; a `Periodic` wraps it with
the steps it fires at. The loop knows nothing about logging, evaluation or checkpoints: it
runs the actions it is given (the idea of tf_agents' triggers and Orbit's actions).
"""

import time

from absl import logging

from aign_tf.train import evaluation
from aign_tf.train import history
from aign_tf.train import summaries


class Periodic:
  """Runs `action(step)` every `interval` steps (never with interval 0/None), and at
  `last_step` too when `at_end`; never at `last_step` when `skip_last` (the trainer runs
  that one itself after the loop)."""

  def __init__(self, interval, action, last_step=None, at_end=False, skip_last=False):
    self.interval, self.action = interval, action
    self.last_step, self.at_end, self.skip_last = last_step, at_end, skip_last

  def fires(self, step):
    if step == self.last_step:
      if self.at_end:
        return True
      if self.skip_last:
        return False
    return bool(self.interval) and step % self.interval == 0

  def __call__(self, step):
    if self.fires(step):
      self.action(step)


class Clock:
  """Training seconds, continued from earlier (resumed) runs' `seconds_before`."""

  def __init__(self, seconds_before=0.0, timer=time.perf_counter):
    self.seconds_before, self.timer = seconds_before, timer
    self.start = timer()

  def __call__(self):
    return self.seconds_before + self.timer() - self.start


class LogProgress:
  """A log line with steps/s and examples/s and the model's running losses, the same as
  TensorBoard scalars; resets the loss trackers. `latest` keeps the last values logged."""

  def __init__(self, model, writer, batch_size, total_steps, start_step,
               timer=time.perf_counter):
    self.model, self.writer = model, writer
    self.batch_size, self.total_steps = batch_size, total_steps
    self.timer = timer
    self.last_time, self.last_step = timer(), start_step
    self.latest = {}

  def __call__(self, step):
    now = self.timer()
    rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
    logs = {m.name: float(m.result()) for m in self.model.metrics}
    logging.info("step %d/%d  %.2f steps/s  %.1f examples/s  %s", step, self.total_steps, rate,
                 rate * self.batch_size, "  ".join(f"{k}={v:.4g}" for k, v in logs.items()))
    if self.writer is not None:
      summaries.write_scalars(self.writer, {**logs, "steps_per_second": rate,
                                            "examples_per_second": rate * self.batch_size},
                              step)
    for metric in self.model.metrics:
      metric.reset_state()
    self.latest = logs
    self.last_time, self.last_step = now, step


RAW_PREFIX = "raw_weights/"


class Evaluate:
  """Evaluates the generator (its weight average, when training keeps one) on a few
  evaluation batches; logs, writes TensorBoard scalars, appends the eval history and writes
  the task's pictures. `latest` keeps the last metrics. With `raw_weights_too` (and a weight
  average) the training weights are evaluated as well, their metrics named
  `raw_weights/<name>`: the two curves of one run side by side."""

  def __init__(self, model, task, dataset, num_batches, model_dir, writer, clock,
               chief=True, raw_weights_too=False):
    self.model, self.task, self.dataset = model, task, dataset
    self.num_batches, self.model_dir = num_batches, model_dir
    self.writer, self.clock, self.chief = writer, clock, chief
    self.raw_weights_too = raw_weights_too
    self.eval_fn = None
    self.latest = {}

  def __call__(self, step):
    if self.eval_fn is None:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      self.eval_fn = tf.function(self.model.evaluation_outputs)
    with self.model.averaged_generator():
      metrics, count, batch, prediction = evaluation.evaluate_model(
          self.model, self.task, self.dataset, self.num_batches, self.eval_fn)
    if self.raw_weights_too and self.model.generator_average is not None:
      raw, _, _, _ = evaluation.evaluate_model(self.model, self.task, self.dataset,
                                               self.num_batches, self.eval_fn)
      metrics.update({f"{RAW_PREFIX}{name}": value for name, value in raw.items()})
    logging.info("eval step %d (%d examples): %s", step, count,
                 "  ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    if self.chief:
      summaries.write_scalars(self.writer, metrics, step)
      history.append(self.model_dir, {"step": step, "train_seconds": round(self.clock(), 2),
                                      "examples": count,
                                      **{k: float(v) for k, v in metrics.items()}})
      images = self.task.images(batch, prediction)
      if images:
        summaries.write_images(images, step, self.model_dir, self.writer)
    self.latest = metrics
    return metrics
