"""Visibility masks for inpainting: m = 1 where the pixel is seen, 0 in the hole.

Kinds:
  "mouth", "nose"   a box over that part. With CelebA's five landmarks (eyes, nose tip,
                    mouth corners; `celeba.LANDMARKS`) the box is each face's own: the mouth
                    box spans the corners (`MOUTH_WIDTH` x their distance wide, half as
                    high, centred between them), the nose box is `NOSE_SIDE` x the eye
                    distance square, centred on the nose tip. With four landmarks
                    (`faces_synthetic.LANDMARKS`) the box has the fixed size of
                    `PART_BOXES` centred on the part; without landmarks it sits on the
                    aligned-face geometry (`faces_synthetic.GEOMETRY`, which matches
                    CelebA's aligned crops).
  "random"          one box of random size (`random_size` fraction range of the side) and
                    position per image.
  "file"            user-supplied mask PNGs, one per image or one for all. Convention:
                    **white = hole** (pixel value >= 128 after conversion to greyscale),
                    black = visible. A mask must have the images' size.
Masks are float32 `[N, R, R, 1]`.
"""

import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError

from aign_tf import errors

KINDS = ("mouth", "nose", "random", "file")
# Box size (width, height) as fractions of the image side, for each part.
PART_BOXES = {"mouth": (0.34, 0.17), "nose": (0.22, 0.22)}
# Box sizes from five landmarks, chosen so that CelebA's mean face gets the `PART_BOXES`
# boxes (mouth corners ~0.19 of the crop apart, eyes ~0.21).
MOUTH_WIDTH = 1.8   # x the mouth-corner distance; height is half the width
NOSE_SIDE = 1.05    # x the eye distance


def box_mask(resolution, centre, size):
  """A visibility mask `[R, R, 1]` with a hole box of (width, height) pixels at `centre`."""
  mask = np.ones((resolution, resolution, 1), np.float32)
  cx, cy = centre
  width, height = size
  left = int(np.clip(np.round(cx - width / 2), 0, resolution))
  top = int(np.clip(np.round(cy - height / 2), 0, resolution))
  right = int(np.clip(left + int(np.round(width)), 0, resolution))
  bottom = int(np.clip(top + int(np.round(height)), 0, resolution))
  mask[top:bottom, left:right] = 0.0
  return mask


def part_boxes(part, num, resolution, landmarks=None, scale=1.0):
  """(centres `[N, 2]`, sizes `[N, 2]` (width, height)) in pixels of the `part` boxes.

  Args:
    part: "mouth" or "nose".
    num: number of images N.
    resolution: image side R.
    landmarks: None, `[N, 4, 2]` in `faces_synthetic.LANDMARKS` order or `[N, 5, 2]` in
      `celeba.LANDMARKS` order (pixels).
    scale: multiplies the box size.

  Raises:
    errors.ConfigError: unknown part or landmarks of another shape.
  """
  from aign_tf.data import faces_synthetic  # pylint: disable=g-import-not-at-top
  if part not in PART_BOXES:
    raise errors.ConfigError(f"mask part {part!r} is unknown; use one of "
                             f"{sorted(PART_BOXES)}")
  fixed = np.array(PART_BOXES[part], np.float64) * resolution
  if landmarks is None:
    centres = np.tile(np.array(faces_synthetic.GEOMETRY[part]) * resolution, (num, 1))
    return centres, np.tile(fixed * scale, (num, 1))
  points = np.asarray(landmarks, np.float64)
  if points.shape not in ((num, 4, 2), (num, 5, 2)):
    raise errors.ConfigError(f"mask landmarks must be [{num}, 4, 2] or [{num}, 5, 2], got "
                             f"{list(points.shape)}")
  if points.shape[1] == 4:
    index = faces_synthetic.LANDMARKS.index(part)
    return points[:, index], np.tile(fixed * scale, (num, 1))
  if part == "mouth":
    left, right = points[:, 3], points[:, 4]
    width = MOUTH_WIDTH * np.linalg.norm(right - left, axis=-1)
    return (left + right) / 2.0, np.stack([width, width / 2.0], axis=-1) * scale
  side = NOSE_SIDE * np.linalg.norm(points[:, 1] - points[:, 0], axis=-1)
  return points[:, 2], np.stack([side, side], axis=-1) * scale


def part_masks(part, num, resolution, landmarks=None, scale=1.0):
  """Box masks over `part` ("mouth" or "nose") for `num` images `[N, R, R, 1]` (boxes from
  `part_boxes`)."""
  centres, sizes = part_boxes(part, num, resolution, landmarks, scale)
  masks = np.empty((num, resolution, resolution, 1), np.float32)
  for i in range(num):
    masks[i] = box_mask(resolution, centres[i], sizes[i])
  return masks


def random_masks(num, resolution, random_size=(0.2, 0.45), seed=0):
  """One random box hole per image `[N, R, R, 1]`."""
  rng = np.random.default_rng(seed)
  masks = np.empty((num, resolution, resolution, 1), np.float32)
  for i in range(num):
    width, height = rng.uniform(*random_size, size=2) * resolution
    centre = rng.uniform([width / 2, height / 2],
                         [resolution - width / 2, resolution - height / 2])
    masks[i] = box_mask(resolution, centre, (width, height))
  return masks


def load_mask(path, resolution):
  """Reads a mask PNG (white = hole) as a visibility mask `[R, R, 1]` float32.

  Raises:
    errors.DataError: unreadable file or a size other than `resolution` x `resolution`.
  """
  try:
    with Image.open(path) as image:
      image.load()
      if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, np.float64) / (65535.0 if image.mode != "I" else
                                                  max(1.0, float(np.max(image))))
        grey = values * 255.0
      else:
        if image.mode in ("RGBA", "LA", "PA", "P"):
          image = image.convert("RGBA").convert("RGB")
        grey = np.asarray(image.convert("L"), np.float64)
  except (UnidentifiedImageError, OSError, SyntaxError) as e:
    raise errors.DataError(f"{path}: cannot read mask image ({e})") from e
  if grey.shape != (resolution, resolution):
    raise errors.DataError(f"{path}: mask is {grey.shape[1]}x{grey.shape[0]}, the images are "
                           f"{resolution}x{resolution}")
  return (grey < 128.0).astype(np.float32)[..., None]


def file_masks(paths, num, resolution):
  """Masks from PNG files, cycled over `num` images `[N, R, R, 1]`."""
  if isinstance(paths, str):
    paths = [paths]
  if not paths:
    raise errors.ConfigError("mask kind 'file' needs at least one mask path")
  loaded = [load_mask(p, resolution) for p in paths]
  return np.stack([loaded[i % len(loaded)] for i in range(num)])


def make_masks(kind, num, resolution, landmarks=None, seed=0, paths=(), scale=1.0,
               random_size=(0.2, 0.45)):
  """Dispatches on `kind` (see the module docstring); returns `[N, R, R, 1]` float32."""
  if kind in PART_BOXES:
    return part_masks(kind, num, resolution, landmarks, scale)
  if kind == "random":
    return random_masks(num, resolution, random_size, seed)
  if kind == "file":
    return file_masks(paths, num, resolution)
  raise errors.ConfigError(f"mask kind {kind!r} is unknown; use one of {KINDS}")
