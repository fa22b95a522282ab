"""Pinhole intrinsics (fx, fy, cx, cy in pixels) for 2D keypoints: given, read, or assumed.

Where they come from, in order of preference (`resolve`):
  1. given values (`--intrinsics`): "fx,fy,cx,cy", {"fx", "fy", "cx", "cy"}, {"K": 3x3};
  2. the image size given by the user (`--image` reads it from the photo's header,
     `--image_size=WxH`) with an assumed horizontal field of view:
     fx = fy = W / (2 tan(fov / 2)), principal point at the centre;
  3. the keypoints file's own "intrinsics" field;
  4. an image size the file states (VideoPose3D's `video_metadata`), as in 2.

The default field of view, `DEFAULT_FOV_DEGREES` = 2 atan(1/2) = 53.13 degrees, is the one for
which the focal length equals the image width (fx = W). It sits between the cameras the
lifting literature trains on (Human3.6M: fx ~ 1145 px at 1000 px width, ~47 degrees;
VideoPose3D's in-the-wild inference maps [0, W] to [-1, 1] and feeds that to a network trained
on those cameras, i.e. it assumes about their field of view relative to the width) and
phone main cameras (~65-70 degrees). What it changes: with fx = fy the model's input after
its root-centring and scale normalisation does not depend on the focal length at all, so the
root-relative `joints_3d` are the same for any assumed field of view; `root_depth` and
`camera_translation` scale linearly with fx (10% too long a focal length = 10% too far).
"""

import math
import os

import numpy as np

from aign_tf import errors

DEFAULT_FOV_DEGREES = math.degrees(2.0 * math.atan(0.5))  # fx = image width.
# A principal point more than this fraction of the image size outside the image is refused.
MAX_PRINCIPAL_OFFSET = 0.5


def _number(value, where, name):
  if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
    raise errors.DataError(f"{where}: {name} must be a number, got {value!r}")
  return float(value)


def parse_intrinsics(value, where="intrinsics"):
  """Parses intrinsics given in any accepted form.

  Args:
    value: "fx,fy,cx,cy", (fx, fy, cx, cy), {"fx", "fy", "cx", "cy"}, {"K": 3x3} or 3x3.
    where: the file and field (or flag) for error messages.

  Returns:
    (fx, fy, cx, cy) floats with finite values and fx, fy > 0.

  Raises:
    errors.DataError: a missing or non-numeric value, a wrong shape, a non-positive focal
      length (one line naming `where`).
  """
  if isinstance(value, str):
    parts = [p.strip() for p in value.split(",")]
    try:
      value = [float(p) for p in parts]
    except ValueError:
      raise errors.DataError(f"{where}: expected fx,fy,cx,cy (4 numbers in pixels), got "
                             f"{','.join(parts)!r}") from None
    if len(value) != 4:
      raise errors.DataError(f"{where}: expected fx,fy,cx,cy (4 numbers), got {len(value)}")
  if isinstance(value, dict) and "K" in value:
    value = value["K"]
  if isinstance(value, dict):
    missing = [k for k in ("fx", "fy", "cx", "cy") if k not in value]
    if missing:
      raise errors.DataError(f"{where}: missing field {missing[0]!r} (need fx, fy, cx, cy "
                             "or K)")
    fx, fy, cx, cy = (_number(value[k], where, k) for k in ("fx", "fy", "cx", "cy"))
  elif isinstance(value, (list, tuple)) and len(value) == 4 and not any(
      isinstance(v, (list, tuple)) for v in value):
    fx, fy, cx, cy = (_number(v, where, k) for v, k in zip(value, ("fx", "fy", "cx", "cy")))
  else:
    if not (isinstance(value, (list, tuple)) and len(value) == 3 and all(
        isinstance(row, (list, tuple)) and len(row) == 3 for row in value)):
      raise errors.DataError(f"{where}: K must be a 3x3 matrix, or give fx, fy, cx, cy")
    k = [[_number(v, where, "K") for v in row] for row in value]
    fx, fy, cx, cy = k[0][0], k[1][1], k[0][2], k[1][2]
  if not all(math.isfinite(v) for v in (fx, fy, cx, cy)):
    raise errors.DataError(f"{where}: fx, fy, cx, cy must be finite, got {(fx, fy, cx, cy)}")
  if fx <= 0 or fy <= 0:
    raise errors.DataError(f"{where}: focal lengths must be positive, got fx={fx:g}, "
                           f"fy={fy:g}")
  return fx, fy, cx, cy


def parse_image_size(value, where="image_size"):
  """"WxH" (or (W, H)) -> (width, height) positive ints."""
  if isinstance(value, str):
    parts = value.lower().replace("*", "x").split("x")
    try:
      value = tuple(int(p) for p in parts)
    except ValueError:
      raise errors.DataError(f"{where}: expected WxH in pixels (e.g. 640x480), got "
                             f"{'x'.join(parts)!r}") from None
  if len(value) != 2 or any(isinstance(v, bool) for v in value):
    raise errors.DataError(f"{where}: expected WxH in pixels (e.g. 640x480), got {value!r}")
  width, height = (int(v) for v in value)
  if width <= 0 or height <= 0 or width != value[0] or height != value[1]:
    raise errors.DataError(f"{where}: width and height must be positive integers, got "
                           f"{value[0]}x{value[1]}")
  return width, height


