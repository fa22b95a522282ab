"""The task contract: what `aign_tf.train` needs from each application.

A task owns its data (the observation stream, the unpaired memory, an evaluation split), its
metrics and its pictures. Adding an application = a data module, a subclass of `Task`, a gin
file and maybe a renderer; the training loop stays as it is.
"""

import numpy as np


class Task:
  """Base class of AIGN tasks."""

  name = "task"

  def train_dataset(self, batch_size, seed=0):
    """Infinite `tf.data.Dataset` of batch dicts (keys in `aign_tf.data.keys`)."""
    raise NotImplementedError

  def eval_dataset(self, batch_size, split="eval"):
    """Finite `tf.data.Dataset` of batch dicts for `split`, carrying ground truth in
    `target` when the task has it."""
    raise NotImplementedError

  def metrics(self, batch, prediction):
    """Per-example metrics, a dict name -> `[B]` NumPy array (averaged over a split)."""
    return {}

  def extra_metrics(self, generator, split):
    """Metrics that need more than one batch's pairs (e.g. trajectory errors over several
    consecutive frames), computed once per evaluation of `split` by
    `aign_tf.train.evaluation.evaluate` (not by the trainer's periodic evaluations, which
    stay cheap). Runs `generator` (in inference mode) on the task's own data; returns a dict
    name -> float, merged into the report's metrics. Empty by default."""
    del generator, split
    return {}

  def images(self, batch, prediction):
    """Pictures worth looking at: dict name -> uint8 image `[H, W, 3]` (written as PNG
    and to TensorBoard). Empty by default."""
    return {}

  # Export (used by aign_tf.serving to write SavedModels for TF Serving) -------------------

  def serving_input_signature(self):
    """Inputs of the exported `serving_default` signature in the task's documented units:
    dict name -> `tf.TensorSpec` with a `None` batch axis (e.g. uint8 images, float32
    keypoints)."""
    raise NotImplementedError(f"task {self.name!r} does not define an export signature")

  def serve(self, generator, inputs):
    """Maps `serving_input_signature()` inputs to a dict of named outputs in documented
    units (e.g. uint8 and float images, metres), running `generator` in inference mode.
    Traced inside a `tf.function`: TensorFlow ops only."""
    raise NotImplementedError(f"task {self.name!r} does not define an export signature")

  def image_inputs(self):
    """Names of `serving_input_signature()` inputs that are uint8 images `[B, H, W, C]`;
    export adds a `serving_bytes` signature taking them as encoded PNG/JPEG strings."""
    return ()

  def conventions(self):
    """Short text describing input/output units and layouts, for the `metadata`
    signature and export/README.md."""
    return ""


def to_numpy(tree):
  """Converts a (possibly nested dict of) tensor(s) to NumPy."""
  if isinstance(tree, dict):
    return {k: to_numpy(v) for k, v in tree.items()}
  return np.asarray(tree)
