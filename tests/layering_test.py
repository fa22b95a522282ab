"""The package's layering: which part of aign_tf may import which.

Contracts and neutral utilities are leaves (`errors`, `core`); renderers know nothing of
networks, networks nothing of data or tasks, tasks nothing of training or serving, and
training and serving are siblings that meet only in `config` / `runs` (a run's operative
config and checkpoints). Every import is checked, also those inside functions, so a lazy
import cannot hide a cycle.
"""

import ast
import os
import unittest

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "aign_tf")

_BELOW_TASKS = {"errors", "core", "renderers", "objectives", "models", "data"}
_BELOW_RUNNERS = _BELOW_TASKS | {"tasks", "configurables", "config", "runs"}

# Part of aign_tf -> the other parts it may import (imports inside a part are free).
ALLOWED = {
    "__init__": set(),
    "errors": set(),
    "core": {"errors"},
    "renderers": {"errors", "core"},
    "objectives": {"errors", "core", "renderers"},
    "models": {"errors", "core", "renderers", "objectives"},
    "data": {"errors", "core"},
    # Offline 2D detectors (BlazePose, BlazeFace): crop geometry and caches from data.
    "detectors": {"errors", "core", "data"},
    "tasks": _BELOW_TASKS,
    # The gin registry imports the configurable packages by name (importlib), not statically.
    "configurables": set(),
    "config": {"errors", "configurables"},
    "runs": {"errors", "core", "config"},
    "train": _BELOW_RUNNERS,
    "serving": _BELOW_RUNNERS | {"detectors"},
    # Test helpers may build anything.
    "testing": _BELOW_RUNNERS | {"train", "serving", "detectors"},
}


def part_of(module):
  """'aign_tf.models.aign' -> 'models'; 'aign_tf.errors' -> 'errors'."""
  pieces = module.split(".")
  return pieces[1] if len(pieces) > 1 else "__init__"


def module_name(path):
  relative = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-len(".py")]
  pieces = relative.split(os.sep)
  if pieces[-1] == "__init__":
    pieces = pieces[:-1]
  return ".".join(pieces)


def imported_modules(path, module):
  """The aign_tf modules `path` imports (resolving `from aign_tf.x import y` to x.y when y
  is a module), with line numbers."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
  found = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found += [(alias.name, node.lineno) for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                        + ([base] if base else []))
      for alias in node.names:
        candidate = f"{base}.{alias.name}"
        as_file = os.path.join(os.path.dirname(PACKAGE_DIR), *candidate.split("."))
        found.append((candidate if os.path.exists(as_file + ".py") or os.path.isdir(as_file)
                      else base, node.lineno))
  return [(name, line) for name, line in found if name.startswith("aign_tf.")]


def package_files():
  for root, _, names in os.walk(PACKAGE_DIR):
    for name in sorted(names):
      if name.endswith(".py"):
        yield os.path.join(root, name)


def breaches():
  """(file, line, importer part, imported module) for every import the table forbids."""
  out = []
  for path in package_files():
    module = module_name(path)
    part = part_of(module)
    allowed = ALLOWED.get(part)
    for imported, line in imported_modules(path, module):
      target = part_of(imported)
      if target == part:
        continue
      if allowed is None or target not in allowed:
        out.append((os.path.relpath(path, os.path.dirname(PACKAGE_DIR)), line, part,
                    imported))
  return out


class LayeringTest(unittest.TestCase):

  def test_every_part_is_in_the_table(self):
    parts = {part_of(module_name(path)) for path in package_files()}
    self.assertEqual(parts - set(ALLOWED), set(),
                     "a new part of aign_tf: add it to ALLOWED with the parts it may use")

  def test_no_import_breaks_the_layering(self):
    found = breaches()
    self.assertEqual(found, [], "\n".join(f"{path}:{line}: {part} may not import {target}"
                                          for path, line, part, target in found))

  def test_breach_is_detected(self):
    # The checker itself: an upward import in a fake renderer is reported.
    module = "aign_tf.renderers.fake"
    path = os.path.join(PACKAGE_DIR, "renderers", "_layering_probe.py")
    self.addCleanup(lambda: os.path.exists(path) and os.remove(path))
    with open(path, "w") as f:
      f.write("def f():\n  from aign_tf.train import trainer\n")
    imports = imported_modules(path, module)
    self.assertEqual(imports, [("aign_tf.train.trainer", 2)])
    self.assertIn(("aign_tf/renderers/_layering_probe.py", 2, "renderers",
                   "aign_tf.train.trainer"), breaches())


if __name__ == "__main__":
  unittest.main()
