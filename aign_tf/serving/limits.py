"""The limits the local server enforces on every request (REST and gRPC), and their checks.

Each limit is refused with a status that names it (`protocol.RequestError`; gRPC maps the
status to its code):

| limit | refused with |
|---|---|
| `max_body_bytes` (REST body, gRPC message) | 413 / RESOURCE_EXHAUSTED |
| `max_header_bytes` (request line + headers) | 431 |
| `max_batch_size` (examples per request) | 400 / INVALID_ARGUMENT |
| `max_pixels_per_image`, `max_pixels_per_request` (encoded images, from their headers) | 400 / INVALID_ARGUMENT |
| `request_timeout_seconds` (from the complete request to the answer) | 504 / DEADLINE_EXCEEDED |
| `read_timeout_seconds` (headers, then body, each within it: slow clients) | 408, or the connection is closed |
| `idle_timeout_seconds` (keep-alive connection without a request) | the connection is closed |
| `num_request_threads` + `max_queued_requests` (requests in the thread pool) | 503 + `Retry-After` / UNAVAILABLE |
| `shutdown_grace_seconds` (SIGTERM/SIGINT: requests in flight may finish) | |

The response is bounded by the batch limit: at most `max_batch_size` times one example's
outputs (faces_sr through `serving_bytes`: ~1.2 MB of JSON per example).

Images are measured from their headers (Pillow reads only the header when it opens a file),
so a decompression bomb (a small PNG that decodes to 16384x16384) is refused before
anything decodes it. Strings Pillow does not recognise as an image are left to the model.
"""

import dataclasses
import io
import re
import warnings

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


def _pixels(count):
  return "too many" if count >= 1 << 62 else str(count)
