"""SavedModel export of a trained generator, laid out for TF Serving.

`export(model_dir)` rebuilds the task and the generator from `model_dir`'s operative gin
config, restores the latest checkpoint (generator only) and writes

    <export_base>/<name>/<version>/saved_model.pb, variables/, assets.extra/

with the signatures

- `serving_default`: `task.export.input_signature()` -> `task.export.serve(generator,
  inputs)` (the task's `aign_tf.tasks.export_base.TaskExport`);
- `serving_bytes` (tasks with `image_inputs()`): the same, each image input replaced by a
  `tf.string` `[B]` of encoded PNG/JPEG (TF Serving's REST `{"b64": ...}` only decodes into
  string tensors), decoded to uint8 `[B, H, W, C]` inside the graph;
- `serving_png` (tasks with `image_inputs()` and at least one uint8 `[B, H, W, C]` output,
  C in 1-4): the inputs of `serving_bytes`; each such output `<name>` PNG-encoded in the
  graph as a `tf.string` `[B]` named `<name>_png_bytes` (TF Serving's REST API returns
  string outputs as `{"b64": ...}` only when their name ends in `_bytes`); every other
  output (float copies, depth maps, ...) is dropped, so the response is a few KB of base64
  instead of ~100k JSON numbers;
- `metadata` (no inputs): `task`, `step` (int64), `config_digest` (sha256 of the operative
  config) and `conventions` (the task's description of units and layouts).

Only the generator's variables are saved (no discriminator, optimizer or Keras metadata), so
loading needs TensorFlow alone. A version is written to a hidden temporary folder and renamed
into place: a crash or an error never leaves a half-written version that a server would load,
and an existing version is never touched. `<export_base>/models.config` is then rewritten to
list every exported model (TF Serving's `--model_config_file`).
"""

import json
import os
import re
import shutil
import tempfile
import time

import tensorflow as tf

from aign_tf import errors
from aign_tf import runs
from aign_tf.core import files
from aign_tf.serving import model_config

SERVING_DEFAULT = "serving_default"
SERVING_BYTES = "serving_bytes"
SERVING_PNG = "serving_png"
# Suffix of `serving_png`'s outputs: `<output>_png_bytes`.
PNG_SUFFIX = "_png_bytes"
METADATA = "metadata"
MODELS_CONFIG = "models.config"
# Written beside the SavedModel; TF Serving ignores assets.extra/ (except warm-up records).
EXPORT_INFO = os.path.join("assets.extra", "aign_export.json")
OPERATIVE_CONFIG_COPY = os.path.join("assets.extra", "operative_config.gin")

_INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VERSION = re.compile(r"^[0-9]+$")


def input_specs(task):
  """`task.export.input_signature()`, checked: dict name -> `tf.TensorSpec` named `name`.

  Raises:
    errors.ConfigError: the task defines no export, or its signature is malformed (names,
      batch axis, image inputs that are not uint8 `[B, H, W, C]` with known C).
  """
  exporter = task.export
  try:
    specs = exporter.input_signature()
  except NotImplementedError as e:
    raise errors.ConfigError(f"task {task.name!r} does not define an export signature "
                             f"({type(exporter).__name__}.input_signature)") from e
  if not isinstance(specs, dict) or not specs:
    raise errors.ConfigError(f"task {task.name!r}: input_signature() must return a "
                             "non-empty dict name -> tf.TensorSpec")
  checked = {}
  for name, spec in specs.items():
    if not isinstance(name, str) or not _INPUT_NAME.match(name):
      raise errors.ConfigError(f"task {task.name!r}: serving input name {name!r} is not an "
                               "identifier")
    if not isinstance(spec, tf.TensorSpec) or spec.shape.rank is None or spec.shape.rank < 1:
      raise errors.ConfigError(f"task {task.name!r}: serving input {name!r} must be a "
                               f"tf.TensorSpec with a batch axis, got {spec!r}")
    if spec.shape[0] is not None:
      raise errors.ConfigError(f"task {task.name!r}: serving input {name!r} must have a "
                               f"None batch axis, got shape {spec.shape}")
    checked[name] = tf.TensorSpec(spec.shape, spec.dtype, name=name)
  for name in exporter.image_inputs():
    spec = checked.get(name)
    if (spec is None or spec.dtype != tf.uint8 or spec.shape.rank != 4
        or spec.shape[-1] not in (1, 3, 4)):
      raise errors.ConfigError(f"task {task.name!r}: image input {name!r} must be a uint8 "
                               f"[B, H, W, C] serving input with C in 1, 3, 4, got {spec}")
  return checked


