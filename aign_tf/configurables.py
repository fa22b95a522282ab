"""gin registration of tf_keras optimizers and learning-rate schedules.

`gin.tf.external_configurables` registers Keras 3 classes on TF >= 2.16, which do not mix with
tf_keras models, so the tf_keras (Keras 2) classes are registered here under the module name
`optimizers` (e.g. `@generator/optimizers.Adam`).

`register_all()` imports every module of the packages that define configurables (tasks,
renderers, networks, objectives) and the gin root, so a gin file naming any of them can be
parsed. A new module registers itself by living in one of those packages.
"""

import importlib
import pkgutil
import sys

import gin
import tf_keras as keras

_OPTIMIZERS = ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Nadam", "Adamax")
_SCHEDULES = ("ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
              "PolynomialDecay", "InverseTimeDecay")

for _name in _OPTIMIZERS:
  gin.external_configurable(getattr(keras.optimizers, _name), name=_name,
                            module="optimizers")
for _name in _SCHEDULES:
  gin.external_configurable(getattr(keras.optimizers.schedules, _name), name=_name,
                            module="schedules")

# Packages whose modules register gin configurables. Every module in them is imported, so a
# new task, renderer, network or objective registers itself by being there: no list to edit.
CONFIGURABLE_PACKAGES = (
    "aign_tf.objectives",
    "aign_tf.renderers",
    "aign_tf.models",
    "aign_tf.tasks",
)
# The gin root `train(...)` and what it configures (`train.make_strategy`), and the paths of
# fetched samples that gin files bind (`@data.dashcam_frames()`).
CONFIGURABLE_MODULES = ("aign_tf.train.trainer", "aign_tf.data.sfm_samples")


def configurable_modules():
  """Names of the modules `register_all` imports."""
  names = []
  for package in CONFIGURABLE_PACKAGES:
    path = importlib.import_module(package).__path__
    names += sorted(info.name for info in pkgutil.iter_modules(path, package + "."))
  return names + list(CONFIGURABLE_MODULES)


def register_all():
  """Imports every module that registers gin configurables."""
  for module in configurable_modules():
    importlib.import_module(module)


def moved_bindings():
  """dict old binding -> where it went, merged from the `MOVED_BINDINGS` of every module
  `register_all` imports (a module that moves a constructor argument elsewhere declares it
  there, next to the configurable). A value is a text or a callable returning one, e.g.
  "bind sfm_sources.Frames.data_dir"; `aign_tf.config.parse` puts it in its error."""
  moved = {}
  for module in configurable_modules():
    moved.update(getattr(sys.modules.get(module), "MOVED_BINDINGS", None) or {})
  return moved


def upgrade_operative_config(text):
  """The text of a run's operative config written by an older version, with the bindings
  that moved since rewritten by the modules that moved them (each module `register_all`
  imports may define `upgrade_operative_config(text) -> text`); unchanged when none did."""
  for module in configurable_modules():
    upgrade = getattr(sys.modules.get(module), "upgrade_operative_config", None)
    if upgrade is not None:
      text = upgrade(text)
  return text
