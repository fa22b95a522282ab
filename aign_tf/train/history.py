"""The eval history: one JSON line per evaluation in `<model_dir>/eval_history.jsonl`.

Each record is `{"step", "train_seconds", "examples", <metric>: value, ...}`; training
seconds are summed over resumed runs, so a curve of metric against time continues across a
restart. A line a kill cut short is skipped when reading and never glued to the next one.
"""

import json
import os

from aign_tf import runs
from aign_tf.core import files


def path(model_dir):
  return os.path.join(model_dir, runs.EVAL_HISTORY)


def append(model_dir, record):
  """Appends one record (a dict with "step" and "train_seconds") as a JSON line."""
  files.append_line(path(model_dir), json.dumps(record))


def read(model_dir):
  """The records of `model_dir`'s eval history, oldest first; [] without one."""
  records = []
  if os.path.isfile(path(model_dir)):
    with open(path(model_dir)) as f:
      for line in f:
        try:
          record = json.loads(line)
        except ValueError:
          continue
        if isinstance(record, dict) and "step" in record and "train_seconds" in record:
          records.append(record)
  return records


def previous_train_seconds(model_dir, step):
  """Training seconds recorded up to `step` (0 if none), so a resumed run's clock goes on."""
  return max([float(r["train_seconds"]) for r in read(model_dir) if r["step"] <= step],
             default=0.0)


def metrics_at(model_dir, step):
  """The metrics of the newest record of `step` (the record without its "step",
  "train_seconds" and "examples"), or None when `step` was never evaluated."""
  records = [r for r in read(model_dir) if r["step"] == step]
  if not records:
    return None
  return {k: v for k, v in records[-1].items()
          if k not in ("step", "train_seconds", "examples")}
