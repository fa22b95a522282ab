"""A training directory ("run"): its operative config, its checkpoints, and the model in them.

    <model_dir>/operative_config.gin     the full gin configuration of the run
    <model_dir>/checkpoints/ckpt-<step>  `tf.train.CheckpointManager` checkpoints
    <model_dir>/eval_history.jsonl       one JSON line per evaluation during training

Training (`aign_tf.train`), evaluation and export (`aign_tf.serving`) all read a run through
this module, so a checkpoint is named, written and restored one way. The generator's weight
average (`models.AIGN.weight_average_decay`) is one tracked piece of the checkpoint under
`AVERAGE_KEY`; `restore` loads it into the generator for inference.

A truncated or corrupt newest checkpoint is reported by name and the newest checkpoint that
restores is used instead, with a warning (as `tf.train.CheckpointManager` users expect).
"""

import os

from absl import logging
import tensorflow as tf

from aign_tf import config
from aign_tf import errors
from aign_tf.core import keys

OPERATIVE_CONFIG = "operative_config.gin"
CHECKPOINT_DIR = "checkpoints"
# JSON lines {"step", "train_seconds", "examples", <metrics>} appended by each evaluation.
EVAL_HISTORY = "eval_history.jsonl"
# Checkpoint key of the generator's weight average (`models.AIGN.weight_average_decay`).
AVERAGE_KEY = "generator_average"

# What a damaged checkpoint raises when it is read or restored.
_RESTORE_ERRORS = (tf.errors.OpError, ValueError, AssertionError, KeyError, IndexError,
                   OSError)


def build_checkpoint(model, step, with_average=True, inference_only=False):
  """One `tf.train.Checkpoint` naming every piece of an AIGN model's state.

  Args:
    model: an `AIGN` model (built).
    step: the int64 step variable.
    with_average: include the generator's weight average when the model keeps one.
    inference_only: only the generator (and its average): what evaluation and export need.
  """
  state = {"generator": model.generator, "step": step}
  if not inference_only:
    state["generator_optimizer"] = model.generator_optimizer
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


def checkpoints_newest_first(checkpoint_dir):
  """Checkpoint prefixes recorded in `checkpoint_dir`'s state file, newest first."""
  state = tf.train.get_checkpoint_state(checkpoint_dir)
  if state is None:
    return []
  paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
  if state.model_checkpoint_path and state.model_checkpoint_path not in paths:
    paths.append(state.model_checkpoint_path)
  paths = [p if os.path.isabs(p) else os.path.join(checkpoint_dir, p) for p in paths]
  return sorted(set(paths), key=_checkpoint_number, reverse=True)


def _checkpoint_number(path):
  try:
    return int(path.rsplit("-", 1)[-1])
  except ValueError:
    return -1


def _first_line(error):
  text = str(error).strip()
  return text.splitlines()[0] if text else type(error).__name__


def restore_newest(model, step, checkpoint_dir, inference_only=False):
  """Restores the newest checkpoint in `checkpoint_dir` that restores into `model`.

  A checkpoint that fails to read (truncated, corrupt, missing shards) is named in a
  warning and the next older one is tried. A checkpoint without the weight average of a
  model that keeps one restores the rest; the average then starts at the restored weights
  (training) or the raw weights are used (inference), with a warning.

  Args:
    model: an `AIGN` model whose variables exist.
    step: the int64 step variable (restored too).
    checkpoint_dir: the run's checkpoint folder.
    inference_only: restore only the generator (and its average) and load the average into
      the generator's weights.

  Returns:
    The path restored, or None when the folder holds no checkpoint.

  Raises:
    errors.DataError: checkpoints exist but none restores (each failure named).
  """
  candidates = checkpoints_newest_first(checkpoint_dir)
  failures = []
  for path in candidates:
    try:
      averaged = model.generator_average is not None and has_average(path)
      checkpoint = build_checkpoint(model, step, with_average=averaged,
                                    inference_only=inference_only)
      status = checkpoint.restore(path)
      if inference_only:
        status.expect_partial()
      status.assert_existing_objects_matched()
    except _RESTORE_ERRORS as e:
      failures.append(f"{path}: {_first_line(e)}")
      logging.warning("checkpoint %s cannot be restored (%s); trying an older one", path,
                      _first_line(e))
      continue
    if model.generator_average is not None and not averaged:
      if inference_only:
        logging.warning("%s holds no generator weight average: using the raw weights", path)
      else:
        model.reset_average()
        logging.warning("%s holds no generator weight average: it starts at the restored "
                        "weights", path)
    elif averaged and inference_only:
      model.load_average()
    if failures:
      logging.warning("restored %s instead of the newer, broken %s", path,
                      ", ".join(f.split(": ")[0] for f in failures))
    return path
  if failures:
    raise errors.DataError(f"{checkpoint_dir}: no checkpoint restores ("
                           + "; ".join(failures) + ")")
  return None


