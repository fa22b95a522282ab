"""The single gin root: `train(model_dir, ...)`.

It validates the options, builds the `tf.distribute` strategy (once, here), the AIGN model
and its optimizers under it, restores the newest checkpoint in `model_dir` (so re-running the
same command resumes), writes the operative gin config and runs the step loop with its
periodic actions. The parts live in their own modules:

    checkpointing.py  the checkpoint of the whole state, restore with fallback, save
    loop.py           the step loop, non-finite losses, stop signals
    actions.py        periodic log lines, evaluations (eval history, pictures)
    history.py        the eval history file
    evaluation.py     metrics over a split

Faults: a non-finite loss stops training with an error naming the step and the loss and
leaves the last good checkpoint in place; SIGTERM and Ctrl-C finish the current step, save a
checkpoint and return; a newest checkpoint that does not restore is named and an older one
used.
"""

import hashlib
import os
import sys

from absl import logging
import gin
import numpy as np
import tensorflow as tf
import tf_keras as keras

from aign_tf import errors
from aign_tf import runs
from aign_tf.core import files
from aign_tf.core import keys
from aign_tf.models import precision
from aign_tf.train import actions
from aign_tf.train import checkpointing
from aign_tf.train import distribute
from aign_tf.train import health
from aign_tf.train import history
from aign_tf.train import loop


def check_model_dir(model_dir):
  """Raises ConfigError if `model_dir` is unset or names an existing file."""
  if not model_dir:
    raise errors.ConfigError("model_dir is not set")
  if os.path.exists(model_dir) and not os.path.isdir(model_dir):
    raise errors.ConfigError(f"model_dir {model_dir!r} exists and is not a directory")


def check_options(batch_size, train_steps, log_every, checkpoint_every, on_nonfinite,
                  mixed_precision):
  """Raises ConfigError, naming the binding, for options that are wrong on their own."""
  for name, value in (("batch_size", batch_size), ("train_steps", train_steps),
                      ("log_every", log_every), ("checkpoint_every", checkpoint_every)):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
      raise errors.ConfigError(f"train.{name} must be a positive integer, got {value!r}")
  if on_nonfinite not in ("stop", "skip"):
    raise errors.ConfigError(f"train.on_nonfinite must be 'stop' or 'skip', got "
                             f"{on_nonfinite!r}")
  precision.check(mixed_precision)
  if on_nonfinite == "skip" and mixed_precision == "mixed_float16":
    raise errors.ConfigError("train.on_nonfinite='skip' cannot be combined with "
                             "train.mixed_precision='mixed_float16': loss scaling already "
                             "skips steps whose gradients overflow")


def schedule_warnings(optimizers, train_steps):
  """Messages for learning-rate schedules that do not fit `train_steps` (`optimizers`: dict
  name -> tf_keras optimizer, possibly loss-scale wrapped): a step change at or after the
  last step never happens (e.g. `train_steps` bound lower than sfm.gin's `lr_decay_step`),
  and a cosine or polynomial decay longer than the run stops before its end value."""
  messages = []
  for name, optimizer in optimizers.items():
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = getattr(optimizer, "_learning_rate", None)
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
      continue
    config = schedule.get_config()
    # The optimizer's steps are 0 .. train_steps - 1, and a piecewise schedule takes its
    # next value after a boundary: one at train_steps - 1 or later never takes effect.
    late = [int(b) for b in config.get("boundaries") or [] if int(b) >= train_steps - 1]
    if late:
      messages.append(
          f"the {name} optimizer's {type(schedule).__name__} changes the learning rate at "
          f"step(s) {late}, but train_steps={train_steps}: the change never happens (bind "
          "the boundary, e.g. sfm.gin's lr_decay_step, below train_steps)")
    decay_steps = config.get("decay_steps")
    if (isinstance(schedule, (keras.optimizers.schedules.CosineDecay,
                              keras.optimizers.schedules.PolynomialDecay))
        and decay_steps and int(decay_steps) > train_steps):
      first, last = float(schedule(0)), float(schedule(train_steps - 1))
      messages.append(
          f"the {name} optimizer's {type(schedule).__name__} decays over {decay_steps} "
          f"steps, but train_steps={train_steps}: the rate ends at {last:.3g} (from "
          f"{first:.3g}) instead of its end value (bind its decay_steps = %train_steps)")
  return messages


