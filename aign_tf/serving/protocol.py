"""TF Serving's REST API without TensorFlow: URLs, JSON request bodies -> validated NumPy
arrays, NumPy outputs -> JSON responses.

Follows TF Serving's documented formats:

- `POST /v1/models/{name}[/versions/{v} | /labels/{l}]:predict` with `signature_name`
  (default `serving_default`) and exactly one of `instances` (row format: a list of
  examples, each a value if the signature has one input, else an object name -> value) or
  `inputs` (columnar format: name -> batched value, or the value itself for one input).
- Strings are UTF-8 JSON strings or `{"b64": "..."}` for binary data (images).
- Responses: `{"predictions": [...]}` for row requests (a list of values for one output,
  else a list of objects), `{"outputs": ...}` for columnar ones (the value for one output,
  else an object). String outputs whose name ends in `_bytes` are returned as `{"b64": ...}`.
- Errors: an HTTP status and `{"error": "..."}`; `RequestError` carries both.

Every check names the input and what was expected, so a client can fix its request.
"""

import base64
import binascii
import dataclasses
import json
import re
import urllib.parse

import numpy as np

DEFAULT_SIGNATURE = "serving_default"

# TF Serving's URL grammar (model names as in model_config.valid_model_name).
_URL = re.compile(r"^/v1/models/(?P<name>[^/:]+)"
                  r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                  r"(?:(?P<metadata>/metadata)|:(?P<verb>[A-Za-z]+))?/?$")

DTYPE_NAMES = {"float16": "DT_HALF", "float32": "DT_FLOAT", "float64": "DT_DOUBLE",
               "int8": "DT_INT8", "int16": "DT_INT16", "int32": "DT_INT32",
               "int64": "DT_INT64", "uint8": "DT_UINT8", "uint16": "DT_UINT16",
               "uint32": "DT_UINT32", "uint64": "DT_UINT64", "bool": "DT_BOOL",
               "string": "DT_STRING"}


