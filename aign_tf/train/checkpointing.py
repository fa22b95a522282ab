"""Training checkpoints: one `tf.train.Checkpoint` of the whole state, managed by
`tf.train.CheckpointManager`, restored by itself when a run starts again.

The state (both networks, both optimizers, the step and the generator's weight average) is
named by `aign_tf.runs.build_checkpoint`, which evaluation and export use too. Only the
chief keeps checkpoints; other workers write to a scratch folder that is removed at the end
(TensorFlow needs every worker to take part in saving).
"""

import os

from absl import logging
import tensorflow as tf

from aign_tf import errors
from aign_tf import runs


class Checkpointer:
  """Saves and restores an AIGN model's training state in `<model_dir>/checkpoints`."""

  def __init__(self, model, step, model_dir, max_to_keep=3, worker=None):
    """
    Args:
      model: the built `AIGN` model (its variables exist).
      step: the int64 step variable.
      model_dir: the run's folder.
      max_to_keep: older checkpoints are deleted.
      worker: None on the chief, else "<task_type>_<task_id>" (scratch folder).
    """
    self.model, self.step = model, step
    self.directory = (os.path.join(model_dir, runs.CHECKPOINT_DIR) if worker is None else
                      os.path.join(model_dir, "workers", worker))
    self.worker = worker
    self.manager = tf.train.CheckpointManager(runs.build_checkpoint(model, step),
                                              self.directory, max_to_keep=max_to_keep)

  @property
  def latest(self):
    return self.manager.latest_checkpoint

  def restore(self):
    """Restores the newest checkpoint that restores (broken newer ones are named and
    skipped); returns its path or None."""
    path = runs.restore_newest(self.model, self.step, self.directory)
    if path is not None:
      logging.info("Resumed from %s at step %d", path, int(self.step))
    return path

  def save(self):
    """Saves the state at the current step (unless that step is saved already)."""
    current = int(self.step)
    if self.latest is not None and self.latest.endswith(f"-{current}"):
      return self.latest
    try:
      path = self.manager.save(checkpoint_number=current)
    except (tf.errors.OpError, OSError) as e:
      raise errors.WriteError(f"{self.directory}: cannot write a checkpoint "
                              f"({str(e).strip().splitlines()[0] if str(e).strip() else e})"
                              ) from e
    logging.info("Saved checkpoint for step %d in %s", current, self.directory)
    return path

  def cleanup(self):
    """Removes a non-chief worker's scratch checkpoints."""
    if self.worker is not None:
      tf.io.gfile.rmtree(self.directory)
