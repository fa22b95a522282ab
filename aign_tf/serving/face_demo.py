"""The Python face demo: crop a face from a photo, run a face `.tflite` in LiteRT, write a
side-by-side PNG (input | output).

The face is found with OpenCV's frontal-face Haar cascade when `cv2` is installed (the
largest detection, enlarged to a square roughly like CelebA's aligned crops), else the
centre square is used, with a notice. The crop is resized to the model's input size:

- super-resolution (`image` input only): the crop at the low resolution; the left panel is
  that input enlarged (nearest) to the output size;
- inpainting (`image` + `mask`): the crop at the model's size with a mouth or nose box
  hidden; the left panel is the masked input.
"""

import os

from absl import logging
import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf.core import imaging
from aign_tf.serving import tflite

MIN_SIDE = 16  # Smaller images hold no usable face.
MAX_PIXELS = 50_000_000  # Larger images are refused (memory), like PIL's bomb check.
# Hidden boxes in an aligned face crop: (top, bottom, left, right) as fractions.
MASK_BOXES = {"mouth": (0.62, 0.86, 0.28, 0.72), "nose": (0.40, 0.66, 0.36, 0.64)}


def load_image(path):
  """RGB uint8 `[H, W, 3]` (`aign_tf.core.imaging.read_image`, the decoder every path uses);
  DataError for a missing, non-image, tiny or huge file."""
  array = imaging.read_image(path, max_pixels=MAX_PIXELS)
  if min(array.shape[:2]) < MIN_SIDE:
    raise errors.DataError(f"{path}: image too small ({array.shape[1]}x{array.shape[0]}; "
                           f"at least {MIN_SIDE}x{MIN_SIDE})")
  return array


def _square(box, shape, scale):
  """A square around `box` (x, y, w, h) enlarged by `scale`, shifted inside `shape`."""
  x, y, w, h = box
  side = int(min(max(w, h) * scale, shape[0], shape[1]))
  cx, cy = x + w / 2.0, y + h / 2.0
  left = int(np.clip(round(cx - side / 2.0), 0, shape[1] - side))
  top = int(np.clip(round(cy - side / 2.0), 0, shape[0] - side))
  return left, top, side


def find_face(image, detect=True, path="image"):
  """(left, top, side) of a square face crop of `image` `[H, W, 3]`.

  Raises:
    errors.DataError: detection is on, OpenCV is installed and it finds no face.
  """
  height, width = image.shape[:2]
  centre = _square((0, 0, width, height), image.shape, 1.0)
  if not detect:
    return centre
  try:
    import cv2  # pylint: disable=g-import-not-at-top
  except ImportError:
    logging.warning("OpenCV is not installed: using the centre square, no face detection")
    print("notice: OpenCV not installed; using the centre square of the image")
    return centre
  cascade = cv2.CascadeClassifier(
      os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
  gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
  faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                   minSize=(MIN_SIDE, MIN_SIDE))
  if len(faces) == 0:
    raise errors.DataError(f"{path}: no face found (pass --nodetect to use the centre "
                           "square)")
  largest = max(faces, key=lambda f: f[2] * f[3])
  return _square(tuple(int(v) for v in largest), image.shape, 1.3)


def resize(image, size):
  """uint8 `[H, W, C]` -> `[size, size, C]` (bicubic; box-like when shrinking a lot)."""
  return np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))


def mask_for(side, box="mouth"):
  """uint8 `[side, side, 1]`: 255 inside the `box` ("mouth" or "nose"), 0 elsewhere."""
  if box not in MASK_BOXES:
    raise errors.ConfigError(f"mask box must be one of {sorted(MASK_BOXES)}, got {box!r}")
  top, bottom, left, right = (int(round(f * side)) for f in MASK_BOXES[box])
  mask = np.zeros([side, side, 1], np.uint8)
  mask[top:bottom, left:right] = 255
  return mask


def run(model, image_path, output, detect=True, mask_box="mouth", num_threads=2):
  """Runs the demo; returns dict with `crop` (left, top, side), `input`, `output` arrays."""
  runner, details = tflite.signature_runner(model, num_threads)
  if "image" not in details:
    raise errors.ConfigError(f"{model}: not a face model (inputs {sorted(details)}, "
                             "expected 'image')")
  image = load_image(image_path)
  left, top, side = find_face(image, detect, image_path)
  crop = image[top:top + side, left:left + side]
  size = details["image"][0][1]
  face = resize(crop, size)
  inputs = {"image": face[None]}
  shown = face
  if "mask" in details:
    mask = mask_for(size, mask_box)
    inputs["mask"] = mask[None]
    shown = np.where(mask >= 128, 0, face).astype(np.uint8)
  result = runner(**inputs)
  out = np.asarray(result["image"][0], np.uint8)
  if out.shape[-1] == 1:
    out = np.repeat(out, 3, axis=-1)
  factor = out.shape[0] // shown.shape[0]
  left_panel = np.repeat(np.repeat(shown, factor, axis=0), factor, axis=1)
  gap = np.full([out.shape[0], 4, 3], 255, np.uint8)
  panel = np.concatenate([left_panel, gap, out], axis=1)
  imaging.write_png(output, panel)
  return {"crop": (left, top, side), "input": inputs["image"][0], "output": out,
          "panel_shape": panel.shape}