def build_generator(task, model):
  """Creates the generator's variables for restoring, without touching the task's data
  where it can: `task.export.serve` on one random example of its `input_signature()` when
  the task has an export with fully known shapes, else (or if that example cannot run, e.g. a solver
  with a singular system) on one evaluation batch. Drawing an evaluation set, e.g.
  procedural faces, only to learn the variables' shapes made exporting slow.

  The random example is stateless, so TensorFlow's random state is left as it was.
  """
  try:
    exporter = task.export
    specs = exporter.input_signature()
  except (errors.ConfigError, NotImplementedError):
    specs = None
  if specs and all(spec.shape[1:].is_fully_defined() for spec in specs.values()):
    example = {}
    for index, (name, spec) in enumerate(sorted(specs.items())):
      shape = [1] + spec.shape[1:].as_list()
      values = tf.random.stateless_uniform(shape, seed=[index, 0], minval=0.5, maxval=1.5)
      example[name] = (tf.cast(values * 127.0, spec.dtype) if spec.dtype.is_integer
                       else tf.cast(values, spec.dtype))
    try:
      exporter.serve(model.generator, example)
      return
    except (tf.errors.OpError, ValueError) as e:
      logging.info("building %s's generator from its export signature failed (%s); "
                   "using an evaluation batch", task.name, _first_line(e))
  batch = next(iter(task.eval_dataset(2).take(1)))
  model.generator(batch[keys.OBSERVATION], training=False)


def restore(model_dir, extra_bindings=()):
  """Rebuilds task and model from `model_dir`'s operative config and restores weights.

  Only the generator is built and restored; the discriminator and optimizer state stay in
  the checkpoint. When the model keeps a weight average (`models.AIGN.weight_average_decay`
  > 0) the generator gets the averaged weights; bind the decay to 0 in `extra_bindings` for
  the raw ones.

  Returns:
    (task, model, step) with the newest restorable checkpoint restored.

  Raises:
    errors.ConfigError: `model_dir` has no operative config or no checkpoint.
    errors.DataError: no checkpoint restores.
  """
  config_path = os.path.join(model_dir, OPERATIVE_CONFIG)
  if not os.path.isfile(config_path):
    raise errors.ConfigError(f"{model_dir!r} holds no {OPERATIVE_CONFIG}: "
                             "not a training directory")
  checkpoint_dir = os.path.join(model_dir, CHECKPOINT_DIR)
  if not checkpoints_newest_first(checkpoint_dir):
    raise errors.ConfigError(f"{model_dir!r} holds no checkpoint")
  config.parse_operative(config_path, extra_bindings)
  task = config.resolve("train.task")
  model = config.resolve("train.model")()
  build_generator(task, model)
  model.build_average()
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  restore_newest(model, step, checkpoint_dir, inference_only=True)
  return task, model, int(step)


def read_operative_config(model_dir):
  """The text of `model_dir`'s operative config."""
  with open(os.path.join(model_dir, OPERATIVE_CONFIG)) as f:
    return f.read()
