"""TFLite conversion of an exported SavedModel, verified in the LiteRT interpreter.

`convert(saved_model, quantization)` loads `<export_base>/<name>/<version>/`, wraps its
`serving_default` signature in a concrete function whose inputs have a fixed batch of 1
(mobile runtimes, LiteRT.js included, reject a dynamic batch), converts it with

- `none`: float32 weights and activations;
- `float16`: float16 weights (dequantised to float32 at load time);
- `int8`: full-integer weights and activations, calibrated on a representative dataset drawn
  from the task's *training* inputs (float fallback for ops without an int8 kernel).

Dynamic-range quantization (int8 weights, float activations) is not offered: measured on
this 2-core CPU it ran about 10x slower than the float model.

The task is rebuilt from the SavedModel's `assets.extra/operative_config.gin` (written by
`aign_tf.serving.export`), so calibration and verification use the task's own faces; without
that file both use uniform random inputs, with a warning.

Every conversion is verified: the `.tflite` runs in LiteRT (`ai_edge_litert`; the deprecated
`tf.lite.Interpreter` is never used) on held-out inputs (the task's eval split), one example
at a time, against the SavedModel. Max abs difference and PSNR of each output are printed and
written next to the model as `<output>.json`; if the PSNR of the checked output falls below
`min_psnr` the `.tflite` and its JSON are removed and a `ConversionError` is raised.

Inputs and outputs keep the SavedModel's names, dtypes and layout: uint8 `image` `[1, H, W, C]`
(+ `mask` `[1, H, W, 1]` for inpainting) -> uint8 `image`, float32 `image_float` in [0, 1].
"""

import json
import math
import os
import warnings

from absl import logging
import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf.core import imaging
from aign_tf.core import keys
from aign_tf.serving import export as export_lib

QUANTIZATIONS = ("none", "float16", "int8")
SIGNATURE = export_lib.SERVING_DEFAULT
# The output compared for the PSNR threshold: the float image in [0, 1].
CHECKED_OUTPUT = "image_float"
TFLITE_IDENTIFIER = b"TFL3"  # FlatBuffer file identifier of TFLite models (bytes 4..8).
# Ops kept in float by int8 conversion (see convert_to_bytes).
FLOAT_OPS = ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL")


class ConversionError(errors.AIGNError):
  """The converted model failed verification (PSNR below the threshold)."""


# Loading ----------------------------------------------------------------------------------

def load_saved_model(path):
  """Loads a SavedModel exported by `aign_tf.serving.export`; one-line errors on bad input.

  Returns:
    (loaded, signature): the loaded object and its `serving_default` concrete function.
  """
  if not os.path.exists(path):
    raise errors.ConfigError(f"SavedModel not found: {path}")
  if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, "saved_model.pb")):
    kind = "a TFLite model" if is_tflite_file(path) else "not a SavedModel"
    raise errors.ConfigError(f"{path} is {kind}: expected a SavedModel directory "
                             "(export/<name>/<version>/ holding saved_model.pb)")
  try:
    loaded = tf.saved_model.load(path)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.ConfigError(f"{path}: cannot load the SavedModel: "
                             f"{str(e).strip().splitlines()[0] if str(e).strip() else e}"
                             ) from e
  if SIGNATURE not in loaded.signatures:
    raise errors.ConfigError(f"{path}: no {SIGNATURE!r} signature (has "
                             f"{sorted(loaded.signatures)})")
  return loaded, loaded.signatures[SIGNATURE]


def input_specs(signature):
  """dict name -> `tf.TensorSpec` of `signature`'s inputs (batch axis as exported)."""
  return {name: tf.TensorSpec(spec.shape, spec.dtype, name=name)
          for name, spec in signature.structured_input_signature[1].items()}


def batch_one_specs(signature):
  """The signature's input specs with the batch axis fixed to 1; other axes must be known."""
  specs = {}
  for name, spec in input_specs(signature).items():
    shape = [1] + spec.shape.as_list()[1:]
    if any(d is None for d in shape):
      raise errors.ConfigError(f"input {name!r} has unknown non-batch dimensions "
                               f"{spec.shape}: TFLite export needs a fixed size")
    specs[name] = tf.TensorSpec(shape, spec.dtype, name=name)
  return specs


def batch_one_function(signature):
  """A concrete function calling `signature` on batch-1 inputs (same input/output names)."""
  specs = batch_one_specs(signature)

  @tf.function
  def serve(**inputs):
    return signature(**inputs)

  return serve.get_concrete_function(**specs)


def is_tflite_file(path):
  """True if `path` is a file starting like a TFLite FlatBuffer."""
  if not os.path.isfile(path):
    return False
  with open(path, "rb") as f:
    head = f.read(8)
  return len(head) == 8 and head[4:8] == TFLITE_IDENTIFIER