def decode_images(encoded, spec, name="image"):
  """Decodes a `[B]` tf.string of PNG/JPEG/BMP/GIF into uint8 `spec.shape` `[B, H, W, C]`.

  Images are converted to `C` channels. Fixed `H`/`W` in `spec` are checked: a wrong size is
  an InvalidArgumentError naming the input and the expected size (no silent resize).
  """
  height, width, channels = spec.shape[1:]

  def decode_one(data):
    image = tf.io.decode_image(data, channels=channels, dtype=tf.uint8,
                               expand_animations=False)
    if height is None and width is None:
      return image
    expected = [-1 if height is None else height, -1 if width is None else width]
    size = tf.shape(image)[:2]
    ok = tf.reduce_all(tf.logical_or(tf.equal(size, expected), tf.equal(expected, -1)))

    def wrong_size():
      # A branch that only runs on bad input: the assertion fails before any shape check.
      check = tf.debugging.Assert(
          False, [f"input {name!r}: images must be {height}x{width} (HxW), got", size])
      with tf.control_dependencies([check]):
        shape = tf.concat([tf.where(tf.equal(expected, -1), size, expected), [channels]], 0)
        return tf.zeros(shape, tf.uint8)

    image = tf.cond(ok, lambda: image, wrong_size)
    image = tf.ensure_shape(image, [height, width, channels])
    return image

  return tf.map_fn(decode_one, encoded,
                   fn_output_signature=tf.TensorSpec([height, width, channels], tf.uint8))


def image_outputs(outputs):
  """Sorted names of the outputs (dict name -> tensor or spec) that are uint8
  `[B, H, W, C]` with C in 1-4, i.e. PNG-encodable pictures."""
  return sorted(name for name, value in outputs.items()
                if value.dtype == tf.uint8 and value.shape.rank == 4
                and value.shape[-1] in (1, 2, 3, 4))


def encode_pngs(images):
  """uint8 `[B, H, W, C]` -> `[B]` tf.string of PNGs, one per example."""
  return tf.map_fn(tf.io.encode_png, images, fn_output_signature=tf.TensorSpec([], tf.string))


