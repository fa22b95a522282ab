"""The single gin root: `train(model_dir, ...)`.

It builds the task's data, the AIGN model and its two optimizers under a `tf.distribute`
strategy, restores the latest checkpoint in `model_dir` (so re-running the same command
resumes), writes the operative gin config, and runs the loop: one AIGN step per iteration,
logs with rates, TensorBoard scalars, periodic checkpoints, evaluation and pictures.

Faults: a non-finite loss stops training with an error naming the step and the loss and
leaves the last good checkpoint in place; SIGTERM and Ctrl-C finish the current step, save a
checkpoint and return.
"""

import contextlib
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time

from absl import logging
import gin
import numpy as np
import tensorflow as tf
import tf_keras as keras

from aign_tf import errors
from aign_tf.data import keys
from aign_tf.train import distribute
from aign_tf.train import files
from aign_tf.train import precision
from aign_tf.train import summaries

OPERATIVE_CONFIG = "operative_config.gin"
CHECKPOINT_DIR = "checkpoints"
# JSON lines {"step", "train_seconds", "examples", <metrics>} appended by each evaluation.
EVAL_HISTORY = "eval_history.jsonl"
# Checkpoint key of the generator's weight average (`models.AIGN.weight_average_decay`).
AVERAGE_KEY = "generator_average"


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or Inf; training stopped without saving that state."""


def check_model_dir(model_dir):
  """Raises ConfigError if `model_dir` is unset or names an existing file."""
  if not model_dir:
    raise errors.ConfigError("model_dir is not set")
  if os.path.exists(model_dir) and not os.path.isdir(model_dir):
    raise errors.ConfigError(f"model_dir {model_dir!r} exists and is not a directory")


def build_checkpoint(model, step, with_average=True):
  """One `tf.train.Checkpoint` naming every piece of training state (without the weight
  average if not `with_average`)."""
  state = {"generator": model.generator,
           "generator_optimizer": model.generator_optimizer,
           "step": step}
  if model.uses_discriminator:
    state["discriminator"] = model.discriminator
    state["discriminator_optimizer"] = model.discriminator_optimizer
  if model.generator_average is not None and with_average:
    state[AVERAGE_KEY] = model.generator_average
  return tf.train.Checkpoint(**state)


def has_average(checkpoint_path):
  """Whether the checkpoint at `checkpoint_path` holds a generator weight average."""
  return any(name.startswith(AVERAGE_KEY + "/")
             for name, _ in tf.train.list_variables(checkpoint_path))


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
                jit_compile=False):
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
                 jit_compile=jit_compile)
  return aign


def append_line(path, line):
  """Appends `line` on a line of its own, even after a line a kill cut short."""
  with open(path, "a+b") as f:
    f.seek(0, os.SEEK_END)
    if f.tell():
      f.seek(-1, os.SEEK_END)
      if f.read(1) != b"\n":
        f.write(b"\n")
    f.write(line.encode("utf-8") + b"\n")


def read_eval_history(model_dir):
  """The records of `model_dir`'s eval history (`EVAL_HISTORY`), oldest first; [] without
  one. A line a kill cut short is skipped (the next evaluation appends a whole one)."""
  path = os.path.join(model_dir, EVAL_HISTORY)
  records = []
  if os.path.isfile(path):
    with open(path) as f:
      for line in f:
        try:
          record = json.loads(line)
        except ValueError:
          continue
        if isinstance(record, dict) and "step" in record and "train_seconds" in record:
          records.append(record)
  return records


def previous_train_seconds(model_dir, step):
  """Training seconds recorded in `model_dir`'s eval history up to `step` (0 if none), so
  a resumed run's curve continues the clock instead of restarting it."""
  return max([float(r["train_seconds"]) for r in read_eval_history(model_dir)
              if r["step"] <= step], default=0.0)


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


def config_digest(config_text):
  return hashlib.sha256(config_text.encode("utf-8")).hexdigest()[:16]


