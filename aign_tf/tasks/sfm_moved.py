"""The bindings of the old 24-argument `SfmTask` that moved to its sources (`sfm_sources`).

Two kinds of reader meet them. A gin file or `--gin_bindings` a user writes gets an error
naming the new binding in one line (`MOVED_BINDINGS`, read by `aign_tf.config.parse`):

    gin: tasks.SfmTask.data_dir moved: bind sfm_sources.Frames.data_dir (...)

An operative config that training wrote before the move (a run's `operative_config.gin`,
listing every old argument) is rewritten for the run's source when evaluation or export
rebuilds the run (`upgrade_operative_config`, read by `aign_tf.config.parse_operative`), so
older runs keep working. Nothing else uses this module: it can go once no such run is left.
"""

import functools
import inspect
import re

import gin

from aign_tf.tasks import sfm_sources

# Argument -> the source classes that took it over.
_MOVED_TO_SOURCES = {
    "num_train": ("Procedural",), "texture": ("Procedural",),
    "num_snippets": ("Procedural",),
    "data_dir": ("Frames", "KittiRaw", "KittiEigen", "SfmLearner"),
    "eval_fraction": ("Frames", "KittiRaw"), "poses_file": ("KittiRaw",),
    "eigen_list": ("KittiEigen",), "intrinsics": ("Frames",), "fov_degrees": ("Frames",),
    "crop": ("Frames",), "frame_step": ("Frames",)}


def _bound_source_class():
  """The class name of the source bound to `tasks.SfmTask.source` so far, or None."""
  try:
    value = gin.query_parameter("tasks.SfmTask.source")
  except ValueError:
    value = "procedural"
  source = sfm_sources.source_class(value)
  return source.__name__ if source else None


def _moved_hint(argument, classes):
  """Where `tasks.SfmTask.<argument>` went: the bound source's binding when it is one of
  `classes`, else all of them."""
  bound = _bound_source_class()
  targets = [bound] if bound in classes else list(classes)
  hint = "bind " + " or ".join(f"sfm_sources.{c}.{argument}" for c in targets)
  if len(targets) > 1:
    hint += " (the class of tasks.SfmTask.source)"
  return hint


# Old binding -> a callable naming the new one (`aign_tf.configurables.moved_bindings`).
MOVED_BINDINGS = {f"tasks.SfmTask.{argument}": functools.partial(_moved_hint, argument,
                                                                  classes)
                  for argument, classes in _MOVED_TO_SOURCES.items()}

_OLD_BINDING = re.compile(r"^(?:tasks\.)?SfmTask\.(\w+) = ")
_OLD_SOURCE = re.compile(r"^(?:tasks\.)?SfmTask\.source = '(\w+)'$", re.M)


def _moved_argument(line):
  """The argument of an old `SfmTask.<argument> = ...` line that moved to a source, or None."""
  match = _OLD_BINDING.match(line)
  return match.group(1) if match and match.group(1) in _MOVED_TO_SOURCES else None


def upgrade_operative_config(text):
  """A run's operative config written before the sources were objects, as it reads now.

  Such a config lists every argument of the old `SfmTask`, and its source is a name. Each
  moved `SfmTask.<argument> = <value>` (and its continuation lines) becomes
  `sfm_sources.<Source>.<argument> = <value>` when the run's source takes the argument, and
  is dropped when it does not (that source ignored it). Other text is returned unchanged.
  """
  match = _OLD_SOURCE.search(text)
  source = sfm_sources.SOURCES.get(match.group(1) if match else "procedural")
  if source is None or not any(_moved_argument(line) for line in text.splitlines()):
    return text
  takes = inspect.signature(source.__init__).parameters
  lines, keep = [], True
  for line in text.splitlines():
    if line[:1].isspace():  # A value continued from the line above.
      if keep:
        lines.append(line)
      continue
    argument = _moved_argument(line)
    keep = argument is None or argument in takes
    if argument is None:
      lines.append(line)
    elif keep:
      lines.append(_OLD_BINDING.sub(f"sfm_sources.{source.__name__}.{argument} = ", line))
  return "\n".join(lines) + "\n"