def build(task, generator, step=0, config_text=""):
  """Builds the export: a `tf.Module` holding the generator's variables and its signatures.

  Args:
    task: an `aign_tf.tasks.base.Task` with an export (`task.export`).
    generator: the built (and restored) Keras generator.
    step: the training step of the restored checkpoint.
    config_text: the operative gin config (its digest goes into `metadata`).

  Returns:
    (module, signatures): pass both to `tf.saved_model.save(module, path, signatures=...)`.

  Raises:
    errors.ConfigError: the task's export is missing or malformed.
  """
  exporter = task.export
  specs = input_specs(task)
  module = tf.Module(name="aign_export")
  # Only the variables are tracked: the Keras object graph is not serialised, so the
  # SavedModel loads with TensorFlow alone.
  module.generator_variables = list(generator.variables)

  def serve(**inputs):
    outputs = exporter.serve(generator, inputs)
    if not isinstance(outputs, dict) or not outputs:
      raise errors.ConfigError(f"task {task.name!r}: serve() must return a non-empty dict "
                               "of named outputs")
    return {str(k): tf.convert_to_tensor(v) for k, v in outputs.items()}

  signatures = {SERVING_DEFAULT: tf.function(serve).get_concrete_function(**specs)}
  image_names = tuple(exporter.image_inputs())
  if image_names:
    bytes_specs = dict(specs)
    for name in image_names:
      bytes_specs[name] = tf.TensorSpec([None], tf.string, name=name)

    def serve_bytes(**inputs):
      decoded = dict(inputs)
      for name in image_names:
        decoded[name] = decode_images(inputs[name], specs[name], name)
      return serve(**decoded)

    signatures[SERVING_BYTES] = tf.function(serve_bytes).get_concrete_function(**bytes_specs)
    png_names = image_outputs(signatures[SERVING_DEFAULT].structured_outputs)
    if png_names:

      def serve_png(**inputs):
        outputs = serve_bytes(**inputs)
        return {name + PNG_SUFFIX: encode_pngs(outputs[name]) for name in png_names}

      signatures[SERVING_PNG] = tf.function(serve_png).get_concrete_function(**bytes_specs)

  info = {"task": task.name, "step": int(step), "config_digest": files.text_digest(config_text),
          "conventions": exporter.conventions() or ""}

  def metadata():
    return {"task": tf.constant(info["task"]),
            "step": tf.constant(info["step"], tf.int64),
            "config_digest": tf.constant(info["config_digest"]),
            "conventions": tf.constant(info["conventions"])}

  signatures[METADATA] = tf.function(metadata).get_concrete_function()
  return module, signatures


def versions(model_base):
  """Sorted numeric version folders under `model_base` (hidden temporaries excluded)."""
  if not os.path.isdir(model_base):
    return []
  return sorted(int(n) for n in os.listdir(model_base)
                if _VERSION.match(n) and os.path.isdir(os.path.join(model_base, n)))


def _process_alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def remove_stale_temporaries(parent):
  """Removes `.tmp-<version>-<pid>-*` folders in `parent` that a killed export left behind
  (their process is gone), and empty `.tmp-*` folders of older exports."""
  for entry in os.listdir(parent):
    folder = os.path.join(parent, entry)
    if not entry.startswith(".tmp-") or not os.path.isdir(folder):
      continue
    match = re.match(r"\.tmp-[^-]+-(\d+)-", entry)
    stale = (not _process_alive(int(match.group(1)))) if match else not os.listdir(folder)
    if stale:
      shutil.rmtree(folder, ignore_errors=True)


