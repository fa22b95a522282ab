"""Training health checks: a periodic action that notices a run going nowhere and says why.

Run with the log action (every `train.log_every` steps), it looks at three things:
  - the discriminator winning outright: the mean real logit exceeds the mean fake logit by
    more than `logit_gap` over the last log period (D tells memory from predictions with
    sigmoid confidence > 0.92 on both sides, e.g. 2.5 vs -2.5), so its gradient pushes G
    toward whatever separates the two sets instead of toward plausible factors;
  - the generator frozen: its reconstruction loss on one fixed training batch (computed
    here, in inference mode) unchanged to `frozen_tolerance` (relative) between checks
    (dead or saturated outputs pass no gradient);
  - the task's own checks, `Task.health(batch, prediction)` (e.g. sfm: every depth map
    flat, a memory in other units than the inputs).
A problem must persist for `patience` consecutive checks before it is reported, once, as a
single WARNING naming what collapsed, the step, the numbers and the remedy; it is reported
again only after it has gone away and come back. With `on_collapse="stop"` the first report
also asks the loop to stop after the current step (a checkpoint is saved, as for SIGTERM,
and `train()` returns `stopped_by="collapse"`).
"""

from absl import logging

from aign_tf import errors

ON_COLLAPSE = ("warn", "stop")
STOP_SIGNAL = "collapse"


def check_options(on_collapse, patience):
  """Raises ConfigError, naming the binding, for a bad `train.on_collapse` or patience."""
  if on_collapse not in ON_COLLAPSE:
    raise errors.ConfigError(f"train.on_collapse must be one of {ON_COLLAPSE}, got "
                             f"{on_collapse!r}")
  if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
    raise errors.ConfigError(f"train.collapse_patience must be a positive integer, got "
                             f"{patience!r}")


class HealthCheck:
  """`action(step)`: the checks of the module docstring; `reported` keeps every report.

  Args:
    latest: returns the last log period's averaged training values (name -> float), e.g.
      `lambda: log.latest` of `actions.LogProgress`.
    model: the AIGN model (None: no generator checks).
    task: the task (its `health` and `memory_remedy` hooks are used when present).
    batch: one fixed training batch the generator is run on (None: no generator checks).
    on_collapse: "warn" or "stop".
    patience: consecutive checks a problem must persist for.
    stop: the loop's stop-request dict (`loop.stop_requests()`); may be set later.
    logit_gap: mean real logit - mean fake logit above which D is said to win.
    frozen_tolerance: relative change of the probe's reconstruction loss below which the
      generator is said to be frozen.
  """

  def __init__(self, latest, model=None, task=None, batch=None, on_collapse="warn",
               patience=3, stop=None, logit_gap=5.0, frozen_tolerance=1e-6):
    check_options(on_collapse, patience)
    self.latest, self.model, self.task, self.batch = latest, model, task, batch
    self.on_collapse, self.patience, self.stop = on_collapse, patience, stop
    self.logit_gap, self.frozen_tolerance = logit_gap, frozen_tolerance
    self.streaks = {}        # problem name -> consecutive checks it was seen
    self.reported = []       # (step, name, message) of every report
    self._previous_loss = None
    self._probe_fn = None

  # The checks: each returns {name: message} of the problems seen now. ----------------------

  def discriminator_problems(self, step):
    values = self.latest() or {}
    if "real_logit" not in values or "fake_logit" not in values:
      return {}
    gap = values["real_logit"] - values["fake_logit"]
    if not gap > self.logit_gap:
      return {}
    remedy = (self.task.memory_remedy() if hasattr(self.task, "memory_remedy") else
              "give a memory of the same kind of data as the observations, or train without "
              "the discriminator: models.AIGN.adversarial_weight = 0")
    return {"discriminator_wins": (
        f"the discriminator wins outright at step {step}: mean real logit "
        f"{values['real_logit']:.2f}, fake logit {values['fake_logit']:.2f} (gap {gap:.1f} > "
        f"{self.logit_gap:g}), discriminator_loss {values.get('discriminator_loss', float('nan')):.3g}"
        f" for {self.patience} log periods: memory and predictions are trivially told apart. "
        f"Remedy: {remedy}")}

  def _probe(self):
    """(prediction, per-example generator losses) of the model on the fixed batch."""
    if self._probe_fn is None:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      self._probe_fn = tf.function(self.model.evaluation_outputs)
    return self._probe_fn(self.batch)

  def generator_problems(self, step):
    if self.model is None or self.batch is None:
      return {}
    import numpy as np  # pylint: disable=g-import-not-at-top
    prediction, losses = self._probe()
    problems = {}
    if "reconstruction_loss" in losses:
      loss = float(np.mean(losses["reconstruction_loss"]))
      previous, self._previous_loss = self._previous_loss, loss
      if previous is not None and abs(loss - previous) <= self.frozen_tolerance * max(
          abs(previous), 1e-12):
        problems["generator_frozen"] = (
            f"the generator stopped changing at step {step}: its reconstruction loss on a "
            f"fixed training batch is {loss:.6g}, unchanged for {self.patience} log periods "
            "(saturated or dead outputs pass no gradient). Remedy: lower the learning rate "
            "or restart from an earlier checkpoint; check the task's other warnings")
    if hasattr(self.task, "health"):
      problems.update(self.task.health(self.batch, prediction) or {})
    return problems

  # The action ----------------------------------------------------------------------------

  def __call__(self, step):
    problems = {**self.discriminator_problems(step), **self.generator_problems(step)}
    for name in list(self.streaks):
      if name not in problems:
        del self.streaks[name]  # Gone: may be reported again if it comes back.
    for name, message in problems.items():
      self.streaks[name] = self.streaks.get(name, 0) + 1
      if self.streaks[name] == self.patience:
        self.report(step, name, message)
    return problems

  def report(self, step, name, message):
    self.reported.append((step, name, message))
    if self.on_collapse == "stop" and self.stop is not None:
      logging.warning("Training health (%s): %s. Stopping (train.on_collapse='stop'; "
                      "'warn' only warns).", name, message)
      self.stop["signal"] = STOP_SIGNAL
    else:
      logging.warning("Training health (%s): %s.", name, message)

