"""The served models: versions loaded from base paths, refreshed by polling.

Each model has a base path holding numeric version folders (`<base>/<version>/saved_model.pb`).
The version policy (TF Serving's): `latest` serves the newest `num_versions` versions that
load, `all` every version, `specific` the listed ones. A version that fails to load is kept in
the status with its error (paths replaced by the model name) and retried only when its folder
changes; the previously served version stays up. New versions are picked up by `refresh()`,
which a background thread calls every `poll_seconds`; a model-config file can be re-read
the same way, adding and removing models without a restart.
"""

import logging
import os
import re
import threading
import time

import numpy as np

from aign_tf.serving import model_config
from aign_tf.serving import protocol

_log = logging.getLogger(__name__)
_VERSION = re.compile(r"^[0-9]{1,18}$")


class Signature:
  """One signature of a loaded version: validated NumPy in, NumPy out."""

  def __init__(self, name, fn):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self._tf = tf
    self.name = name
    self.fn = fn
    _, kwargs = fn.structured_input_signature
    self.inputs = {k: _spec(s) for k, s in kwargs.items()}
    self.outputs = {k: _spec(s) for k, s in fn.structured_outputs.items()}

  def __call__(self, arrays):
    tf = self._tf
    tensors = {k: tf.constant(v, dtype=tf.string if self.inputs[k].dtype == "string" else None)
               for k, v in arrays.items()}
    return {k: np.asarray(v.numpy()) for k, v in self.fn(**tensors).items()}


def _spec(tensor_spec):
  dtype = "string" if tensor_spec.dtype.name == "string" else tensor_spec.dtype.name
  return protocol.Spec(dtype, tuple(tensor_spec.shape.as_list())
                       if tensor_spec.shape.rank is not None else ())


