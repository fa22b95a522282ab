"""gin registration of tf_keras optimizers and learning-rate schedules.

`gin.tf.external_configurables` registers Keras 3 classes on TF >= 2.16, which do not mix with
tf_keras models, so the tf_keras (Keras 2) classes are registered here under the module name
`optimizers` (e.g. `@generator/optimizers.Adam`).

`register_all()` imports every module that defines configurables, so a gin file naming any
task can be parsed. Modules that need TensorFlow Graphics import it lazily inside functions.
"""

import importlib

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

# Modules whose import registers gin configurables. A new task adds its modules here.
CONFIGURABLE_MODULES = (
    "aign_tf.objectives.adversarial",
    "aign_tf.objectives.reconstruction",
    "aign_tf.models.aign",
    "aign_tf.models.generators",
    "aign_tf.models.discriminators",
    "aign_tf.renderers.base",
    "aign_tf.tasks.toy",
    "aign_tf.train.trainer",
    "aign_tf.data.pose",
    "aign_tf.models.pose_networks",
    "aign_tf.objectives.pose",
    "aign_tf.renderers.projection",
    "aign_tf.tasks.pose",
    "aign_tf.renderers.view_synthesis",
    "aign_tf.models.sfm_networks",
    "aign_tf.tasks.sfm",
    "aign_tf.renderers.downsample",
    "aign_tf.renderers.masking",
    "aign_tf.models.face_networks",
    "aign_tf.tasks.faces",
)


def register_all():
  """Imports every module that registers gin configurables."""
  for module in CONFIGURABLE_MODULES:
    importlib.import_module(module)