class RequestError(Exception):
  """A request the server refuses: `status` (HTTP code) and a one-line message."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status = status
    self.message = message


@dataclasses.dataclass(frozen=True)
class Spec:
  """A signature input or output: dtype name (NumPy's, or "string") and shape (None =
  any size)."""
  dtype: str
  shape: tuple

  def describe(self):
    dims = ", ".join("?" if d is None else str(d) for d in self.shape)
    return f"{self.dtype} [{dims}]"


@dataclasses.dataclass(frozen=True)
class Route:
  """A parsed URL: `kind` is "status", "metadata" or "predict"."""
  name: str
  kind: str
  version: int = None
  label: str = None


def parse_url(path, method):
  """Parses a request path into a `Route`.

  Raises:
    RequestError: 404 for paths outside the API, 400 for bad names or versions, 405 for a
      method the path does not take.
  """
  path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
  match = _URL.match(path)
  if not match:
    raise RequestError(404, "not found: the API is GET /v1/models/{name}[/versions/{v}]"
                       "[/metadata] and POST /v1/models/{name}[/versions/{v}]:predict")
  name, version, label = match.group("name", "version", "label")
  if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name) or ".." in name:
    raise RequestError(400, "invalid model name (letters, digits, '_', '.', '-'; "
                       "no '/' or '..')")
  if version is not None:
    if not re.match(r"^[0-9]{1,18}$", version):
      raise RequestError(400, f"invalid version {version[:40]!r}: must be an integer")
    version = int(version)
  if label is not None and not re.match(r"^[A-Za-z0-9_.-]{1,64}$", label):
    raise RequestError(400, "invalid version label")
  verb = match.group("verb")
  if verb is not None:
    if verb != "predict":
      raise RequestError(404 if verb not in ("classify", "regress") else 501,
                         f"unsupported method :{verb[:20]} (this server implements :predict)")
    kind = "predict"
  else:
    kind = "metadata" if match.group("metadata") else "status"
  if (kind == "predict") != (method == "POST"):
    raise RequestError(405, f"{method} is not allowed here: "
                       + ("use POST for :predict" if kind == "predict" else "use GET"))
  return Route(name=name, kind=kind, version=version, label=label)


def parse_body(body):
  """Decodes a predict body: returns (signature_name, "row" | "columnar", payload).

  Raises:
    RequestError: 400 for malformed JSON, a body that is not an object, a bad
      `signature_name`, or not exactly one of `instances` / `inputs`.
  """
  try:
    request = json.loads(body.decode("utf-8"))
  except UnicodeDecodeError as e:
    raise RequestError(400, f"malformed request: body is not UTF-8 ({e.reason} at byte "
                       f"{e.start})") from None
  except RecursionError:
    raise RequestError(400, "malformed JSON: nested too deeply") from None
  except ValueError as e:
    raise RequestError(400, f"malformed JSON: {e}") from None
  if not isinstance(request, dict):
    raise RequestError(400, "malformed request: the body must be a JSON object with "
                       "\"instances\" or \"inputs\"")
  signature = request.get("signature_name", DEFAULT_SIGNATURE)
  if not isinstance(signature, str):
    raise RequestError(400, "\"signature_name\" must be a string")
  has_rows, has_columns = "instances" in request, "inputs" in request
  if has_rows == has_columns:
    raise RequestError(400, "the request must have exactly one of \"instances\" (row "
                       "format) or \"inputs\" (columnar format), "
                       + ("not both" if has_rows else "it has neither"))
  if has_rows:
    return signature or DEFAULT_SIGNATURE, "row", request["instances"]
  return signature or DEFAULT_SIGNATURE, "columnar", request["inputs"]


def _strings(value, where, depth=0):
  """Nested lists of str / {"b64": str} -> nested lists of bytes."""
  if isinstance(value, str):
    return value.encode("utf-8")
  if isinstance(value, dict):
    if set(value) != {"b64"} or not isinstance(value["b64"], str):
      raise RequestError(400, f"{where}: a binary string must be {{\"b64\": \"...\"}}")
    try:
      return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
      raise RequestError(400, f"{where}: invalid base64 in \"b64\"") from None
  if isinstance(value, list) and depth < 32:
    return [_strings(v, where, depth + 1) for v in value]
  raise RequestError(400, f"{where}: expected strings (or {{\"b64\": ...}}), got "
                     f"{type(value).__name__}")


def _shape_of(value, where):
  """Shape of a rectangular nested list whose leaves are not lists."""
  shape = []
  while isinstance(value, list):
    shape.append(len(value))
    if not value:
      break
    value = value[0]
  return tuple(shape)


def _check_rectangular(value, shape, where):
  if not shape:
    if isinstance(value, list):
      raise RequestError(400, f"{where}: not a rectangular array (ragged nesting)")
    return
  if not isinstance(value, list) or len(value) != shape[0]:
    raise RequestError(400, f"{where}: not a rectangular array (ragged nesting)")
  for item in value:
    _check_rectangular(item, shape[1:], where)


def _flatten(value, depth):
  """The leaves of a rectangular nested list `depth` levels deep, in row-major order."""
  for _ in range(depth):
    value = [x for row in value for x in row]
  return value


def _has_bool(value):
  """Whether a nested list holds a JSON boolean anywhere (Python's bool is an int)."""
  stack = [value]
  while stack:
    item = stack.pop()
    if isinstance(item, list):
      stack.extend(item)
    elif isinstance(item, bool):
      return True
  return False


def _describe_shape(shape):
  return "[" + ", ".join(str(s) for s in shape) + "]"


def to_array(value, spec, where):
  """A JSON value -> NumPy array of `spec.dtype` (shape not checked here).

  As in TF Serving, JSON booleans are only valid for DT_BOOL inputs, and every input needs
  at least one value.

  Raises:
    RequestError: 400 for non-rectangular or empty arrays, wrong element types (strings for
      numbers, booleans for numbers, fractions for integers, ...), integers out of the
      dtype's range, bad base64.
  """
  if spec.dtype == "string":
    data = _strings(value, where)
    shape = _shape_of(data, where)
    _check_rectangular(data, shape, where)
    if 0 in shape:
      raise RequestError(400, f"{where}: empty (shape {_describe_shape(shape)}): send at "
                         "least one string")
    array = np.empty(shape, dtype=object)
    array.reshape(-1)[:] = _flatten(data, len(shape) - 1) if shape else [data]
    return array
  try:
    array = np.array(value)
  except (ValueError, TypeError, OverflowError, RecursionError):
    raise RequestError(400, f"{where}: not a rectangular array of numbers") from None
  kind = array.dtype.kind
  if array.size == 0:
    raise RequestError(400, f"{where}: empty (shape {_describe_shape(array.shape)}): send "
                       "at least one value")
  if spec.dtype == "bool":
    if kind != "b":
      raise RequestError(400, f"{where}: expected booleans (true/false)")
    return array.astype(bool)
  if kind == "O":
    raise RequestError(400, f"{where}: not a rectangular array of numbers (ragged, null, "
                       "objects or integers too large)")
  if kind == "b" or (kind in "iuf" and _has_bool(value)):
    raise RequestError(400, f"{where}: expected numbers ({spec.dtype}), got booleans "
                       "(true/false are only valid for DT_BOOL inputs)")
  if kind in "US":
    raise RequestError(400, f"{where}: expected numbers ({spec.dtype}), got strings")
  target = np.dtype(spec.dtype)
  if target.kind in "iu":
    if kind == "f":
      if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
        raise RequestError(400, f"{where}: expected integers ({spec.dtype}), got fractions "
                           "or non-finite numbers")
    info = np.iinfo(target)
    low, high = array.min(), array.max()
    if low < info.min or high > info.max:
      raise RequestError(400, f"{where}: values must be in [{info.min}, {info.max}] for "
                         f"{spec.dtype}, got [{low}, {high}]")
    return array.astype(target)
  with np.errstate(over="ignore", invalid="ignore"):
    return array.astype(target)


def check_shape(array, spec, where):
  """Raises RequestError (400) unless `array`'s shape matches `spec.shape`."""
  shape = array.shape
  if len(shape) != len(spec.shape) or any(
      d is not None and d != s for d, s in zip(spec.shape, shape)):
    got = "[" + ", ".join(str(s) for s in shape) + "]"
    raise RequestError(400, f"{where}: wrong shape {got}, the signature takes "
                       f"{spec.describe()}")


def _named(payload, inputs, where):
  """An object name -> value, or for a single input the bare value."""
  names = sorted(inputs)
  single = len(names) == 1
  if isinstance(payload, dict) and not (single and set(payload) == {"b64"}
                                        and names[0] != "b64"):
    missing = [n for n in names if n not in payload]
    unknown = sorted(k for k in payload if k not in inputs)
    if unknown:
      raise RequestError(400, f"{where}: unknown input {unknown[0][:64]!r} (the signature "
                         f"takes {', '.join(repr(n) for n in names)})")
    if missing:
      raise RequestError(400, f"{where}: missing input {missing[0]!r} (the signature takes "
                         f"{', '.join(repr(n) for n in names)})")
    return payload
  if single:
    return {names[0]: payload}
  raise RequestError(400, f"{where}: the signature has several inputs "
                     f"({', '.join(repr(n) for n in names)}): send an object name -> value")


def request_arrays(request_format, payload, inputs):
  """Converts `instances` / `inputs` to a dict name -> NumPy array, validated against the
  signature's `inputs` (name -> Spec): names, dtypes, ranks and fixed dimensions.

  Raises:
    RequestError: 400 naming the input and the problem.
  """
  if not inputs:
    if request_format == "columnar" and payload in ({}, None, []):
      return {}
    raise RequestError(400, "this signature takes no inputs: send \"inputs\": {}")
  if request_format == "row":
    if not isinstance(payload, list) or not payload:
      raise RequestError(400, "\"instances\" must be a non-empty list of examples")
    rows = [_named(item, inputs, f"instance {i}") for i, item in enumerate(payload)]
    arrays = {}
    for name, spec in inputs.items():
      array = to_array([row[name] for row in rows], spec, f"input {name!r}")
      check_shape(array, spec, f"input {name!r}")
      arrays[name] = array
    return arrays
  named = _named(payload, inputs, "\"inputs\"")
  arrays = {}
  for name, spec in inputs.items():
    array = to_array(named[name], spec, f"input {name!r}")
    check_shape(array, spec, f"input {name!r}")
    arrays[name] = array
  return arrays


def _jsonable(name, array):
  if array.dtype == object or array.dtype.kind in "SU":
    encode = ((lambda b: {"b64": base64.b64encode(b).decode("ascii")})
              if name.endswith("_bytes") else
              (lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)))
    if array.ndim == 0:
      return encode(array.item())
    return np.vectorize(encode, otypes=[object])(array).tolist()
  return array.tolist()


def response(request_format, outputs):
  """Output arrays (name -> NumPy) -> the response object for `request_format`.

  Raises:
    RequestError: 400 for a row request whose outputs share no batch axis.
  """
  names = sorted(outputs)
  if request_format == "columnar":
    if len(names) == 1:
      return {"outputs": _jsonable(names[0], outputs[names[0]])}
    return {"outputs": {n: _jsonable(n, outputs[n]) for n in names}}
  sizes = {outputs[n].shape[0] if outputs[n].ndim else None for n in names}
  if len(sizes) != 1 or None in sizes:
    raise RequestError(400, "the signature's outputs have no common batch axis: use the "
                       "columnar format (\"inputs\")")
  columns = [_jsonable(n, outputs[n]) for n in names]
  if len(names) == 1:
    return {"predictions": columns[0]}
  return {"predictions": [dict(zip(names, row)) for row in zip(*columns)]}


def dumps(obj):
  """Compact JSON (NaN and Infinity written as JavaScript literals, as TF Serving does)."""
  return json.dumps(obj, separators=(",", ":")).encode("utf-8")
