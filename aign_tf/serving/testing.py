"""A tiny image task for serving tests and benchmarks (no gin, no data).

`ImageTask` has the shape of the image tasks (uint8 images in, uint8 and float images out,
a `serving_bytes` signature; `ImageExport`) with a two-layer convolutional generator, so
export and the server's image paths are exercised before, and independently of, the real
image tasks.
"""

import http.client
import json
import os
import shutil

import tensorflow as tf
import tf_keras as keras

from aign_tf.tasks import base
from aign_tf.tasks import export_base


class ImageTask(base.Task):
  """uint8 `[B, size, size, 3]` image -> `image` uint8 and `image_float` float32 in [0, 1]
  of the same size, plus a per-image `mean` `[B]`."""

  name = "image_test"

  def __init__(self, size=8, channels=3):
    self.size = size
    self.channels = channels

  def generator(self, seed=0, filters=8):
    """A small built convolutional generator `[B, H, W, C]` in [0, 1] -> same shape."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(self.channels, 3, padding="same", activation="sigmoid")])
    model(tf.zeros([1, self.size, self.size, self.channels]))
    return model


@export_base.register_export(ImageTask)
class ImageExport(export_base.TaskExport):
  """`ImageTask`'s export: the image tasks' shape (uint8 in, uint8 and float out)."""

  def input_signature(self):
    task = self.task
    return {"image": tf.TensorSpec([None, task.size, task.size, task.channels], tf.uint8)}

  def image_inputs(self):
    return ("image",)

  def serve(self, generator, inputs):
    x = tf.cast(inputs["image"], tf.float32) / 255.0
    y = generator(x, training=False)
    return {"image": tf.cast(tf.round(tf.clip_by_value(y, 0.0, 1.0) * 255.0), tf.uint8),
            "image_float": y,
            "mean": tf.reduce_mean(y, axis=[1, 2, 3])}

  def conventions(self):
    task = self.task
    return (f"image_test: input 'image' uint8 [B, {task.size}, {task.size}, "
            f"{task.channels}] RGB; outputs 'image' uint8, 'image_float' float32 in [0, 1] "
            "of the same shape, 'mean' float32 [B].")


class KeypointsTask(base.Task):
  """float32 `keypoints_2d` `[B, J, 2]` -> `joints_3d` `[B, J, 3]` and `camera` `[B, 3]`:
  the shape of the pose task's export, for client tests."""

  name = "keypoints_test"

  def __init__(self, num_joints=17):
    self.num_joints = num_joints

  def generator(self, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(self.num_joints * 3 + 3)])
    model(tf.zeros([1, self.num_joints, 2]))
    return model


@export_base.register_export(KeypointsTask)
class KeypointsExport(export_base.TaskExport):
  """`KeypointsTask`'s export."""

  def input_signature(self):
    return {"keypoints_2d": tf.TensorSpec([None, self.task.num_joints, 2], tf.float32)}

  def serve(self, generator, inputs):
    y = generator(inputs["keypoints_2d"], training=False)
    return {"joints_3d": tf.reshape(y[:, 3:], [-1, self.task.num_joints, 3]),
            "camera": y[:, :3]}


def toy_generator(num_pairs=4, seed=0):
  """A built MLP generator for `aign_tf.tasks.toy.ToyTask(num_pairs)`."""
  from aign_tf.models import generators  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(seed)
  generator = generators.MLP(output_dim=2 * num_pairs, hidden_units=16)
  generator(tf.zeros([1, num_pairs]))
  return generator


def export_fake(kind, path, seed=0, step=7):
  """Exports a fake model to `path` without training: kind "toy", "image" or "keypoints".

  Returns:
    (task, generator).
  """
  from aign_tf.serving import export  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import toy  # pylint: disable=g-import-not-at-top
  if kind == "toy":
    task = toy.ToyTask()
    generator = toy_generator(task.num_pairs, seed)
  elif kind == "image":
    task = ImageTask()
    generator = task.generator(seed)
  elif kind == "keypoints":
    task = KeypointsTask()
    generator = task.generator(seed)
  else:
    raise ValueError(f"unknown fake model kind {kind!r}")
  export.save(task, generator, path, step=step, config_text=f"# fake {kind} seed={seed}\n")
  return task, generator


def fake_repository(base_path, poll_seconds=0.0, image_labels=None):
  """Exports fake "toy" and "image" models (version 1) under `base_path` (emptied first) and
  starts a `repository.Repository` serving them (the image model with `image_labels`).

  Returns:
    ({"toy": (task, generator), "image": (task, generator)}, the started repository).
  """
  from aign_tf.serving import model_config  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import repository  # pylint: disable=g-import-not-at-top
  shutil.rmtree(base_path, ignore_errors=True)
  fakes = {kind: export_fake(kind, os.path.join(base_path, kind, "1"))
           for kind in ("toy", "image")}
  configs = [model_config.ModelConfig("toy", os.path.join(base_path, "toy")),
             model_config.ModelConfig("image", os.path.join(base_path, "image"),
                                      labels=image_labels or {})]
  repo = repository.Repository(configs, poll_seconds=poll_seconds)
  repo.start()
  return fakes, repo


def request(srv, method, path, body=None, headers=None):
  """(status, parsed JSON, headers) of one REST request to `srv` on a fresh connection; the
  answer must be JSON."""
  connection = http.client.HTTPConnection(srv.host, srv.port, timeout=60)
  try:
    if isinstance(body, (dict, list)):
      body = json.dumps(body)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    assert response.getheader("Content-Type") == "application/json", data
    return response.status, json.loads(data), dict(response.getheaders())
  finally:
    connection.close()


def random_inputs(specs, batch_size=2, seed=0, free_dim=4):
  """Random NumPy inputs for a signature: dict name -> `tf.TensorSpec` (None dims after the
  batch axis become `free_dim`). uint8 in [0, 255], integers in [0, 10), floats in
  [0.1, 1] (positive, so intrinsics-like inputs stay sensible), strings "a".."z"."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  arrays = {}
  for name, spec in sorted(specs.items()):
    shape = [batch_size] + [free_dim if d is None else d for d in spec.shape[1:]]
    if spec.dtype == tf.uint8:
      arrays[name] = rng.integers(0, 256, shape).astype(np.uint8)
    elif spec.dtype.is_integer:
      arrays[name] = rng.integers(0, 10, shape).astype(spec.dtype.as_numpy_dtype)
    elif spec.dtype == tf.bool:
      arrays[name] = rng.random(shape) < 0.5
    elif spec.dtype == tf.string:
      arrays[name] = np.array([chr(97 + i % 26).encode() for i in range(int(np.prod(shape)))],
                              object).reshape(shape)
    else:
      arrays[name] = rng.uniform(0.1, 1.0, shape).astype(spec.dtype.as_numpy_dtype)
  return arrays


def encode_png(image):
  """uint8 `[H, W, C]` -> PNG bytes."""
  import io  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  image = np.asarray(image, np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
  return buffer.getvalue()
