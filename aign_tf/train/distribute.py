"""Distribution strategies by name: tf.distribute only, never a home-made scheme."""

import gin
import tensorflow as tf

from aign_tf import errors

STRATEGIES = ("default", "mirrored", "multi_worker")


@gin.configurable(module="train")
def make_strategy(name="default", devices=None):
  """Returns a `tf.distribute.Strategy`.

  Args:
    name: "default" (one device), "mirrored" (`MirroredStrategy` over `devices` or all local
      GPUs, or the CPU), "multi_worker" (`MultiWorkerMirroredStrategy` from `TF_CONFIG`).
    devices: optional device list for "mirrored".

  Raises:
    errors.ConfigError: for an unknown name.
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy(devices=devices)
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise errors.ConfigError(f"train.strategy: unknown strategy {name!r}; choose one of "
                           f"{', '.join(STRATEGIES)}")


def is_chief(strategy):
  """True on the worker that writes checkpoints, summaries and configs."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type is None or (task_type == "chief" or
                               (task_type == "worker" and task_id == 0 and
                                "chief" not in resolver.cluster_spec().as_dict()))
