"""The task contract: what `aign_tf.train` needs from an application.

A task owns its data (the observation stream, the unpaired memory, an evaluation split), its
metrics, its pictures and its health checks; nothing else. A new application is a data
module, a `Task` subclass registered with `@register_task`, a gin file and maybe a renderer
(docs/adding_a_task.md walks through one). How its generator is served is a separate
module, `<task>_export.py` (the contract is in `aign_tf/tasks/export_base.py`), reached as
`task.export`; a big task keeps its data sources and pictures in modules of their own too
(`sfm_sources.py`, `pose_pictures.py`).

Must implement:
  name                      short name (model_dir default, export name, logs)
  train_dataset(...)        infinite dataset of batch dicts; build it with
                            `aign_tf.data.pipeline.training_stream`
  eval_dataset(...)         finite dataset of batch dicts with ground truth in `target`

Should implement (defaults do nothing):
  metrics(batch, prediction)        per-example metrics `[B]`
  images(batch, prediction)         pictures for TensorBoard and `images/`

Optional: `extra_metrics(generator, split)` (metrics over more than one batch).

Optional, for the training health checks (`aign_tf.train.health`, run with every log line):
  health(batch, prediction)  problems seen in the generator's output on a fixed training
                             batch: dict name -> one-line message with the numbers and the
                             remedy (e.g. sfm: every depth map flat); {} when healthy
  memory_remedy()            what to do when the discriminator wins outright (which memory
                             to bind); a generic sentence by default
"""

import importlib
import pkgutil

import gin
import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf.tasks import export_base

_TASKS = {}


def register_task(cls):
  """Class decorator: registers a `Task` subclass under its `name` and as the gin
  configurable `tasks.<ClassName>` (bound as `train.task = @tasks.<ClassName>()`).

  Raises:
    ValueError: another class already registered the same name.
    TypeError: the class still defines an export hook (`serve`, ...): export has its own
      module now.
  """
  if not (isinstance(cls, type) and issubclass(cls, Task)):
    raise TypeError(f"@register_task decorates Task subclasses, not {cls!r}")
  for hook in export_base.OLD_TASK_HOOKS:
    if any(hook in vars(c) for c in cls.__mro__ if c is not Task):
      raise TypeError(
          f"{cls.__qualname__}.{hook}: export hooks moved out of Task: write a "
          f"tasks.export_base.TaskExport subclass (input_signature, serve, image_inputs, "
          f"conventions) registered with @export_base.register_export({cls.__qualname__}) "
          "(docs/adding_a_task.md)")
  existing = _TASKS.get(cls.name)
  if existing is not None and existing.__qualname__ != cls.__qualname__:
    raise ValueError(f"task name {cls.name!r} is taken by {existing.__module__}."
                     f"{existing.__qualname__}")
  configurable = gin.configurable(cls, module="tasks")
  _TASKS[cls.name] = configurable
  return configurable


def registered_tasks():
  """dict name -> Task class of every task in `aign_tf.tasks` (importing them)."""
  package = importlib.import_module("aign_tf.tasks")
  for info in pkgutil.iter_modules(package.__path__, "aign_tf.tasks."):
    importlib.import_module(info.name)
  return dict(sorted(_TASKS.items()))


def memory_samples(memory):
  """(dataset of single memory samples, their number) from an array `[N, ...]` or a dict of
  arrays, for `aign_tf.data.pipeline.training_stream(memory=...)`."""
  count = len(next(iter(memory.values()))) if isinstance(memory, dict) else len(memory)
  return tf.data.Dataset.from_tensor_slices(memory), count


class Task:
  """Base class of AIGN tasks (the contract is in the module docstring)."""

  name = "task"

  def train_dataset(self, batch_size, seed=0, with_memory=True):
    """Infinite `tf.data.Dataset` of batch dicts (keys in `aign_tf.core.keys`).

    Args:
      batch_size: examples per batch.
      seed: seeds the shuffles (and any generated data).
      with_memory: include the unpaired memory under `memory`; the trainer passes False for
        a model without a discriminator, so the memory is never built.
    """
    raise NotImplementedError(f"task {self.name!r} must implement train_dataset")

  def eval_dataset(self, batch_size, split="eval"):
    """Finite `tf.data.Dataset` of batch dicts for `split`, carrying ground truth in
    `target` when the task has it."""
    raise NotImplementedError(f"task {self.name!r} must implement eval_dataset")

  def metrics(self, batch, prediction):
    """Per-example metrics, a dict name -> `[B]` NumPy array (averaged over a split)."""
    del batch, prediction
    return {}

  def extra_metrics(self, generator, split):
    """Metrics that need more than one batch's pairs (e.g. trajectory errors over several
    consecutive frames), computed once per evaluation of `split` by
    `aign_tf.train.evaluation.evaluate` (not by the trainer's periodic evaluations, which
    stay cheap). Runs `generator` (in inference mode) on the task's own data; returns a dict
    name -> float, merged into the report's metrics. Empty by default."""
    del generator, split
    return {}

  def health(self, batch, prediction):
    """Collapses visible in `prediction` (the generator's output on `batch`, a fixed
    training batch, in inference mode): dict name -> message naming what collapsed, the
    numbers and the remedy. A problem is reported once it persists for
    `train.collapse_patience` checks. Empty by default."""
    del batch, prediction
    return {}

  def memory_remedy(self):
    """The remedy printed when the discriminator wins outright."""
    return ("give a memory of the same kind of data (and units) as the observations, or "
            "train without the discriminator: models.AIGN.adversarial_weight = 0")

  def images(self, batch, prediction):
    """Pictures worth looking at: dict name -> uint8 image `[H, W, 3]` (written as PNG
    and to TensorBoard). Empty by default."""
    del batch, prediction
    return {}

  @property
  def export(self):
    """This task's export (how `aign_tf.serving` serves its generator): the
    `export_base.TaskExport` registered for its class, bound to this task.

    Raises:
      errors.ConfigError: no export is registered for the task's class.
    """
    cls = export_base.export_class(type(self))
    if cls is None:
      registered_tasks()  # Imports every module of aign_tf.tasks, and so every export.
      cls = export_base.export_class(type(self))
    if cls is None:
      raise errors.ConfigError(
          f"task {self.name!r} does not define an export: register an "
          f"export_base.TaskExport for {type(self).__qualname__} "
          "(aign_tf/tasks/export_base.py)")
    return cls(self)


def to_numpy(tree):
  """Converts a (possibly nested dict of) tensor(s) to NumPy."""
  if isinstance(tree, dict):
    return {k: to_numpy(v) for k, v in tree.items()}
  return np.asarray(tree)
