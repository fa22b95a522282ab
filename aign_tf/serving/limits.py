"""The limits the local server enforces on every request (REST and gRPC), and their checks.

Each limit is refused with a status that names it (`protocol.RequestError`; gRPC maps the
status to its code):

| limit | refused with |
|---|---|
| `max_body_bytes` (REST body, gRPC message) | 413 / RESOURCE_EXHAUSTED |
| `max_header_bytes` (request line + headers) | 431 |
| `max_batch_size` (examples per request) | 400 / INVALID_ARGUMENT |
| `max_response_bytes` (estimated from the outputs before they are encoded) | 400 / INVALID_ARGUMENT |
| `max_pixels_per_image`, `max_pixels_per_request` (encoded images, from their headers) | 400 / INVALID_ARGUMENT |
| `request_timeout_seconds` (from the complete request to the answer) | 504 / DEADLINE_EXCEEDED |
| `read_timeout_seconds` (headers, then body, each within it: slow clients) | 408, or the connection is closed |
| `idle_timeout_seconds` (keep-alive connection without a request) | the connection is closed |
| `num_request_threads` + `max_queued_requests` (requests in the thread pool) | 503 + `Retry-After` / UNAVAILABLE |
| `shutdown_grace_seconds` (SIGTERM/SIGINT: requests in flight may finish) | |

The batch limit bounds a response to `max_batch_size` times one example's outputs, but an
example's outputs can be large (faces_sr through `serving_bytes`: 128x128x3 twice, ~1.2 MB
of JSON, so 256 examples would be ~300 MB of JSON and several times that in Python
objects while encoding). `max_response_bytes` bounds it directly: the outputs' encoded size is
estimated from their dtypes and sizes before anything is encoded (JSON: 4 bytes per uint8,
24 per float, ...; gRPC: the tensors' bytes), and a larger answer is refused naming the
limit and the cheaper signature to use.

Images are measured from their headers (Pillow reads only the header when it opens a file),
so a decompression bomb (a small PNG that decodes to 16384x16384) is refused before
anything decodes it. Strings Pillow does not recognise as an image are left to the model.
"""

import dataclasses
import io
import re
import warnings

import numpy as np
from PIL import Image

from aign_tf.serving import protocol

# The pixel limits below are ours; Pillow's warning for large images would only be noise.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)


@dataclasses.dataclass(frozen=True)
class Limits:
  """Request limits (defaults are the `tools/serve.py` flag defaults)."""
  max_body_bytes: int = 4 << 20
  max_header_bytes: int = 16 << 10
  max_batch_size: int = 256
  max_response_bytes: int = 64 << 20
  max_pixels_per_image: int = 4096 * 4096
  max_pixels_per_request: int = 2 * 4096 * 4096
  request_timeout_seconds: float = 30.0
  read_timeout_seconds: float = 10.0
  idle_timeout_seconds: float = 30.0
  num_request_threads: int = 4
  max_queued_requests: int = 64
  shutdown_grace_seconds: float = 30.0


def image_pixels(data):
  """Pixels (width x height x frames) of an encoded image from its header; None when Pillow
  does not recognise `data` as an image."""
  try:
    with Image.open(io.BytesIO(data)) as image:
      width, height = image.size
      frames = getattr(image, "n_frames", 1) if image.format == "GIF" else 1
      return int(width) * int(height) * int(frames)
  except Image.DecompressionBombError as e:
    # Pillow refused the header's size itself; its message carries the count.
    found = re.search(r"\((\d+) pixels\)", str(e))
    return int(found.group(1)) if found else 1 << 62
  except Exception:  # pylint: disable=broad-except
    return None


def check_batch(size, limits):
  """Raises RequestError (400) when a request carries more than `max_batch_size` examples."""
  if size > limits.max_batch_size:
    raise protocol.RequestError(400, f"batch of {size} examples is over the limit of "
                                f"{limits.max_batch_size} per request (max_batch_size)")


def check_payload(request_format, payload, limits):
  """The batch limit on a parsed JSON payload, before anything is converted."""
  if request_format == "row" and isinstance(payload, list):
    check_batch(len(payload), limits)
  elif request_format == "columnar":
    values = payload.values() if isinstance(payload, dict) else [payload]
    for value in values:
      if isinstance(value, list):
        check_batch(len(value), limits)


def check_arrays(arrays, limits):
  """Checks validated input arrays (name -> NumPy) against the batch and pixel limits.

  Raises:
    protocol.RequestError: 400 naming the input and the limit.
  """
  for name, array in arrays.items():
    if array.ndim:
      check_batch(array.shape[0], limits)
  total = 0
  for name, array in sorted(arrays.items()):
    if array.dtype != object:
      continue
    for index, value in enumerate(array.reshape(-1)):
      if not isinstance(value, bytes):
        continue
      pixels = image_pixels(value)
      if pixels is None:
        continue
      if pixels > limits.max_pixels_per_image:
        raise protocol.RequestError(
            400, f"input {name!r}: image {index} has {_pixels(pixels)} pixels, over the "
            f"limit of {limits.max_pixels_per_image} per image (max_pixels_per_image)")
      total += pixels
      if total > limits.max_pixels_per_request:
        raise protocol.RequestError(
            400, f"input {name!r}: the images of this request have more than "
            f"{limits.max_pixels_per_request} pixels in all (max_pixels_per_request)")


# Upper bounds of one value's size in compact JSON (digits, sign, point, exponent, comma).
_JSON_BYTES = {"b": 6, "u": 21, "i": 21, "f": 25}
_JSON_BYTES_SMALL = {"uint8": 4, "int8": 5, "uint16": 6, "int16": 7}


def check_response(outputs, limits, encoding="json"):
  """Refuses outputs (name -> NumPy) whose encoded answer would exceed
  `max_response_bytes`, estimated without encoding them.

  Raises:
    protocol.RequestError: 400 naming the limit.
  """
  total = 0
  for array in outputs.values():
    array = np.asarray(array)
    if array.dtype == object:
      total += sum(len(v) if isinstance(v, bytes) else 16 for v in array.reshape(-1)) * (
          4 / 3 if encoding == "json" else 1) + 16 * array.size
    elif encoding == "json":
      total += array.size * _JSON_BYTES_SMALL.get(array.dtype.name,
                                                  _JSON_BYTES.get(array.dtype.kind, 25))
    else:
      total += array.nbytes
  if total > limits.max_response_bytes:
    raise protocol.RequestError(
        400, f"the response would be about {int(total)} bytes, over the limit of "
        f"{limits.max_response_bytes} (max_response_bytes): send fewer examples per request"
        " (or use a signature with smaller outputs, e.g. serving_png)")


def _pixels(count):
  return "too many" if count >= 1 << 62 else str(count)