def check_strategy(strategy, batch_size, jit_compile, on_nonfinite):
  """Raises ConfigError for options the strategy cannot run."""
  replicas = strategy.num_replicas_in_sync
  if jit_compile and replicas > 1 and not tf.config.list_physical_devices("GPU"):
    raise errors.ConfigError("train.jit_compile=True cannot be used with a multi-replica "
                             "strategy on CPU: XLA cannot compile collectives there")
  if batch_size % replicas:
    raise errors.ConfigError(f"train.batch_size={batch_size} is not divisible by the "
                             f"{replicas} replicas")
  if on_nonfinite == "skip" and replicas > 1:
    raise errors.ConfigError("train.on_nonfinite='skip' is not supported with "
                             f"{replicas} replicas; use 'stop'")


def check_batch(model, batch, task):
  """Conflicting options surface here, before any training: a loss term whose data the
  task does not provide."""
  if keys.OBSERVATION not in batch:
    raise errors.ConfigError(f"task {task.name!r} yields batches without "
                             f"'{keys.OBSERVATION}'")
  if model.supervised_weight > 0 and keys.TARGET not in batch:
    raise errors.ConfigError(
        f"models.AIGN.supervised_weight={model.supervised_weight} but task "
        f"{task.name!r} provides no paired ground truth ('{keys.TARGET}'): set the weight "
        "to 0 or configure paired data")
  if model.uses_discriminator and keys.MEMORY not in batch:
    raise errors.ConfigError(
        f"models.AIGN.adversarial_weight={model.adversarial_weight} but task "
        f"{task.name!r} provides no memory ('{keys.MEMORY}'): set the weight to 0 or "
        "configure a memory")


def build_variables(model, batch):
  """Creates the networks' and optimizers' variables from one example batch, so a
  checkpoint restores into existing variables (no deferred restoration)."""
  model.generator(batch[keys.OBSERVATION], training=False)
  model.generator_optimizer.build(model.generator.trainable_variables)
  if model.uses_discriminator:
    model.discriminator(batch[keys.MEMORY], training=False)
    model.discriminator_optimizer.build(model.discriminator.trainable_variables)
  model.build_average()


def build_model(model, generator_optimizer, discriminator_optimizer, mixed_precision=None,
                jit_compile=False, skip_nonfinite=False):
  """Calls `model()` under the `mixed_precision` policy and compiles it with the optimizers
  the two callables make (wrapped for loss scaling where the policy needs it); the
  discriminator's only when the model has a discriminator."""
  with precision.policy_scope(mixed_precision):
    aign = model()
    aign.compile(generator_optimizer=precision.wrap_optimizer(generator_optimizer(),
                                                              mixed_precision),
                 discriminator_optimizer=precision.wrap_optimizer(
                     discriminator_optimizer() if aign.uses_discriminator else None,
                     mixed_precision),
                 jit_compile=jit_compile, skip_nonfinite=skip_nonfinite)
  return aign


def weights_digest(network):
  """A short hash of a network's weights (identical replicas have identical digests)."""
  digest = hashlib.sha256()
  for weight in network.get_weights():
    digest.update(np.ascontiguousarray(weight).tobytes())
  return digest.hexdigest()[:16]


def set_threads(intra_op_threads, inter_op_threads):
  """Sets TensorFlow's thread pools; they can only change before TensorFlow starts."""
  for name, value, getter, setter in (
      ("intra_op_threads", intra_op_threads, tf.config.threading.get_intra_op_parallelism_threads,
       tf.config.threading.set_intra_op_parallelism_threads),
      ("inter_op_threads", inter_op_threads, tf.config.threading.get_inter_op_parallelism_threads,
       tf.config.threading.set_inter_op_parallelism_threads)):
    if not isinstance(value, int) or value < 0:
      raise errors.ConfigError(f"train.{name} must be an integer >= 0, got {value!r}")
    if value and getter() != value:
      try:
        setter(value)
      except RuntimeError:
        logging.warning("train.%s=%d ignored: TensorFlow was already initialised in this "
                        "process", name, value)


def summary_writers(model_dir, chief=True):
  """TensorBoard writers {"train", "eval"} under `model_dir` (no-op writers off the chief)."""
  if not chief:
    return {"train": tf.summary.create_noop_writer(), "eval": tf.summary.create_noop_writer()}
  return {name: tf.summary.create_file_writer(os.path.join(model_dir, name))
          for name in ("train", "eval")}