def interpreter(path, num_threads=2):
  """A LiteRT interpreter for `path`; `errors.ConfigError` if it is not a TFLite model."""
  from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(path):
    raise errors.ConfigError(f"TFLite model not found: {path}")
  if not is_tflite_file(path):
    raise errors.ConfigError(f"{path} is not a TFLite model (no TFL3 FlatBuffer header)")
  try:
    return Interpreter(model_path=path, num_threads=num_threads)
  except (ValueError, RuntimeError) as e:
    raise errors.ConfigError(f"{path}: LiteRT cannot load it: "
                             f"{str(e).strip().splitlines()[0]}") from e


def signature_runner(path, num_threads=2):
  """(runner, input details) of the `serving_default` signature of a `.tflite` file.

  `runner(**{name: array})` -> dict name -> array; input details: dict name ->
  (shape tuple, numpy dtype).
  """
  interp = interpreter(path, num_threads)
  signatures = interp.get_signature_list()
  if SIGNATURE not in signatures:
    raise errors.ConfigError(f"{path}: no {SIGNATURE!r} signature (has {sorted(signatures)})")
  runner = interp.get_signature_runner(SIGNATURE)
  details = {name: (tuple(int(d) for d in info["shape"]), np.dtype(info["dtype"]))
             for name, info in runner.get_input_details().items()}
  return runner, details


# Inputs from the task's data --------------------------------------------------------------

def task_from_saved_model(path):
  """Rebuilds the task from `<path>/assets.extra/operative_config.gin`, or None."""
  config_path = os.path.join(path, export_lib.OPERATIVE_CONFIG_COPY)
  if not os.path.isfile(config_path):
    return None
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  import gin  # pylint: disable=g-import-not-at-top
  config.parse_operative(config_path)
  try:
    task = config.resolve("train.task")
  finally:
    gin.clear_config()
  if getattr(task, "manifest_dir", None):
    task.manifest_dir = None  # Read-only use: never write into the training directory.
  return task


def _to_uint8(images):
  return np.clip(np.round(np.asarray(images, np.float32) * 255.0), 0, 255).astype(np.uint8)


def serving_inputs_from_batch(batch, specs):
  """Maps a task batch (with target) to serving inputs, by the serving input names:

  - `image` + `mask` (inpainting): `image` = the whole target face, `mask` = white where
    the batch's visibility is 0;
  - `image` alone: the observation (super-resolution's low-resolution face).

  Returns:
    dict name -> uint8 array `[B, ...]`, or None if the batch does not fit `specs`.
  """
  names = set(specs)
  if names == {"image", "mask"} and keys.TARGET in batch and keys.CONTEXT in batch:
    from aign_tf.renderers import masking  # pylint: disable=g-import-not-at-top
    visibility = np.asarray(batch[keys.CONTEXT][masking.VISIBILITY], np.float32)
    out = {"image": _to_uint8(batch[keys.TARGET]),
           "mask": _to_uint8(1.0 - visibility)}
  elif names == {"image"}:
    out = {"image": _to_uint8(batch[keys.OBSERVATION])}
  else:
    return None
  for name, spec in specs.items():
    if list(out[name].shape[1:]) != spec.shape.as_list()[1:]:
      return None
  return out


def random_inputs(specs, count, seed):
  """`count` uniform random uint8 / float [0, 1) inputs for `specs` (batch axis replaced)."""
  rng = np.random.default_rng(seed)
  out = {}
  for name, spec in specs.items():
    shape = [count] + spec.shape.as_list()[1:]
    if spec.dtype == tf.uint8:
      out[name] = rng.integers(0, 256, shape, dtype=np.uint8)
    else:
      out[name] = rng.random(shape, dtype=np.float32).astype(spec.dtype.as_numpy_dtype)
  return out


def example_inputs(task, specs, split, count, seed=0):
  """`count` serving inputs (dict name -> array `[count, ...]`) from `task`'s `split`
  ("train" for calibration, "eval" for held-out verification), cycling when the split is
  smaller; random inputs with a warning when there is no task or its batches do not fit.

  Returns:
    (inputs, source): source is "task:<name>/<split>" or "random".
  """
  if task is not None:
    try:
      chunks, total = [], 0
      for batch in task.eval_dataset(batch_size=min(count, 16), split=split):
        mapped = serving_inputs_from_batch(batch, specs)
        if mapped is None:
          break
        chunks.append(mapped)
        total += len(next(iter(mapped.values())))
        if total >= count:
          break
      if chunks:
        merged = {k: np.concatenate([c[k] for c in chunks]) for k in specs}
        available = len(next(iter(merged.values())))
        index = np.arange(count) % available
        return {k: v[index] for k, v in merged.items()}, f"task:{task.name}/{split}"
    except errors.AIGNError as e:
      logging.warning("cannot read %s's %s split (%s)", task.name, split, e)
  logging.warning("no task data for the %s inputs: using uniform random inputs "
                  "(int8 calibration on random inputs is a poor fit for real images)", split)
  return random_inputs(specs, count, seed), "random"


