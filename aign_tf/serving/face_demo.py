"""The Python face demo: every face of a photo through a face `.tflite`, pasted back.

For each face BlazeFace finds (`aign_tf.detectors.blazeface`; any number, any size, the photo
turned upright by its EXIF orientation):

1. the face is aligned: a similarity (rotation, uniform scale, shift) puts its eye centres on
   the canonical positions of the face tasks' crops (`blazeface.DEFAULT_EYES`), in a square
   crop of the model's output side, sampled without aliasing (warped at an integer multiple
   of that side, then box-averaged down);
2. the model runs on it in LiteRT:
   - super-resolution (`image` input only): its input is the aligned crop box-averaged to the
     model's input side (what the task's renderer, average pooling, does in training);
   - inpainting (`image` + `mask`): the crop at the model's side with the mouth (or nose) box
     of `blazeface.part_box` hidden, placed from the detected keypoints;
3. the output is pasted back into the photo through the inverse similarity, blended by a
   feathered mask: a face oval for super-resolution, the hidden box for inpainting, so the
   rest of the photo is untouched.

`run` writes two PNGs: `<stem>_faces.png` (one row per face: the aligned face, the model's
input, its output) and `<stem>_photo.png` (the whole photo with the faces replaced). A photo
with no face is a `DataError` naming the file, and nothing is written.
"""

import math
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

from aign_tf import errors
from aign_tf.core import imaging
from aign_tf.detectors import blazeface
from aign_tf.detectors import geometry
from aign_tf.serving import tflite

MIN_SIDE = 16  # Smaller images hold no usable face.
MAX_PIXELS = 50_000_000  # Larger images are refused (memory), like PIL's bomb check.
# The face oval of an aligned crop (eyes at `blazeface.DEFAULT_EYES`), as fractions of the
# side: centre (x, y) and half-axes (x, y), from brows to chin and cheek to cheek; the
# blending weight falls from 1 to 0 over `FEATHER` beyond it.
FACE_OVAL = ((0.5, 0.57), (0.25, 0.31))
FEATHER = 0.06
# Inpainting: the hidden box is blended back with a margin of this fraction of the side.
HOLE_MARGIN = 0.03


def load_image(path):
  """RGB uint8 `[H, W, 3]`, upright (`aign_tf.core.imaging.read_image`, the decoder every path
  uses); DataError for a missing, non-image, tiny or huge file."""
  array = imaging.read_image(path, max_pixels=MAX_PIXELS)
  if min(array.shape[:2]) < MIN_SIDE:
    raise errors.DataError(f"{path}: image too small ({array.shape[1]}x{array.shape[0]}; "
                           f"at least {MIN_SIDE}x{MIN_SIDE})")
  return array


def model_sides(runner, details, path):
  """(input side, output side) of a face model: output side from one run on zeros."""
  if "image" not in details:
    raise errors.ConfigError(f"{path}: not a face model (inputs {sorted(details)}, "
                             "expected 'image')")
  shape = details["image"][0]
  if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
    raise errors.ConfigError(f"{path}: not a face model (image input {list(shape)}, "
                             "expected [1, S, S, 3])")
  zeros = {name: np.zeros(spec[0], spec[1]) for name, spec in details.items()}
  return shape[1], int(runner(**zeros)["image"].shape[1])


def align_face(image, face, side):
  """The face aligned to the canonical eyes in a `side` square, anti-aliased.

  Returns:
    (`[side, side, 3]` uint8 crop, `[3, 3]` matrix image pixels -> crop pixels, keypoints
    `[6, 2]` in crop pixels).
  """
  eyes = np.asarray(blazeface.DEFAULT_EYES, np.float64)
  spacing = np.linalg.norm(eyes[1] - eyes[0]) * side
  eye_distance = np.linalg.norm(np.subtract(*blazeface.eye_centres(face)))
  # Warp at `factor` x side so one crop pixel covers at most about one photo pixel, then
  # average factor x factor blocks.
  factor = max(1, math.ceil(eye_distance / spacing))
  aligned = blazeface.align(image, face, side * factor)
  crop = aligned.crop.astype(np.float32).reshape(side, factor, side, factor, 3).mean((1, 3))
  matrix = np.diag([1.0 / factor, 1.0 / factor, 1.0]) @ aligned.matrix
  keypoints = geometry.transform_points(matrix, face.keypoints)
  return np.clip(np.round(crop), 0, 255).astype(np.uint8), matrix, keypoints