class Version:
  """A loaded SavedModel version."""

  def __init__(self, version, path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self.version = version
    self.path = path
    self.loaded = tf.saved_model.load(path)
    self.signatures = {n: Signature(n, f) for n, f in self.loaded.signatures.items()}
    self.signature_def_protos = _signature_def_protos(path)
    self.signature_defs = _signature_defs(self.signature_def_protos)

  def signature(self, name):
    if name not in self.signatures:
      raise protocol.RequestError(
          400, f"unknown signature {name[:64]!r} (this model has "
          f"{', '.join(repr(n) for n in sorted(self.signatures))})")
    return self.signatures[name]


def _signature_def_protos(path):
  """The `SignatureDef` protos of the serving MetaGraph (gRPC metadata), by name."""
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    proto.ParseFromString(f.read())
  for meta_graph in proto.meta_graphs:
    if "serve" in meta_graph.meta_info_def.tags:
      return {name: sig for name, sig in meta_graph.signature_def.items()
              if not name.startswith("__")}
  return {}


def _signature_defs(protos):
  """SignatureDef protos as JSON (TF Serving's REST metadata layout)."""
  from google.protobuf import json_format  # pylint: disable=g-import-not-at-top
  return {name: json_format.MessageToDict(sig, preserving_proto_field_name=True)
          for name, sig in protos.items()}


def sanitize(message, model):
  """An error message with file system paths replaced, so it names only the model."""
  for path in sorted({model.base_path, os.path.abspath(model.base_path),
                      os.path.realpath(model.base_path)}, key=len, reverse=True):
    message = message.replace(path, f"<{model.name}>")
  message = re.sub(r"(?<![<\w])/[^\s'\":,;]+", "<path>", message)
  lines = [l.strip() for l in message.strip().splitlines() if l.strip()]
  return (lines[0] if lines else "error")[:300]


class Model:
  """One served model: its config, loaded versions and load failures."""

  def __init__(self, config):
    self.config = config
    self.name = config.name
    self.versions = {}   # version -> Version
    self.failures = {}   # version -> (folder stamp, sanitized message)
    self.lock = threading.Lock()

  def _stamp(self, path):
    try:
      stamps = [os.stat(path).st_mtime_ns]
      pb = os.path.join(path, "saved_model.pb")
      if os.path.exists(pb):
        stamps += [os.stat(pb).st_mtime_ns, os.stat(pb).st_size]
      return tuple(stamps)
    except OSError:
      return None

  def on_disk(self):
    base = self.config.base_path
    try:
      names = os.listdir(base)
    except OSError:
      return {}
    return {int(n): os.path.join(base, n) for n in names
            if _VERSION.match(n) and os.path.isdir(os.path.join(base, n))}

  def refresh(self):
    """Loads versions the policy wants that are not loaded, unloads the others."""
    disk = self.on_disk()
    with self.lock:
      for version in [v for v in self.failures if v not in disk]:
        del self.failures[version]
    policy = self.config.policy
    wanted = sorted(disk, reverse=True)
    if policy == "specific":
      wanted = [v for v in wanted if v in self.config.versions]
    keep = []
    for version in wanted:
      if policy == "latest" and len(keep) >= self.config.num_versions:
        break
      if version in self.versions:
        keep.append(version)
        continue
      stamp = self._stamp(disk[version])
      failure = self.failures.get(version)
      if failure is not None and failure[0] == stamp:
        continue  # Failed before and unchanged since.
      try:
        loaded = Version(version, disk[version])
      except Exception as e:  # pylint: disable=broad-except
        message = sanitize(f"{type(e).__name__}: {e}", self.config)
        _log.warning("model %s version %d failed to load: %s", self.name, version, message)
        with self.lock:
          self.failures[version] = (stamp, message)
        continue
      _log.info("model %s: loaded version %d", self.name, version)
      with self.lock:
        self.versions[version] = loaded
        self.failures.pop(version, None)
      keep.append(version)
    with self.lock:
      for version in [v for v in self.versions if v not in keep]:
        _log.info("model %s: unloaded version %d", self.name, version)
        del self.versions[version]

  def resolve(self, version=None, label=None):
    """The `Version` a request names (the newest served one by default).

    Raises:
      protocol.RequestError: 404 for an unknown label or a version not being served.
    """
    with self.lock:
      if label is not None:
        version = self._labelled_version(label)
      if version is None:
        if not self.versions:
          raise protocol.RequestError(503 if self.failures else 404,
                                      f"model {self.name!r} has no servable version")
        return self.versions[max(self.versions)]
      if version not in self.versions:
        reason = (f": it failed to load ({self.failures[version][1]})"
                  if version in self.failures else "")
        raise protocol.RequestError(404, f"version {version} of model {self.name!r} is "
                                    f"not being served{reason}")
      return self.versions[version]

  def _labelled_version(self, label):
    """The version a label names (caller holds the lock); 404 for an unknown label."""
    if label not in self.config.labels:
      raise protocol.RequestError(404, f"model {self.name!r} has no version label "
                                  f"{label!r}")
    return self.config.labels[label]

  def status(self, version=None, label=None):
    """TF Serving's model status JSON."""
    with self.lock:
      if label is not None:
        version = self._labelled_version(label)
      entries = [(v, "AVAILABLE", "OK", "") for v in self.versions]
      entries += [(v, "END", "UNKNOWN", m) for v, (_, m) in self.failures.items()
                  if v not in self.versions]
    if version is not None:
      entries = [e for e in entries if e[0] == version]
      if not entries:
        raise protocol.RequestError(404, f"version {version} of model {self.name!r} is "
                                    "not being served")
    if not entries:
      raise protocol.RequestError(404, f"model {self.name!r} has no versions under its "
                                  "base path")
    return {"model_version_status": [
        {"version": str(v), "state": state,
         "status": {"error_code": code, "error_message": message}}
        for v, state, code, message in sorted(entries, reverse=True)]}


class Repository:
  """The set of served models, refreshed from disk (and from a model-config file)."""

  def __init__(self, configs=(), config_file=None, poll_seconds=1.0,
               config_poll_seconds=0.0):
    self.config_file = config_file
    self.poll_seconds = poll_seconds
    self.config_poll_seconds = config_poll_seconds
    self._config_stamp = None
    self._models = {}
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread = None
    if config_file:
      configs = model_config.read_config(config_file)
      self._config_stamp = os.stat(config_file).st_mtime_ns
    self._set_configs(configs)

  def _set_configs(self, configs):
    with self._lock:
      models = {}
      for config in configs:
        old = self._models.get(config.name)
        if old is not None and old.config == config:
          models[config.name] = old
        else:
          models[config.name] = Model(config)
      self._models = models

  def names(self):
    with self._lock:
      return sorted(self._models)

  def model(self, name):
    """The `Model` named `name`; RequestError 404 if none is configured."""
    with self._lock:
      model = self._models.get(name)
    if model is None:
      raise protocol.RequestError(404, f"model {name[:64]!r} not found")
    return model

  def reload_config(self):
    """Re-reads the model-config file if it changed; a bad file is logged and ignored."""
    if not self.config_file:
      return
    try:
      stamp = os.stat(self.config_file).st_mtime_ns
      if stamp == self._config_stamp:
        return
      configs = model_config.read_config(self.config_file)
    except Exception as e:  # pylint: disable=broad-except
      _log.warning("model config not reloaded: %s", e)
      return
    self._config_stamp = stamp
    self._set_configs(configs)

  def refresh(self):
    """Loads new versions of every model and unloads superseded ones."""
    with self._lock:
      models = list(self._models.values())
    for model in models:
      try:
        model.refresh()
      except Exception:  # pylint: disable=broad-except
        _log.exception("refreshing model %s failed", model.name)

  def start(self):
    """Loads what is on disk now, then polls in a background thread."""
    self.refresh()
    if self.poll_seconds and self.poll_seconds > 0:
      self._thread = threading.Thread(target=self._poll, name="model-poll", daemon=True)
      self._thread.start()

  def stop(self):
    self._stop.set()
    if self._thread is not None:
      self._thread.join(timeout=10)

  def _poll(self):
    last_config = time.monotonic()
    while not self._stop.wait(self.poll_seconds):
      if self.config_poll_seconds and time.monotonic() - last_config >= self.config_poll_seconds:
        last_config = time.monotonic()
        self.reload_config()
      self.refresh()