def save(task, generator, path, step=0, config_text=""):
  """Writes the export of `generator` to `path` (which must not exist), atomically.

  Returns:
    dict of the metadata and the signature names.
  """
  if os.path.exists(path):
    raise errors.ConfigError(f"export version {path} exists: not overwriting it")
  module, signatures = build(task, generator, step, config_text)
  parent = os.path.dirname(os.path.abspath(path))
  files.make_dirs(parent)
  remove_stale_temporaries(parent)
  try:
    tmp = tempfile.mkdtemp(prefix=f".tmp-{os.path.basename(path)}-{os.getpid()}-", dir=parent)
  except OSError as e:
    raise files.write_error(parent, e) from e
  os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the version from a server run as another user.
  try:
    try:
      tf.saved_model.save(module, tmp, signatures=signatures)
    except (OSError, tf.errors.OpError) as e:
      raise errors.WriteError(f"{path}: cannot write the SavedModel "
                              f"({getattr(e, 'strerror', None) or str(e).splitlines()[0]})"
                              ) from e
    exporter = task.export
    info = {"task": task.name, "step": int(step), "config_digest": files.text_digest(config_text),
            "conventions": exporter.conventions() or "", "signatures": sorted(signatures),
            "inputs": {n: {"dtype": s.dtype.name, "shape": s.shape.as_list()}
                       for n, s in input_specs(task).items()},
            "image_inputs": list(exporter.image_inputs()),
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
    with open(os.path.join(tmp, EXPORT_INFO), "w") as f:
      json.dump(info, f, indent=2, sort_keys=True)
    if config_text:
      with open(os.path.join(tmp, OPERATIVE_CONFIG_COPY), "w") as f:
        f.write(config_text)
    # A directory rename is atomic; it fails rather than replace a non-empty version.
    try:
      os.rename(tmp, path)
    except OSError as e:
      raise errors.ConfigError(f"export version {path} appeared while exporting: "
                               "not overwriting it") from e
  finally:
    if os.path.isdir(tmp):
      shutil.rmtree(tmp, ignore_errors=True)
  return info


def export(model_dir, export_base="export", name=None, version=None, update_config=True):
  """Exports the latest checkpoint of `model_dir` as `<export_base>/<name>/<version>/`.

  Args:
    model_dir: a training directory (operative_config.gin + checkpoints/).
    export_base: the model repository; `models.config` is kept here.
    name: the model name (URLs, folder); default: the task's name.
    version: a positive integer; default: one more than the newest existing version.
    update_config: rewrite `<export_base>/models.config`.

  Returns:
    dict: `path`, `name`, `version`, plus the metadata (`task`, `step`, `config_digest`,
    `signatures`, ...).

  Raises:
    errors.ConfigError: no operative config or checkpoint in `model_dir`, a task without
      an export, an invalid name, an existing version, an unreadable models.config.
  """
  if name is not None and not model_config.valid_model_name(name):
    raise errors.ConfigError(f"invalid model name {name!r} (letters, digits, '_', '.', '-'; "
                             "no '/' or '..')")
  if version is not None and (not isinstance(version, int) or version < 1):
    raise errors.ConfigError(f"version must be a positive integer, got {version!r}")
  config_path = os.path.join(export_base, MODELS_CONFIG)
  if update_config and os.path.exists(config_path):
    model_config.read_config(config_path)  # Fail before exporting, not after.
  task, model, step = runs.restore(model_dir)
  config_text = runs.read_operative_config(model_dir)
  name = name or task.name
  if not model_config.valid_model_name(name):
    raise errors.ConfigError(f"task name {name!r} is not a valid model name: pass --name")
  model_base = os.path.join(export_base, name)
  if version is None:
    version = (versions(model_base) or [0])[-1] + 1
  path = os.path.join(model_base, str(version))
  if os.path.exists(path):
    raise errors.ConfigError(f"version {version} of model {name!r} exists ({path}): "
                             "choose another --version or leave it unset")
  info = save(task, model.generator, path, step, config_text)
  if update_config:
    update_models_config(export_base)
  return dict(info, path=path, name=name, version=version)


def exported_models(export_base):
  """Names of the folders under `export_base` holding at least one SavedModel version."""
  if not os.path.isdir(export_base):
    return []
  names = []
  for name in sorted(os.listdir(export_base)):
    base = os.path.join(export_base, name)
    if model_config.valid_model_name(name) and any(
        os.path.isfile(os.path.join(base, str(v), "saved_model.pb")) for v in versions(base)):
      names.append(name)
  return names


def update_models_config(export_base):
  """Rewrites `<export_base>/models.config`: one entry per exported model (absolute
  base paths, so TF Serving can be started from any directory); entries already there keep
  their version policy and labels; entries whose base path is gone are dropped.

  Returns:
    The path of the config file.
  """
  path = os.path.join(export_base, MODELS_CONFIG)
  existing = model_config.read_config(path) if os.path.exists(path) else []
  by_name = {m.name: m for m in existing if os.path.isdir(m.base_path)}
  for name in exported_models(export_base):
    base_path = os.path.abspath(os.path.join(export_base, name))
    if name in by_name:
      by_name[name].base_path = base_path
    else:
      by_name[name] = model_config.ModelConfig(name=name, base_path=base_path)
  files.atomic_write(path, model_config.format_config(by_name.values()))
  return path
