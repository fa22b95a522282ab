"""A client of TF Serving's REST API (works against `tools/serve.py` and real TF Serving:
it only uses the documented endpoints).

`Client` wraps status / metadata / predict; `predict_images` and `predict_keypoints` are the
two modes of `tools/predict.py` (PNG/JPEG files in -> PNG files out, through the model's
`serving_png` signature when it has one; a 2D keypoints JSON in -> a JSON of the model's
outputs).
"""

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from aign_tf import errors
from aign_tf.core import files

DTYPES = {"DT_HALF": "float16", "DT_FLOAT": "float32", "DT_DOUBLE": "float64",
          "DT_INT8": "int8", "DT_INT16": "int16", "DT_INT32": "int32", "DT_INT64": "int64",
          "DT_UINT8": "uint8", "DT_UINT16": "uint16", "DT_UINT32": "uint32",
          "DT_UINT64": "uint64", "DT_BOOL": "bool", "DT_STRING": "string"}


class ServingError(errors.AIGNError):
  """The server answered with an error status: `status` and the server's message."""

  def __init__(self, status, message):
    super().__init__(f"HTTP {status}: {message}")
    self.status = status
    self.message = message


def jsonable(value):
  if isinstance(value, (bytes, bytearray)):
    return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
  if isinstance(value, np.ndarray):
    if value.dtype == object or value.dtype.kind == "S":
      return [jsonable(v) for v in value.tolist()] if value.ndim else jsonable(value.item())
    return value.tolist()
  if isinstance(value, dict):
    return {k: jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [jsonable(v) for v in value]
  if isinstance(value, np.generic):
    return value.item()
  return value


class Client:
  """REST client for one server, e.g. `Client("http://127.0.0.1:8501")`."""

  def __init__(self, server="http://127.0.0.1:8501", timeout=60.0):
    if not server.startswith(("http://", "https://")):
      server = "http://" + server
    self.server = server.rstrip("/")
    self.timeout = timeout

  def _url(self, model, version=None, label=None):
    url = f"{self.server}/v1/models/{urllib.parse.quote(model, safe='')}"
    if version is not None:
      url += f"/versions/{int(version)}"
    elif label is not None:
      url += f"/labels/{urllib.parse.quote(label, safe='')}"
    return url

  def _call(self, url, body=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"} if data is not None else {})
    try:
      with urllib.request.urlopen(request, timeout=self.timeout) as response:
        return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
      text = e.read().decode("utf-8", "replace")
      try:
        message = json.loads(text).get("error", text)
      except ValueError:
        message = text.strip()[:300] or e.reason
      raise ServingError(e.code, message) from None
    except urllib.error.URLError as e:
      raise ServingError(0, f"cannot reach {self.server}: {e.reason}") from None

  def status(self, model, version=None, label=None):
    """`{"model_version_status": [...]}`."""
    return self._call(self._url(model, version, label))

  def metadata(self, model, version=None, label=None):
    """`{"model_spec": ..., "metadata": {"signature_def": {"signature_def": {...}}}}`."""
    return self._call(self._url(model, version, label) + "/metadata")

  def signatures(self, model, version=None):
    """dict signature name -> {"inputs": {name: (dtype, shape)}, "outputs": {...}} with
    shapes as lists (None for any size), read from the metadata endpoint."""
    defs = self.metadata(model, version)["metadata"]["signature_def"]["signature_def"]

    def tensors(infos):
      out = {}
      for name, info in (infos or {}).items():
        dims = info.get("tensor_shape", {}).get("dim", [])
        shape = [None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in dims]
        out[name] = (DTYPES.get(info.get("dtype"), info.get("dtype")), shape)
      return out

    return {name: {"inputs": tensors(d.get("inputs")), "outputs": tensors(d.get("outputs"))}
            for name, d in defs.items()}

  def predict(self, model, inputs=None, instances=None, signature_name=None, version=None,
              label=None):
    """Sends a predict request in columnar (`inputs`) or row (`instances`) format.

    NumPy arrays become lists, bytes become `{"b64": ...}`. Returns the response's
    "outputs" (columnar) or "predictions" (row).

    Raises:
      ServingError: the server's status and error message.
    """
    if (inputs is None) == (instances is None):
      raise ValueError("pass exactly one of inputs= or instances=")
    body = {"inputs": jsonable(inputs)} if inputs is not None else {
        "instances": jsonable(instances)}
    if signature_name:
      body["signature_name"] = signature_name
    result = self._call(self._url(model, version, label) + ":predict", body)
    return result["outputs"] if inputs is not None else result["predictions"]


def _outputs_by_name(outputs, signature):
  names = sorted(signature["outputs"])
  if len(names) == 1 and not (isinstance(outputs, dict) and set(outputs) == set(names)):
    return {names[0]: outputs}
  return outputs


def _write_png(path, array):
  import io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  array = np.asarray(array)
  if array.ndim == 3 and array.shape[-1] == 1:
    array = array[..., 0]
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="PNG")
  files.atomic_write(path, buffer.getvalue())


def _as_picture(array, dtype):
  """A per-example output as a uint8 picture `[H, W(, C)]`, or None if it is not one."""
  array = np.asarray(array)
  if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
    return None
  if array.shape[0] < 2 or array.shape[1] < 2:
    return None
  if dtype == "uint8":
    return array.astype(np.uint8)
  if array.dtype.kind not in "iuf":
    return None
  # Float maps (depth, masks) are min-max scaled for viewing; the values go to .npy.
  finite = np.where(np.isfinite(array), array, 0.0).astype(np.float64)
  low, high = finite.min(), finite.max()
  return np.uint8(np.round(255 * (finite - low) / (high - low if high > low else 1.0)))


SERVING_PNG = "serving_png"
PNG_SUFFIX = "_png_bytes"  # serving_png's output names: `<output>_png_bytes`.


def predict_images(client, model, image_paths, output_dir, version=None, extra_inputs=None,
                   png_outputs=True, failures=None):
  """Sends encoded images to the model, one request per image, and writes its outputs.

  With `png_outputs` and a model that has a `serving_png` signature (uint8 picture outputs
  PNG-encoded by the model: a few KB of base64 per response instead of JSON numbers), the
  PNGs it returns are written as they are, `<stem>_<output>.png`; the outputs that
  signature drops (float copies, depth maps, ...) are not written. Otherwise
  `serving_bytes` is used: `<stem>_<output>.png` for each picture-shaped output (uint8 as
  is, float outputs min-max scaled, with the raw values in `<stem>_<output>.npy`) and
  `<stem>.json` with every other output. Every file is written atomically.

  Args:
    extra_inputs: values for the signature's non-image inputs (e.g. intrinsics), dict
      name -> per-example value.
    png_outputs: use `serving_png` when the model has it.
    failures: optional list; when given, an image that cannot be read or that the server
      refuses is appended as (path, one-line message) and the others still go, instead of
      raising (a server that cannot be reached still raises).

  Returns:
    list of written paths.

  Raises:
    errors.ConfigError: the model has no `serving_bytes` signature, or needs inputs that are
      neither images nor in `extra_inputs`.
    errors.DataError: an unreadable or empty image file (without `failures`).
    ServingError: the server refused a request.
  """
  signatures = client.signatures(model, version)
  if "serving_bytes" not in signatures:
    raise errors.ConfigError(f"model {model!r} has no serving_bytes signature (not an "
                             f"image model); its signatures: {sorted(signatures)}")
  signature_name = (SERVING_PNG if png_outputs and SERVING_PNG in signatures
                    else "serving_bytes")
  signature = signatures[signature_name]
  extra_inputs = dict(extra_inputs or {})
  image_names = [n for n, (dtype, _) in signature["inputs"].items()
                 if dtype == "string" and n not in extra_inputs]
  missing = [n for n in signature["inputs"] if n not in image_names and n not in extra_inputs]
  if missing:
    raise errors.ConfigError(f"model {model!r} also needs input(s) {missing}: pass them with "
                             "--extra_inputs as JSON")
  if len(image_names) != 1:
    raise errors.ConfigError(f"model {model!r} takes {len(image_names)} images per example "
                             f"({image_names}); this mode sends one")
  os.makedirs(output_dir, exist_ok=True)
  written = []
  for path in image_paths:
    try:
      written.extend(_predict_image(client, model, path, output_dir, version, extra_inputs,
                                    signature_name, signature, image_names[0]))
    except (errors.DataError, ServingError) as e:
      if failures is None or (isinstance(e, ServingError) and e.status == 0):
        raise
      message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
      failures.append((path, message if message.startswith(path) else f"{path}: {message}"))
  return written


def _predict_image(client, model, path, output_dir, version, extra_inputs, signature_name,
                   signature, image_name):
  """One image of `predict_images`; returns the paths written."""
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise errors.DataError(f"{path}: cannot read ({e.strerror})") from None
  if not data:
    raise errors.DataError(f"{path}: empty file, not an image")
  instance = {image_name: data, **extra_inputs}
  outputs = client.predict(model, instances=[instance], signature_name=signature_name,
                           version=version)[0]
  outputs = _outputs_by_name(outputs, signature)
  stem = os.path.join(output_dir, os.path.splitext(os.path.basename(path))[0])
  written = []
  if signature_name == SERVING_PNG:
    for name, value in sorted(outputs.items()):
      if not (name.endswith(PNG_SUFFIX) and isinstance(value, dict) and "b64" in value):
        raise ServingError(200, f"{SERVING_PNG} output {name!r} is not a base64 PNG "
                           "({\"b64\": ...})")
      target = f"{stem}_{name[:-len(PNG_SUFFIX)]}.png"
      files.atomic_write(target, base64.b64decode(value["b64"]))
      written.append(target)
    return written
  others = {}
  for name, value in sorted(outputs.items()):
    dtype = signature["outputs"].get(name, ("float32", None))[0]
    picture = _as_picture(value, dtype)
    if picture is None:
      others[name] = value
      continue
    _write_png(f"{stem}_{name}.png", picture)
    written.append(f"{stem}_{name}.png")
    if dtype != "uint8":
      import io  # pylint: disable=g-import-not-at-top
      buffer = io.BytesIO()
      np.save(buffer, np.asarray(value, np.float32))
      files.atomic_write(f"{stem}_{name}.npy", buffer.getvalue())
      written.append(f"{stem}_{name}.npy")
  if others:
    files.atomic_write(f"{stem}.json", json.dumps(others, indent=1))
    written.append(f"{stem}.json")
  return written


def predict_keypoints(client, model, keypoints, output_path, version=None,
                      signature_name="serving_default", to_json=None, batch_size=256):
  """Sends a keypoints dict (as `aign_tf.data.mocap.keypoints2d.read_keypoints` returns:
  `keypoints_2d` `[N, J, 2]`, ...) to the model in requests of `batch_size` examples; the
  inputs the signature takes are picked from it by name. Writes the outputs as JSON to
  `output_path` (atomically: all or nothing) and returns them as arrays `[N, ...]`.

  Args:
    to_json: optional function outputs -> the JSON document to write (e.g. the outputs
      regrouped per image by `keypoints2d.predictions_to_json`); default: the outputs.
    batch_size: examples per request (a long clip would exceed a server's request limit).
  """
  signatures = client.signatures(model, version)
  if signature_name not in signatures:
    raise errors.ConfigError(f"model {model!r} has no signature {signature_name!r}")
  wanted = signatures[signature_name]["inputs"]
  missing = [n for n in wanted if n not in keypoints]
  if missing:
    raise errors.ConfigError(f"model {model!r} needs input(s) {missing}, which the "
                             f"keypoints file does not give (it has {sorted(keypoints)})")
  inputs = {n: np.asarray(keypoints[n]) for n in wanted}
  count = len(next(iter(inputs.values()))) if inputs else 0
  parts = []
  for start in range(0, max(count, 1), batch_size):
    outputs = client.predict(model, inputs={n: v[start:start + batch_size]
                                            for n, v in inputs.items()},
                             signature_name=signature_name, version=version)
    parts.append(_outputs_by_name(outputs, signatures[signature_name]))
  outputs = {name: np.concatenate([np.asarray(p[name]) for p in parts])
             for name in parts[0]}
  document = to_json(outputs) if to_json else jsonable(outputs)
  try:
    text = json.dumps(document, indent=1, allow_nan=False)
  except ValueError:
    raise errors.DataError(f"model {model!r} returned non-finite values; {output_path} not "
                           "written") from None
  files.atomic_write(output_path, text)
  return outputs
