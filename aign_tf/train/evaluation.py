"""Evaluation: task metrics averaged over a split, for a model in training or a trained run.

`evaluate_model` is what the training loop's periodic evaluation runs; `evaluate` rebuilds a
trained run (`aign_tf.runs.restore`, the weight average when the run keeps one) and adds the
task's whole-split metrics.
"""

import json
import sys

import numpy as np
import tensorflow as tf

from aign_tf import config
from aign_tf import errors
from aign_tf import runs
from aign_tf.core import files
from aign_tf.core import keys


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

  Raises:
    errors.DataError: the split yielded no examples.
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


def evaluate(model_dir, split="eval", num_batches=None, batch_size=None, output_json=None,
             extra_bindings=()):
  """Runs the task's metrics on a split, plus its `extra_metrics` (metrics over more than
  one batch, e.g. sfm's snippet ATE); returns (and optionally writes) a report dict.

  Raises:
    errors.DataError: `output_json` cannot be written; the table of metrics is printed to
      stderr first, so the computed metrics are never lost.
  """
  task, model, step = runs.restore(model_dir, extra_bindings)
  dataset = task.eval_dataset(batch_size or config.resolve("train.batch_size"), split=split)
  metrics, count, _, _ = evaluate_model(model, task, dataset, num_batches)
  # Whole-split metrics (e.g. sfm's snippet ATE): here only, not in training evaluations.
  metrics.update(task.extra_metrics(model.generator, split))
  report = {"task": task.name, "split": split, "step": step, "num_examples": count,
            "metrics": metrics}
  if output_json:
    try:
      files.atomic_write(output_json, json.dumps(report, indent=2, sort_keys=True) + "\n")
    except OSError as e:
      print(format_table(report), file=sys.stderr)
      raise errors.DataError(f"{output_json}: cannot write the report "
                             f"({e.strerror or e}); its metrics are printed above") from e
  return report


def format_table(report):
  """A plain-text table of a report's metrics."""
  width = max([len(k) for k in report["metrics"]] + [6])
  lines = [f"task={report['task']} split={report['split']} step={report['step']} "
           f"examples={report['num_examples']}",
           f"{'metric':<{width}}  value", f"{'-' * width}  ----------"]
  lines += [f"{name:<{width}}  {value:.6g}" for name, value in sorted(report["metrics"].items())]
  return "\n".join(lines)
