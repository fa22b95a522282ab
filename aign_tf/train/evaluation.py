"""Evaluate a trained model: rebuild it from its operative config, restore, run metrics."""

import json
import os

from absl import logging
import tensorflow as tf

from aign_tf import errors
from aign_tf.data import keys
from aign_tf.train import config
from aign_tf.train import files
from aign_tf.train import trainer


def restore(model_dir, extra_bindings=(), expect_partial=True):
  """Rebuilds task and model from `model_dir`'s operative config and restores weights.

  Only the generator is built and restored; the discriminator and optimizer state stay in
  the checkpoint. When the model keeps a weight average (`models.AIGN.weight_average_decay`
  > 0) the generator gets the averaged weights; bind the decay to 0 in `extra_bindings` for
  the raw ones.

  Returns:
    (task, model, step) with the latest checkpoint restored.

  Raises:
    errors.ConfigError: `model_dir` has no operative config or no checkpoint.
  """
  config_path = os.path.join(model_dir, trainer.OPERATIVE_CONFIG)
  if not os.path.isfile(config_path):
    raise errors.ConfigError(f"{model_dir!r} holds no {trainer.OPERATIVE_CONFIG}: "
                             "not a training directory")
  latest = tf.train.latest_checkpoint(os.path.join(model_dir, trainer.CHECKPOINT_DIR))
  if latest is None:
    raise errors.ConfigError(f"{model_dir!r} holds no checkpoint")
  config.parse([config_path], extra_bindings)
  task = config.resolve("train.task")
  model = config.resolve("train.model")()
  # Only the generator is needed for inference: build it and restore it alone.
  example = next(iter(task.eval_dataset(2).take(1)))
  model.generator(example[keys.OBSERVATION], training=False)
  model.build_average()
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  pieces = {"generator": model.generator, "step": step}
  averaged = model.generator_average is not None and trainer.has_average(latest)
  if averaged:
    pieces[trainer.AVERAGE_KEY] = model.generator_average
  elif model.generator_average is not None:
    logging.warning("%s holds no generator weight average: using the raw weights", latest)
  status = tf.train.Checkpoint(**pieces).restore(latest)
  if expect_partial:
    status.expect_partial()
  status.assert_existing_objects_matched()
  if averaged:
    model.load_average()
  return task, model, int(step)


def evaluate(model_dir, split="eval", num_batches=None, batch_size=None, output_json=None,
             extra_bindings=()):
  """Runs the task's metrics on a split, plus its `extra_metrics` (metrics over more than
  one batch, e.g. sfm's snippet ATE); returns (and optionally writes) a report dict."""
  task, model, step = restore(model_dir, extra_bindings)
  dataset = task.eval_dataset(batch_size or config.resolve("train.batch_size"), split=split)
  metrics, count, _, _ = trainer.evaluate_model(model, task, dataset, num_batches)
  # Whole-split metrics (e.g. sfm's snippet ATE): here only, not in training evaluations.
  metrics.update(task.extra_metrics(model.generator, split))
  report = {"task": task.name, "split": split, "step": step, "num_examples": count,
            "metrics": metrics}
  if output_json:
    files.atomic_write(output_json, json.dumps(report, indent=2, sort_keys=True) + "\n")
  return report


def format_table(report):
  """A plain-text table of a report's metrics."""
  width = max([len(k) for k in report["metrics"]] + [6])
  lines = [f"task={report['task']} split={report['split']} step={report['step']} "
           f"examples={report['num_examples']}",
           f"{'metric':<{width}}  value", f"{'-' * width}  ----------"]
  lines += [f"{name:<{width}}  {value:.6g}" for name, value in sorted(report["metrics"].items())]
  return "\n".join(lines)