# Conversion -------------------------------------------------------------------------------

def convert_to_bytes(loaded, signature, quantization, representative=None):
  """Converts `signature` (batch 1) to TFLite FlatBuffer bytes.

  Args:
    loaded: the loaded SavedModel (keeps the variables alive).
    signature: its `serving_default` concrete function.
    quantization: one of QUANTIZATIONS.
    representative: for int8, dict name -> array `[N, ...]` of calibration inputs.
  """
  if quantization not in QUANTIZATIONS:
    raise errors.ConfigError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, "
                             f"got {quantization!r}")
  function = batch_one_function(signature)
  converter = tf.lite.TFLiteConverter.from_concrete_functions([function], loaded)
  convert_fn = converter.convert
  if quantization == "float16":
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
  elif quantization == "int8":
    if not representative:
      raise errors.ConfigError("int8 quantization needs calibration inputs")
    count = len(next(iter(representative.values())))

    def dataset():
      for i in range(count):
        yield {k: v[i:i + 1] for k, v in representative.items()}

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    # Quantized comparisons stay float: an int8 LESS (the inpainting mask threshold) made
    # LiteRT 2.3 abort the process at invoke (measured here). The debugger is the public
    # way to denylist ops; it converts once more, so int8 takes about twice as long.
    def convert_fn():
      debugger = tf.lite.experimental.QuantizationDebugger(
          converter=converter, debug_dataset=dataset,
          debug_options=tf.lite.experimental.QuantizationDebugOptions(
              denylisted_ops=list(FLOAT_OPS)))
      return debugger.get_nondebug_quantized_model()
  try:
    with warnings.catch_warnings():
      # The converter calibrates with tf.lite.Interpreter internally; its deprecation
      # warning is not about our code (verification uses ai_edge_litert).
      warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
      return convert_fn()
  except Exception as e:  # pylint: disable=broad-except
    # The converter's message is an MLIR dump; its last "error:" line names the op.
    found = [line.split("error:", 1)[1].strip() for line in str(e).splitlines()
             if "error:" in line]
    reason = found[0] if found else (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise ConversionError(f"TFLite conversion ({quantization}) failed: {reason}") from e


def compare(signature, tflite_path, inputs, num_threads=2):
  """Runs `inputs` (dict name -> `[N, ...]`) one example at a time through the SavedModel
  signature and the `.tflite` in LiteRT.

  Returns:
    dict output name -> {"max_abs_diff", "psnr_db"} (PSNR with peak 1 for float outputs,
    255 for uint8 ones; on the values as returned).
  """
  runner, _ = signature_runner(tflite_path, num_threads)
  count = len(next(iter(inputs.values())))
  expected, actual = {}, {}
  for i in range(count):
    example = {k: v[i:i + 1] for k, v in inputs.items()}
    reference = signature(**{k: tf.constant(v) for k, v in example.items()})
    result = runner(**example)
    for name, value in reference.items():
      if name not in result:
        raise ConversionError(f"{tflite_path}: output {name!r} missing (has "
                              f"{sorted(result)})")
      expected.setdefault(name, []).append(value.numpy())
      actual.setdefault(name, []).append(np.asarray(result[name]))
  report = {}
  for name in expected:
    ref = np.concatenate(expected[name]).astype(np.float64)
    got = np.concatenate(actual[name]).astype(np.float64)
    peak = 255.0 if expected[name][0].dtype == np.uint8 else 1.0
    report[name] = {"max_abs_diff": float(np.max(np.abs(ref - got))),
                    "psnr_db": float(imaging.psnr(ref[None], got[None], peak, min_mse=0.0)[0])}
  return report


def default_output(saved_model, quantization):
  """`export/<name>/<version>` -> `export/<name>/<name>_<version>_<quantization>.tflite`."""
  path = os.path.normpath(os.path.abspath(saved_model))
  version = os.path.basename(path)
  base = os.path.dirname(path)
  return os.path.join(base, f"{os.path.basename(base)}_{version}_{quantization}.tflite")


def _json_number(x):
  return "inf" if isinstance(x, float) and math.isinf(x) else x


def convert(saved_model, quantization="none", output=None, num_calibration_samples=64,
            num_verification_samples=8, min_psnr=None, num_threads=2):
  """Converts, verifies and writes `output` (+ `output`.json). See the module docstring.

  Args:
    saved_model: an export version folder `export/<name>/<version>`.
    quantization: "none", "float16" or "int8".
    output: the `.tflite` path; default `default_output(saved_model, quantization)`.
    num_calibration_samples: int8 calibration examples (from the training inputs).
    num_verification_samples: held-out examples compared against the SavedModel.
    min_psnr: fail if the PSNR (dB) of `image_float` (else the first float output) is lower;
      default 40 for none/float16, 25 for int8.

  Returns:
    The report dict written to the JSON file.

  Raises:
    errors.ConfigError: bad paths or flags. ConversionError: verification failed (the
      output files are removed).
  """
  if quantization not in QUANTIZATIONS:
    raise errors.ConfigError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, "
                             f"got {quantization!r}")
  if num_calibration_samples < 1 or num_verification_samples < 1:
    raise errors.ConfigError("the numbers of calibration and verification samples must be "
                             ">= 1")
  if min_psnr is None:
    min_psnr = 25.0 if quantization == "int8" else 40.0
  loaded, signature = load_saved_model(saved_model)
  output = output or default_output(saved_model, quantization)
  if os.path.isdir(output):
    raise errors.ConfigError(f"--output {output} is a directory")
  specs = input_specs(signature)
  task = task_from_saved_model(saved_model)
  if task is None:
    logging.warning("%s has no %s: calibration and verification use random inputs",
                    saved_model, export_lib.OPERATIVE_CONFIG_COPY)
  calibration, calibration_source = (None, None)
  if quantization == "int8":
    calibration, calibration_source = example_inputs(task, specs, "train",
                                                     num_calibration_samples, seed=1)
  held_out, held_out_source = example_inputs(task, specs, "eval", num_verification_samples,
                                             seed=2)
  flatbuffer = convert_to_bytes(loaded, signature, quantization, calibration)
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  json_path = output + ".json"
  with open(output, "wb") as f:
    f.write(flatbuffer)
  try:
    outputs = compare(signature, output, held_out, num_threads)
    checked = CHECKED_OUTPUT if CHECKED_OUTPUT in outputs else next(
        (n for n in sorted(outputs) if not n.startswith("image")), sorted(outputs)[0])
    report = {
        "saved_model": os.path.abspath(saved_model), "tflite": os.path.abspath(output),
        "quantization": quantization, "size_bytes": len(flatbuffer),
        "inputs": {n: {"shape": [1] + s.shape.as_list()[1:], "dtype": s.dtype.name}
                   for n, s in specs.items()},
        "calibration": ({"source": calibration_source, "samples": num_calibration_samples}
                        if calibration is not None else None),
        "verification": {"source": held_out_source, "samples": num_verification_samples,
                         "runtime": "ai_edge_litert", "checked_output": checked,
                         "min_psnr_db": min_psnr},
        "outputs": {n: {k: _json_number(v) for k, v in r.items()}
                    for n, r in outputs.items()},
        "psnr_db": _json_number(outputs[checked]["psnr_db"]),
        "max_abs_diff": outputs[checked]["max_abs_diff"],
    }
    with open(json_path, "w") as f:
      json.dump(report, f, indent=2, sort_keys=True)
    if outputs[checked]["psnr_db"] < min_psnr:
      raise ConversionError(
          f"{quantization} conversion of {saved_model}: PSNR of {checked} "
          f"{outputs[checked]['psnr_db']:.2f} dB < --min_psnr {min_psnr} dB "
          f"(max abs diff {outputs[checked]['max_abs_diff']:.4g}); removed {output}")
  except BaseException:
    for path in (output, json_path):
      if os.path.exists(path):
        os.remove(path)
    raise
  return report


def format_report(report):
  """Human-readable lines of a `convert()` report."""
  lines = [f"wrote {report['tflite']} ({report['quantization']}, "
           f"{report['size_bytes'] / 1024:.1f} KiB)"]
  if report["calibration"]:
    lines.append(f"  calibrated on {report['calibration']['samples']} inputs from "
                 f"{report['calibration']['source']}")
  v = report["verification"]
  lines.append(f"  LiteRT vs SavedModel on {v['samples']} held-out inputs from {v['source']}:")
  for name, r in sorted(report["outputs"].items()):
    value = r["psnr_db"]
    shown = value if isinstance(value, str) else f"{value:.2f}"
    lines.append(f"    {name}: max abs diff {r['max_abs_diff']:.4g}, PSNR {shown} dB")
  lines.append(f"  report: {report['tflite']}.json")
  return "\n".join(lines)
