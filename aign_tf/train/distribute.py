"""Distribution strategies by name: tf.distribute only, never a home-made scheme."""

import json
import os

import gin
import tensorflow as tf

from aign_tf import errors

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


@gin.configurable(module="train", denylist=["name"])
def make_strategy(name="default", devices=None, tpu_address=""):
  """Returns a `tf.distribute.Strategy`.

  Args:
    name: "default" (one device), "mirrored" (`MirroredStrategy` over `devices` or all local
      GPUs, or the CPU), "multi_worker" (`MultiWorkerMirroredStrategy` from `TF_CONFIG`),
      "tpu" (`TPUStrategy`, where a TPU is attached).
    devices: optional device list for "mirrored".
    tpu_address: for "tpu": the TPU's name or grpc address ("" = the local or
      environment-configured TPU).

  Raises:
    errors.ConfigError: for an unknown name.
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy(devices=devices)
  if name == "multi_worker":
    check_tf_config(os.environ.get("TF_CONFIG"))
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    try:
      resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address)
      tf.config.experimental_connect_to_cluster(resolver)
      tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
      raise errors.ConfigError(f"train.strategy='tpu': no TPU could be reached "
                               f"({str(e).strip().splitlines()[0] if str(e).strip() else e})"
                               ) from e
    return tf.distribute.TPUStrategy(resolver)
  raise errors.ConfigError(f"train.strategy: unknown strategy {name!r}; choose one of "
                           f"{', '.join(STRATEGIES)}")


def check_tf_config(text):
  """Raises ConfigError unless `text` is a usable multi-worker `TF_CONFIG`."""
  if not text:
    raise errors.ConfigError("train.strategy='multi_worker' needs the TF_CONFIG environment "
                             "variable (cluster and task); see the README")
  try:
    config = json.loads(text)
  except ValueError as e:
    raise errors.ConfigError(f"TF_CONFIG is not valid JSON: {e}") from e
  cluster, task = config.get("cluster"), config.get("task")
  if not isinstance(cluster, dict) or not cluster:
    raise errors.ConfigError("TF_CONFIG has no 'cluster' mapping of job names to addresses")
  if not isinstance(task, dict) or "type" not in task or "index" not in task:
    raise errors.ConfigError("TF_CONFIG has no 'task' with 'type' and 'index'")
  members = cluster.get(task["type"])
  if not isinstance(members, list) or not isinstance(task["index"], int) or not (
      0 <= task["index"] < len(members)):
    raise errors.ConfigError(
        f"TF_CONFIG task {task['type']!r} index {task['index']!r} is not in the cluster "
        f"({ {k: len(v) for k, v in cluster.items() if isinstance(v, list)} })")


def is_chief(strategy):
  """True on the worker that writes checkpoints, summaries and configs."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type is None or (task_type == "chief" or
                               (task_type == "worker" and task_id == 0 and
                                "chief" not in resolver.cluster_spec().as_dict()))


def worker_name(strategy):
  """"<task_type>_<task_id>" of this worker in a multi-worker cluster."""
  resolver = strategy.cluster_resolver
  return f"{resolver.task_type}_{resolver.task_id}"