def image_size_of(path):
  """(width, height) of an image file, read from its header.

  Raises:
    errors.DataError: missing, empty or undecodable file (named).
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from PIL import UnidentifiedImageError  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: no such image file (--image)")
  if os.path.getsize(path) == 0:
    raise errors.DataError(f"{path}: empty file, not an image (--image)")
  try:
    with Image.open(path) as image:
      return parse_image_size(image.size, f"{path}: image size")
  except (UnidentifiedImageError, OSError) as e:
    raise errors.DataError(f"{path}: cannot read the image size ({e})") from None


def from_image_size(width, height, fov_degrees=None):
  """Intrinsics of a `width` x `height` image with horizontal field of view `fov_degrees`
  (default `DEFAULT_FOV_DEGREES`, i.e. fx = width), square pixels, centred principal point.

  Returns:
    (fx, fy, cx, cy).
  """
  fov = DEFAULT_FOV_DEGREES if fov_degrees is None else float(fov_degrees)
  if not 1.0 <= fov <= 179.0:
    raise errors.DataError(f"fov_degrees: a horizontal field of view must be in [1, 179] "
                           f"degrees, got {fov:g}")
  focal = width / (2.0 * math.tan(math.radians(fov) / 2.0))
  return focal, focal, width / 2.0, height / 2.0


def check_against_image(intrinsics, image_size, where):
  """Refuses a principal point far outside the image (more than `MAX_PRINCIPAL_OFFSET` of
  its size beyond an edge): such intrinsics belong to another image or are in other units.
  """
  _, _, cx, cy = intrinsics
  width, height = image_size
  margin_x, margin_y = MAX_PRINCIPAL_OFFSET * width, MAX_PRINCIPAL_OFFSET * height
  if not (-margin_x <= cx <= width + margin_x and -margin_y <= cy <= height + margin_y):
    raise errors.DataError(f"{where}: principal point ({cx:g}, {cy:g}) is far outside the "
                           f"{width}x{height} image")


def describe(intrinsics, source, image_size=None):
  """A JSON-ready record of the intrinsics, where they came from and the image size (when
  known)."""
  fx, fy, cx, cy = intrinsics
  record = {"fx": round(fx, 6), "fy": round(fy, 6), "cx": round(cx, 6), "cy": round(cy, 6),
            "from": source}
  if image_size is not None:
    record["image_size"] = [int(image_size[0]), int(image_size[1])]
  return record


def resolve(path, intrinsics=None, image=None, image_size=None, fov_degrees=None,
            file_intrinsics=None, file_image_size=None):
  """Picks the intrinsics for the keypoints file `path` (module doc for the order).

  Args:
    path: the keypoints file (for messages).
    intrinsics: given intrinsics (flag `--intrinsics`), any form `parse_intrinsics` takes.
    image: the photo the keypoints were detected on (flag `--image`); its size is read.
    image_size: "WxH" or (W, H) (flag `--image_size`).
    fov_degrees: horizontal field of view assumed with an image size.
    file_intrinsics: the file's own "intrinsics" field, if any.
    file_image_size: (W, H) stated by the file (e.g. VideoPose3D's `video_metadata`).

  Returns:
    ((fx, fy, cx, cy), description dict from `describe`).

  Raises:
    errors.DataError: none can be found (the message names the three flags), or they are
      malformed or do not fit the image.
  """
  if image is not None and image_size is not None:
    raise errors.DataError("give one of --image and --image_size, not both")
  size, size_source = None, None
  if image is not None:
    size, size_source = image_size_of(image), f"--image={image}"
  elif image_size is not None:
    size = parse_image_size(image_size, "--image_size")
    size_source = f"--image_size={size[0]}x{size[1]}"
  elif file_image_size is not None:
    size, size_source = parse_image_size(file_image_size, f"{path}: image size"), path
  fov = DEFAULT_FOV_DEGREES if fov_degrees is None else float(fov_degrees)
  if intrinsics is not None:
    value = parse_intrinsics(intrinsics, "--intrinsics")
    source, where = "--intrinsics", "--intrinsics"
  elif file_intrinsics is not None and image is None and image_size is None:
    where = f"{path}: field 'intrinsics'"
    value = parse_intrinsics(file_intrinsics, where)
    source = f"{path} (field 'intrinsics')"
  elif size is not None:
    value = from_image_size(size[0], size[1], fov)
    source, where = (f"{size_source}, assumed horizontal field of view {fov:.2f} degrees, "
                     "principal point at the centre"), size_source
  else:
    raise errors.DataError(
        f"{path}: no camera intrinsics: pass --intrinsics=fx,fy,cx,cy (pixels), "
        f"--image=<the photo> or --image_size=WxH (assumes a {DEFAULT_FOV_DEGREES:.1f} degree "
        "horizontal field of view, fx = width)")
  if fov_degrees is not None and where != size_source:
    raise errors.DataError(f"--fov_degrees={fov:g} applies to intrinsics made from an image "
                           f"size, but these come from {source}")
  if size is not None:
    check_against_image(value, size, where)
  return value, describe(value, source, size)