def shrink(image, side):
  """uint8 `[S, S, 3]` -> `[side, side, 3]` by box averaging (the SR task's renderer)."""
  return np.asarray(Image.fromarray(image).resize((side, side), Image.BOX))


def box_mask(side, box):
  """uint8 `[side, side, 1]`: 255 inside `box` (xmin, ymin, xmax, ymax in pixels)."""
  mask = np.zeros([side, side, 1], np.uint8)
  left, top, right, bottom = (int(np.clip(round(v), 0, side)) for v in box)
  mask[top:bottom, left:right] = 255
  return mask


def oval_weight(side):
  """float `[side, side]`: 1 inside `FACE_OVAL`, falling to 0 over `FEATHER` outside it."""
  (cx, cy), (ax, ay) = FACE_OVAL
  u = (np.arange(side) + 0.5) / side
  x, y = np.meshgrid(u, u)
  radius = np.hypot((x - cx) / ax, (y - cy) / ay)  # 1 on the oval.
  return np.clip(1.0 - (radius - 1.0) * min(ax, ay) / FEATHER, 0.0, 1.0)


def box_weight(side, box, margin):
  """float `[side, side]`: 1 inside `box` (pixels), falling to 0 over `margin` pixels."""
  u = np.arange(side) + 0.5
  left, top, right, bottom = box
  dx = np.maximum(np.maximum(left - u, u - right), 0.0)
  dy = np.maximum(np.maximum(top - u, u - bottom), 0.0)
  return np.clip(1.0 - np.hypot(dx[None, :], dy[:, None]) / max(margin, 1e-6), 0.0, 1.0)


def blend(photo, crop, weight, matrix):
  """`photo` with `crop` (`[S, S, 3]`, S = the side `matrix` maps to) blended in by
  `weight` `[S, S]` through the inverse of `matrix` (image pixels -> crop pixels).

  Only the photo's pixels under the crop's footprint are resampled (a phone photo has tens of
  millions of pixels; a face a small part of them).
  """
  height, width = photo.shape[:2]
  side = crop.shape[0]
  corners = geometry.transform_points(np.linalg.inv(matrix),
                                      [[0, 0], [side, 0], [0, side], [side, side]])
  left, top = np.clip(np.floor(corners.min(0)).astype(int), 0, [width, height])
  right, bottom = np.clip(np.ceil(corners.max(0)).astype(int), 0, [width, height])
  if right <= left or bottom <= top:
    return photo
  # Region pixels -> photo pixels -> crop pixels.
  shift = np.array([[1.0, 0.0, left], [0.0, 1.0, top], [0.0, 0.0, 1.0]])
  size = (right - left, bottom - top)
  warped = geometry.warp(crop, matrix @ shift, size, border="zero")
  alpha = geometry.warp(weight.astype(np.float32), matrix @ shift, size)[..., None]
  out = photo.copy()
  region = out[top:bottom, left:right].astype(np.float32)
  out[top:bottom, left:right] = np.clip(
      np.round(region * (1.0 - alpha) + warped * alpha), 0, 255).astype(np.uint8)
  return out


def process_face(runner, details, sides, image, face, mask_part="mouth"):
  """One face through the model.

  Returns:
    dict: `aligned` (crop at the output side), `input` (the model's image input), `shown`
    (the input as a picture: the masked face for inpainting), `mask` (inpainting) , `output`
    (`[S, S, 3]` uint8), `weight` (`[S, S]` blending weight), `matrix` (image pixels -> crop
    pixels at the output side).
  """
  in_side, out_side = sides
  aligned, matrix, keypoints = align_face(image, face, out_side)
  result = {"aligned": aligned, "matrix": matrix, "keypoints": keypoints}
  if "mask" in details:
    # Inpainting: the crop at the model's side (= its output side), a part hidden.
    box = blazeface.part_box(keypoints * in_side / out_side, mask_part)
    mask = box_mask(in_side, box)
    model_input = shrink(aligned, in_side) if in_side != out_side else aligned
    result.update(mask=mask, shown=np.where(mask >= 128, 0, model_input).astype(np.uint8))
    outputs = runner(image=model_input[None], mask=mask[None])
    weight = box_weight(out_side, np.asarray(box) * out_side / in_side,
                        HOLE_MARGIN * out_side)
  else:
    model_input = shrink(aligned, in_side)
    result["shown"] = model_input
    outputs = runner(image=model_input[None])
    weight = oval_weight(out_side)
  output = np.asarray(outputs["image"][0], np.uint8)
  if output.shape[-1] == 1:
    output = np.repeat(output, 3, axis=-1)
  result.update(input=model_input, output=output, weight=weight)
  return result


