"""The export contract: how a task's generator is served (SavedModel, TF Serving, TFLite).

Export is not part of a task: it lives in its own module, `aign_tf/tasks/<task>_export.py`,
as a `TaskExport` subclass registered for the task class with
`@export_base.register_export(<TaskClass>)` (like Model Garden's per-task `ExportModule`).
`task.export` (`aign_tf.tasks.base.Task.export`) finds it and binds it to the task, so
`aign_tf.serving` writes every task's SavedModel the same way.

Must implement:
  input_signature()          inputs of `serving_default` in documented units: dict name ->
                             `tf.TensorSpec` with a `None` batch axis
  serve(generator, inputs)   outputs in documented units (TensorFlow ops only)

Should implement (defaults: none):
  image_inputs()             which inputs are uint8 images (adds a `serving_bytes` signature)
  conventions()              text for the `metadata` signature and export/README.md

A subclass of a task inherits its parent's export unless it registers its own.
"""

_EXPORTS = {}

# The Task methods that were export hooks before export had its own module; a Task subclass
# still defining one is refused when it registers (`aign_tf.tasks.base.register_task`).
OLD_TASK_HOOKS = ("serving_input_signature", "serve", "image_inputs", "conventions")


def register_export(task_cls):
  """Class decorator: registers a `TaskExport` subclass as the export of `task_cls` (and of
  its subclasses that register none of their own).

  Raises:
    TypeError: the decorated class is not a `TaskExport` subclass.
  """
  def decorate(export_cls):
    if not (isinstance(export_cls, type) and issubclass(export_cls, TaskExport)):
      raise TypeError(f"@register_export decorates TaskExport subclasses, not {export_cls!r}")
    _EXPORTS[task_cls] = export_cls
    return export_cls
  return decorate


def export_class(task_cls):
  """The `TaskExport` subclass registered for `task_cls` or its nearest base class, or None."""
  for cls in task_cls.__mro__:
    if cls in _EXPORTS:
      return _EXPORTS[cls]
  return None


class TaskExport:
  """Base class of a task's export (the contract is in the module docstring).

  Attributes:
    task: the task whose generator is served (its sizes and batch layout).
  """

  def __init__(self, task):
    self.task = task

  def input_signature(self):
    """Inputs of the exported `serving_default` signature in the task's documented units:
    dict name -> `tf.TensorSpec` with a `None` batch axis (e.g. uint8 images, float32
    keypoints)."""
    raise NotImplementedError(f"the export of task {self.task.name!r} defines no "
                              "input_signature")

  def serve(self, generator, inputs):
    """Maps `input_signature()` inputs to a dict of named outputs in documented units (e.g.
    uint8 and float images, metres), running `generator` in inference mode. Traced inside a
    `tf.function`: TensorFlow ops only."""
    raise NotImplementedError(f"the export of task {self.task.name!r} defines no serve")

  def image_inputs(self):
    """Names of `input_signature()` inputs that are uint8 images `[B, H, W, C]`; export adds
    a `serving_bytes` signature taking them as encoded PNG/JPEG strings."""
    return ()

  def conventions(self):
    """Short text describing input/output units and layouts, for the `metadata` signature
    and export/README.md."""
    return ""