def write_operative_config(model_dir, config_text):
  """Writes `operative_config.gin` atomically; a different earlier one is kept as `.prev`."""
  config_path = os.path.join(model_dir, runs.OPERATIVE_CONFIG)
  if os.path.exists(config_path):
    with open(config_path) as f:
      if f.read() != config_text:
        logging.warning("The configuration differs from the one in %s; it is replaced "
                        "(previous copy kept as %s.prev)", config_path, config_path)
        os.replace(config_path, config_path + ".prev")
  files.atomic_write(config_path, config_text)


@gin.configurable(module="train", denylist=["model_dir"])
def train(model_dir,
          task=gin.REQUIRED,
          model=gin.REQUIRED,
          generator_optimizer=gin.REQUIRED,
          discriminator_optimizer=None,
          batch_size=16,
          train_steps=1000,
          log_every=50,
          checkpoint_every=500,
          eval_every=500,
          eval_batches=4,
          eval_raw_weights=False,
          eval_batch_size=None,
          max_checkpoints_to_keep=3,
          strategy="default",
          jit_compile=False,
          mixed_precision=None,
          on_nonfinite="stop",
          on_collapse="warn",
          collapse_patience=3,
          deterministic=False,
          intra_op_threads=0,
          inter_op_threads=0,
          seed=0):
  """Trains an AIGN model; re-running with the same `model_dir` resumes.

  Args:
    model_dir: where checkpoints, summaries, pictures and the operative config go.
    task: an `aign_tf.tasks.base.Task` instance (`@tasks.XTask()`).
    model: a callable returning the model (`@models.AIGN`, no parentheses: it is called
      inside the strategy scope).
    generator_optimizer: callable returning the generator's optimizer
      (`@generator/optimizers.Adam`).
    discriminator_optimizer: same for the discriminator (needed when the model has one).
    batch_size: global batch size (split across replicas).
    train_steps: total number of generator updates (including those already done).
    log_every: steps between log lines and TensorBoard scalars.
    checkpoint_every: steps between checkpoints (one is also written at the end).
    eval_every: steps between evaluations and pictures (0: only at the end).
    eval_batches: batches per evaluation.
    eval_raw_weights: with a weight average (`models.AIGN.weight_average_decay`), also
      evaluate the training weights; their metrics go to the same history, TensorBoard and
      log line as `raw_weights/<name>` (for experiments comparing the two curves).
    eval_batch_size: defaults to `batch_size`.
    max_checkpoints_to_keep: older checkpoints are deleted.
    strategy: a `tf.distribute.Strategy` or its name for `make_strategy` ("default",
      "mirrored", "multi_worker", "tpu"); options of a named strategy are bound as
      `train.make_strategy.devices` / `.tpu_address`.
    jit_compile: compile the train step with XLA. Off by default: on the 2-core CPU it made
      the faces_sr, pose and sfm steps 1.2-1.3x slower (faces_inpaint does not compile;
      see benchmarks/README.md), and XLA cannot compile collectives on CPU.
    mixed_precision: None (float32), "mixed_bfloat16" or "mixed_float16" (with loss
      scaling); see `aign_tf.models.precision`. Variables, renderers and losses stay float32;
      evaluation and export rebuild the generator in float32.
    on_nonfinite: "stop" (raise, keeping the last good checkpoint) or "skip" (apply no
      update for a step whose losses or gradients are NaN/Inf, count it, go on; single
      replica only).
    on_collapse: "warn" or "stop" when a training health check (`health.py`: the
      discriminator winning outright, a frozen generator, the task's own checks such as
      flat depth maps) fails for `collapse_patience` consecutive log periods; "stop" saves a
      checkpoint and returns with `stopped_by="collapse"`.
    collapse_patience: log periods a health problem must persist before it is reported.
    deterministic: enable TensorFlow op determinism (two runs give identical weights).
    intra_op_threads: threads inside one op (0: TensorFlow's default, one per core).
    inter_op_threads: ops run in parallel (0: TensorFlow's default).
    seed: seeds Python, NumPy and TensorFlow, and the data pipelines.

  Returns:
    dict with "step", "train" (last logged training losses) and "eval" (last evaluation).

  Raises:
    errors.ConfigError: on bad configuration, before anything is written.
    loop.NonFiniteLossError: when a loss becomes NaN or Inf.
  """
  check_model_dir(model_dir)
  check_options(batch_size, train_steps, log_every, checkpoint_every, on_nonfinite,
                mixed_precision)
  health.check_options(on_collapse, collapse_patience)
  set_threads(intra_op_threads, inter_op_threads)
  keras.utils.set_random_seed(seed)
  if deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy_name = strategy if isinstance(strategy, str) else type(strategy).__name__
  if not isinstance(strategy, tf.distribute.Strategy):
    strategy = distribute.make_strategy(strategy)
  check_strategy(strategy, batch_size, jit_compile, on_nonfinite)
  chief = distribute.is_chief(strategy)

  # Model and data; nothing is written until both are built. The memory is only built for
  # a model with a discriminator (an ablation without one never ray-casts or loads it).
  with strategy.scope(), precision.policy_scope(mixed_precision):
    aign = build_model(model, generator_optimizer, discriminator_optimizer, mixed_precision,
                       jit_compile, skip_nonfinite=on_nonfinite == "skip")
  train_ds = task.train_dataset(batch_size, seed=seed, with_memory=aign.uses_discriminator)
  eval_ds = task.eval_dataset(eval_batch_size or batch_size)
  with strategy.scope(), precision.policy_scope(mixed_precision):
    example = next(iter(train_ds.take(1)))
    check_batch(aign, example, task)
    build_variables(aign, example)
  for message in schedule_warnings({"generator": aign.generator_optimizer,
                                    "discriminator": aign.discriminator_optimizer},
                                   train_steps):
    logging.warning("%s", message)
  # The step counter is host-side state: a plain variable, not mirrored.
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  checkpoints = checkpointing.Checkpointer(aign, step, model_dir, max_checkpoints_to_keep,
                                           None if chief else distribute.worker_name(strategy))
  checkpoints.restore()
  config_text = gin.operative_config_str()
  if chief:
    write_operative_config(model_dir, config_text)
  writers = summary_writers(model_dir, chief)

  # The loop and its periodic actions.
  start_step = int(step)
  clock = actions.Clock(history.previous_train_seconds(model_dir, start_step) if chief
                        else 0.0)
  log = actions.LogProgress(aign, writers["train"] if chief else None, batch_size,
                            train_steps, start_step)
  evaluate = actions.Evaluate(aign, task, eval_ds, eval_batches, model_dir, writers["eval"],
                              clock, chief, raw_weights_too=eval_raw_weights)
  health_check = health.HealthCheck(lambda: log.latest, aign, task, example, on_collapse,
                                    collapse_patience)
  periodic = [actions.Periodic(log_every, log, last_step=train_steps, at_end=True),
              actions.Periodic(log_every, health_check, last_step=train_steps, at_end=True),
              actions.Periodic(checkpoint_every, lambda _: checkpoints.save()),
              actions.Periodic(eval_every, evaluate, last_step=train_steps, skip_last=True)]
  if start_step >= train_steps:
    logging.info("Step %d >= train_steps=%d: nothing to train", start_step, train_steps)
  progbar = (keras.utils.Progbar(train_steps, stateful_metrics=["generator_loss"])
             if sys.stdout.isatty() and chief else None)
  train_fn = loop.make_train_fn(aign, strategy, jit_compile)
  iterator = iter(strategy.experimental_distribute_dataset(train_ds))
  with loop.stop_requests() as stop:
    health_check.stop = stop
    skipped = loop.run(lambda: train_fn(iterator), step, train_steps, periodic, stop,
                       progbar, lambda: checkpoints.latest)
    current = int(step)
    if stop["signal"] is not None:
      logging.warning("Stopped by %s at step %d", stop["signal"], current)
    checkpoints.save()
    recorded = history.metrics_at(model_dir, current) if current == start_step else None
    if recorded is not None:
      # A finished run started again: its last evaluation is in the history already
      # (tools/evaluate.py evaluates again on purpose).
      logging.info("Step %d was evaluated before (%s): not repeated", current,
                   history.path(model_dir))
      evaluate.latest = recorded
    else:  # Steps were trained, or this step was never evaluated.
      evaluate(current)
  for writer in writers.values():
    writer.flush()
  checkpoints.cleanup()
  digest = weights_digest(aign.generator)
  logging.info("generator weights digest at step %d: %s", current, digest)
  return {"step": current, "train": log.latest, "eval": evaluate.latest,
          "weights_digest": digest, "stopped_by": stop["signal"], "skipped_steps": skipped,
          "config_digest": files.text_digest(config_text), "strategy": strategy_name}
