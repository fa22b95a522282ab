"""The step loop: one compiled AIGN step per iteration, non-finite losses caught, stop
signals honoured between steps, periodic actions after each step.

Faults: a non-finite loss raises `NonFiniteLossError` naming the step and the loss (the
last good checkpoint stays in place), unless the model skips such steps
(`train.on_nonfinite="skip"`), which are then counted. SIGTERM and Ctrl-C set a flag that
ends the loop after the current step; a second Ctrl-C stops at once.
"""

import contextlib
import math
import signal
import threading

from absl import logging
import tensorflow as tf


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or Inf; training stopped without saving that state."""


def make_train_fn(model, strategy, jit_compile=False):
  """A `tf.function` running one `model.train_step` on the next batch of a distributed
  iterator under `strategy`, returning the replica-averaged losses."""
  step_fn = model.train_step
  if jit_compile:
    step_fn = tf.function(step_fn, jit_compile=True)

  @tf.function
  def train_fn(iterator):
    outputs = strategy.run(step_fn, args=(next(iterator),))
    return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
            for name, value in outputs.items()}

  return train_fn


def check_finite(values, step, last_checkpoint=None):
  """Whether the step's losses `values` (name -> float) were skipped as non-finite.

  Raises:
    NonFiniteLossError: a loss is NaN/Inf and the model did not skip the step.
  """
  bad = {name: v for name, v in values.items() if not math.isfinite(v)}
  if not bad:
    return False
  if values.get("skipped"):
    logging.warning("step %d: skipped (no update): %s", step,
                    ", ".join(f"{k}={v}" for k, v in bad.items()))
    return True
  name, value = next(iter(bad.items()))
  raise NonFiniteLossError(
      f"step {step}: {name} is {value}; training stopped without saving this state. Last "
      f"good checkpoint: {last_checkpoint or 'none'}")


@contextlib.contextmanager
def stop_requests():
  """Turns SIGTERM and SIGINT into a flag (`requested["signal"]`) the loop checks between
  steps (in the main thread only; elsewhere signals stay as they are)."""
  requested = {"signal": None}
  if threading.current_thread() is not threading.main_thread():
    yield requested
    return

  def handler(signum, frame):  # pylint: disable=unused-argument
    if requested["signal"] is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt  # A second Ctrl-C stops at once.
    requested["signal"] = signal.Signals(signum).name
    logging.warning("%s received: saving a checkpoint after this step", requested["signal"])

  previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
  try:
    yield requested
  finally:
    for s, h in previous.items():
      signal.signal(s, h)


def run(step_fn, step, train_steps, actions=(), stop=None, progbar=None,
        last_checkpoint=lambda: None):
  """Runs `step_fn()` until `step` reaches `train_steps` or a stop is requested.

  Args:
    step_fn: runs one training step, returns its losses (name -> scalar tensor or float).
    step: the int64 step variable, incremented after each step.
    train_steps: the step to stop at.
    actions: callables `action(step)` run after each step, in order.
    stop: a dict whose "signal" entry, once set, ends the loop after the current step.
    progbar: optional `keras.utils.Progbar` updated with the generator loss.
    last_checkpoint: returns the newest checkpoint's path (for the non-finite error).

  Returns:
    The number of steps skipped as non-finite.
  """
  stop = stop if stop is not None else {"signal": None}
  skipped = 0
  while int(step) < train_steps and stop["signal"] is None:
    values = {name: float(v) for name, v in step_fn().items()}
    current = int(step.assign_add(1))
    if check_finite(values, current, last_checkpoint()):
      skipped += 1
    elif progbar is not None:
      progbar.update(current, [("generator_loss", values["generator_loss"])])
    for action in actions:
      action(current)
  return skipped