@contextlib.contextmanager
def _stop_requests():
  """Turns SIGTERM and SIGINT into a flag the loop checks between steps."""
  requested = {"signal": None}
  if threading.current_thread() is not threading.main_thread():
    yield requested
    return

  def handler(signum, frame):  # pylint: disable=unused-argument
    if requested["signal"] is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt  # A second Ctrl-C stops at once.
    requested["signal"] = signal.Signals(signum).name
    logging.warning("%s received: saving a checkpoint after this step",
                    requested["signal"])

  previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
  try:
    yield requested
  finally:
    for s, h in previous.items():
      signal.signal(s, h)


def _numpy_tree(value):
  if isinstance(value, dict):
    return {k: _numpy_tree(v) for k, v in value.items()}
  return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def evaluate_model(model, task, dataset, num_batches=None, eval_fn=None):
  """Averages per-example generator losses and task metrics over a dataset.

  Args:
    model: an `AIGN` model.
    task: the `aign_tf.tasks.base.Task`.
    dataset: finite dataset of batch dicts.
    num_batches: stop after this many batches (None: the whole dataset).
    eval_fn: optional compiled `model.evaluation_outputs`.

  Returns:
    (metrics dict name -> float, number of examples, first batch, first prediction), the
    last two as NumPy for pictures.
  """
  eval_fn = eval_fn or tf.function(model.evaluation_outputs)
  totals, count = {}, 0
  first = None
  for index, batch in enumerate(dataset):
    if num_batches is not None and index >= num_batches:
      break
    prediction, losses = eval_fn(batch)
    batch_np, prediction_np = _numpy_tree(batch), _numpy_tree(prediction)
    values = {name: np.asarray(v) for name, v in losses.items()}
    values.update(task.metrics(batch_np, prediction_np))
    size = len(np.asarray(tf.nest.flatten(batch_np[keys.OBSERVATION])[0]))
    for name, value in values.items():
      value = np.asarray(value, np.float64)
      totals[name] = totals.get(name, 0.0) + (value.sum() if value.ndim else value * size)
    count += size
    if first is None:
      first = (batch_np, prediction_np)
  if count == 0:
    raise errors.DataError(f"task {task.name!r}: the evaluation split yielded no examples")
  return ({name: float(total / count) for name, total in totals.items()}, count,
          first[0], first[1])


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
          eval_batch_size=None,
          max_checkpoints_to_keep=3,
          strategy="default",
          jit_compile=False,
          mixed_precision=None,
          on_nonfinite="stop",
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
    eval_batch_size: defaults to `batch_size`.
    max_checkpoints_to_keep: older checkpoints are deleted.
    strategy: a name for `make_strategy` ("default", "mirrored", "multi_worker").
    jit_compile: compile the train step with XLA. Off by default: on the 2-core CPU it made
      the faces_sr, pose and sfm steps 1.2-1.3x slower (faces_inpaint does not compile;
      see benchmarks/README.md), and XLA cannot compile collectives on CPU.
    mixed_precision: None (float32), "mixed_bfloat16" or "mixed_float16" (with loss
      scaling); see `aign_tf.train.precision`. Variables, renderers and losses stay float32;
      evaluation and export rebuild the generator in float32.
    on_nonfinite: "stop" (raise, keeping the last good checkpoint) or "skip" (apply no
      update for a step whose losses or gradients are NaN/Inf, count it, go on; single
      replica only).
    deterministic: enable TensorFlow op determinism (two runs give identical weights).
    intra_op_threads: threads inside one op (0: TensorFlow's default, one per core).
    inter_op_threads: ops run in parallel (0: TensorFlow's default).
    seed: seeds Python, NumPy and TensorFlow, and the data pipelines.

  Returns:
    dict with "step", "train" (last logged training losses) and "eval" (last evaluation).

  Raises:
    errors.ConfigError: on bad configuration, before anything is written.
    NonFiniteLossError: when a loss becomes NaN or Inf.
  """
  check_model_dir(model_dir)
  for name, value in (("batch_size", batch_size), ("train_steps", train_steps),
                      ("log_every", log_every), ("checkpoint_every", checkpoint_every)):
    if not isinstance(value, int) or value < 1:
      raise errors.ConfigError(f"train.{name} must be a positive integer, got {value!r}")
  if on_nonfinite not in ("stop", "skip"):
    raise errors.ConfigError(f"train.on_nonfinite must be 'stop' or 'skip', got "
                             f"{on_nonfinite!r}")
  precision.check(mixed_precision)
  if on_nonfinite == "skip" and mixed_precision == "mixed_float16":
    raise errors.ConfigError("train.on_nonfinite='skip' cannot be combined with "
                             "train.mixed_precision='mixed_float16': loss scaling already "
                             "skips steps whose gradients overflow")
  set_threads(intra_op_threads, inter_op_threads)
  keras.utils.set_random_seed(seed)
  if deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy = strategy if isinstance(strategy, tf.distribute.Strategy) else (
      distribute.make_strategy(strategy))
  if jit_compile and strategy.num_replicas_in_sync > 1 and not tf.config.list_physical_devices(
      "GPU"):
    raise errors.ConfigError("train.jit_compile=True cannot be used with a multi-replica "
                             "strategy on CPU: XLA cannot compile collectives there")
  if batch_size % strategy.num_replicas_in_sync:
    raise errors.ConfigError(f"train.batch_size={batch_size} is not divisible by the "
                             f"{strategy.num_replicas_in_sync} replicas")
  if on_nonfinite == "skip" and strategy.num_replicas_in_sync > 1:
    raise errors.ConfigError("train.on_nonfinite='skip' is not supported with "
                             f"{strategy.num_replicas_in_sync} replicas; use 'stop'")
  chief = distribute.is_chief(strategy)

  # Data and model; nothing is written until both are built.
  train_ds = task.train_dataset(batch_size, seed=seed)
  eval_ds = task.eval_dataset(eval_batch_size or batch_size)
  with strategy.scope(), precision.policy_scope(mixed_precision):
    aign = build_model(model, generator_optimizer, discriminator_optimizer, mixed_precision,
                       jit_compile)
    aign.skip_nonfinite = on_nonfinite == "skip"
    example = next(iter(train_ds.take(1)))
    check_batch(aign, example, task)
    build_variables(aign, example)
  # The step counter is host-side state: a plain variable, not mirrored.
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  checkpoint = build_checkpoint(aign, step)
  checkpoint_dir = os.path.join(model_dir, CHECKPOINT_DIR)
  if not chief:  # Other workers write to a scratch dir; only the chief's copy is kept.
    checkpoint_dir = os.path.join(model_dir, "workers",
                                  f"{strategy.cluster_resolver.task_type}_"
                                  f"{strategy.cluster_resolver.task_id}")
  manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir,
                                       max_to_keep=max_checkpoints_to_keep)
  if manager.latest_checkpoint:
    latest = manager.latest_checkpoint
    if aign.generator_average is not None and not has_average(latest):
      # Averaging switched on for a run trained without it: the average starts at the
      # restored weights.
      status = build_checkpoint(aign, step, with_average=False).restore(latest)
      status.assert_existing_objects_matched()
      aign.reset_average()
      logging.warning("%s holds no generator weight average: it starts at the restored "
                      "weights", latest)
    else:
      checkpoint.restore(latest).assert_existing_objects_matched()
    logging.info("Resumed from %s at step %d", latest, int(step))

  config_text = gin.operative_config_str()
  if chief:
    config_path = os.path.join(model_dir, OPERATIVE_CONFIG)
    if os.path.exists(config_path):
      with open(config_path) as f:
        if f.read() != config_text:
          logging.warning("The configuration differs from the one in %s; it is replaced "
                          "(previous copy kept as %s.prev)", config_path, config_path)
          os.replace(config_path, config_path + ".prev")
    files.atomic_write(config_path, config_text)
  writers = ({"train": tf.summary.create_file_writer(os.path.join(model_dir, "train")),
              "eval": tf.summary.create_file_writer(os.path.join(model_dir, "eval"))}
             if chief else {"train": tf.summary.create_noop_writer(),
                            "eval": tf.summary.create_noop_writer()})

  # The compiled step.
  step_fn = aign.train_step
  if jit_compile:
    step_fn = tf.function(step_fn, jit_compile=True)

  @tf.function
  def train_fn(iterator):
    outputs = strategy.run(step_fn, args=(next(iterator),))
    return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
            for name, value in outputs.items()}

  eval_fn = tf.function(aign.evaluation_outputs)
  iterator = iter(strategy.experimental_distribute_dataset(train_ds))
  result = {"step": int(step), "train": {}, "eval": {}}

  def run_eval(current):
    with aign.averaged_generator():  # The weight average, when training keeps one.
      metrics, count, batch, prediction = evaluate_model(aign, task, eval_ds, eval_batches,
                                                         eval_fn)
    logging.info("eval step %d (%d examples): %s", current, count,
                 "  ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    if chief:
      summaries.write_scalars(writers["eval"], metrics, current)
      # One JSON line per evaluation: metric-over-time curves without TensorBoard.
      # "train_seconds": training time up to this step, summed over resumed runs (data
      # preparation and start-up are not counted).
      record = {"step": current, "train_seconds": round(train_seconds(), 2),
                "examples": count, **{k: float(v) for k, v in metrics.items()}}
      append_line(os.path.join(model_dir, EVAL_HISTORY), json.dumps(record))
      images = task.images(batch, prediction)
      if images:
        summaries.write_images(images, current, model_dir, writers["eval"])
    result["eval"] = metrics

  def save(current):
    manager.save(checkpoint_number=current)
    logging.info("Saved checkpoint for step %d in %s", current, checkpoint_dir)

  start_step = int(step)
  train_start = time.perf_counter()
  seconds_before = previous_train_seconds(model_dir, start_step) if chief else 0.0
  train_seconds = lambda: seconds_before + time.perf_counter() - train_start
  if start_step >= train_steps:
    logging.info("Step %d >= train_steps=%d: nothing to train", start_step, train_steps)
  progbar = (keras.utils.Progbar(train_steps, stateful_metrics=["generator_loss"])
             if sys.stdout.isatty() and chief else None)
  last_time, last_step = time.perf_counter(), start_step
  skipped = 0
  with _stop_requests() as stop:
    while int(step) < train_steps and stop["signal"] is None:
      values = train_fn(iterator)
      current = int(step.assign_add(1))
      values = {name: float(v) for name, v in values.items()}
      bad = {name: v for name, v in values.items() if not math.isfinite(v)}
      if bad and values.get("skipped"):
        skipped += 1
        logging.warning("step %d: skipped (no update): %s", current,
                        ", ".join(f"{k}={v}" for k, v in bad.items()))
      elif bad:
        name, value = next(iter(bad.items()))
        raise NonFiniteLossError(
            f"step {current}: {name} is {value}; training stopped without saving this "
            f"state. Last good checkpoint: {manager.latest_checkpoint or 'none'}")
      if progbar is not None and not bad:
        progbar.update(current, [("generator_loss", values["generator_loss"])])
      if current % log_every == 0 or current == train_steps:
        now = time.perf_counter()
        rate = (current - last_step) / max(now - last_time, 1e-9)
        logs = {m.name: float(m.result()) for m in aign.metrics}
        logging.info("step %d/%d  %.2f steps/s  %.1f examples/s  %s", current, train_steps,
                     rate, rate * batch_size,
                     "  ".join(f"{k}={v:.4g}" for k, v in logs.items()))
        if chief:
          summaries.write_scalars(writers["train"],
                                  {**logs, "steps_per_second": rate,
                                   "examples_per_second": rate * batch_size}, current)
        for metric in aign.metrics:
          metric.reset_state()
        result["train"] = logs
        last_time, last_step = now, current
      if current % checkpoint_every == 0:
        save(current)
      if eval_every and current % eval_every == 0 and current != train_steps:
        run_eval(current)
    current = int(step)
    if stop["signal"] is not None:
      logging.warning("Stopped by %s at step %d", stop["signal"], current)
    if manager.latest_checkpoint is None or not manager.latest_checkpoint.endswith(
        f"-{current}"):
      save(current)
    if current > start_step or not result["eval"]:
      run_eval(current)
  for writer in writers.values():
    writer.flush()
  if not chief:
    # TF needs every worker to save; only the chief's checkpoints are kept.
    tf.io.gfile.rmtree(checkpoint_dir)
  result["weights_digest"] = weights_digest(aign.generator)
  logging.info("generator weights digest at step %d: %s", current, result["weights_digest"])
  result["step"] = current
  result["stopped_by"] = stop["signal"]
  result["skipped_steps"] = skipped
  result["config_digest"] = config_digest(config_text)
  return result