def _labelled(columns, labels, pad=4):
  """One row of equal-height pictures with a caption above each."""
  height = columns[0].shape[0]
  caption = 14
  width = sum(c.shape[1] for c in columns) + pad * (len(columns) + 1)
  row = Image.new("RGB", (width, height + caption + pad), (255, 255, 255))
  draw = ImageDraw.Draw(row)
  x = pad
  for picture, label in zip(columns, labels):
    row.paste(Image.fromarray(picture), (x, caption))
    draw.text((x + 2, 1), label, fill=(0, 0, 0))
    x += picture.shape[1] + pad
  return np.asarray(row)


def faces_panel(results, inpainting, min_side=192):
  """Rows of (aligned face | model input | model output), enlarged (nearest) to at least
  `min_side` pixels so a 32x32 input stays readable."""
  rows = []
  for index, r in enumerate(results):
    side = r["output"].shape[0]
    zoom = max(1, math.ceil(min_side / side))
    big = lambda a, s=side: np.asarray(Image.fromarray(a).resize((s * zoom, s * zoom),
                                                                  Image.NEAREST))
    shown = r["shown"]
    labels = [f"face {index + 1}: photo, aligned",
              "model input (masked)" if inpainting else
              f"model input {shown.shape[0]}x{shown.shape[0]}",
              f"model output {side}x{side}"]
    rows.append(_labelled([big(r["aligned"]), big(shown), big(r["output"])], labels))
  width = max(r.shape[1] for r in rows)
  rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
          for r in rows]
  return np.concatenate(rows, axis=0)


def output_paths(image_path, output_dir):
  stem = os.path.splitext(os.path.basename(image_path))[0]
  return (os.path.join(output_dir, f"{stem}_faces.png"),
          os.path.join(output_dir, f"{stem}_photo.png"))


def run(model, image_path, output_dir, mask_part="mouth", max_faces=None, num_threads=2,
        detector=None):
  """Runs the demo on one photo.

  Args:
    model: a face `.tflite` from `tools/export_tflite.py`.
    image_path: a photo (any format Pillow reads; EXIF orientation applied).
    output_dir: where `<stem>_faces.png` and `<stem>_photo.png` go (created if needed).
    mask_part: inpainting: "mouth" or "nose".
    max_faces: process at most this many faces (the best scoring); None: all.
    num_threads: LiteRT threads.
    detector: a `blazeface.FaceDetector` (default: a new one, the models fetched on first use).

  Returns:
    dict: `faces` (the `blazeface.Face`s processed), `results` (per face, `process_face`'s
    dict), `photo` (the photo with the faces replaced), `paths` (faces panel, photo).

  Raises:
    errors.DataError: the photo cannot be read, is tiny or huge, or shows no face (nothing
      is written then).
    errors.ConfigError: the model is not a face `.tflite`.
  """
  if mask_part not in ("mouth", "nose"):
    raise errors.ConfigError(f"mask part must be 'mouth' or 'nose', got {mask_part!r}")
  runner, details = tflite.signature_runner(model, num_threads)
  sides = model_sides(runner, details, model)
  image = load_image(image_path)
  faces = blazeface.detect_faces(image, detector, where=image_path)[:max_faces]
  photo = image
  results = []
  for face in faces:
    result = process_face(runner, details, sides, image, face, mask_part)
    photo = blend(photo, result["output"], result["weight"], result["matrix"])
    results.append(result)
  panel = faces_panel(results, "mask" in details)
  paths = output_paths(image_path, output_dir)
  os.makedirs(output_dir, exist_ok=True)
  imaging.write_png(paths[0], panel)
  imaging.write_png(paths[1], photo)
  return {"faces": faces, "results": results, "photo": photo, "paths": paths}
