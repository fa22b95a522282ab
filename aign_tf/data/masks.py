"""Visibility masks for inpainting: m = 1 where the pixel is seen, 0 in the hole.

Kinds:
  "mouth", "nose"   a box over that part, centred on the face's landmark when landmarks are
                    known (synthetic faces carry them), else on the aligned-face geometry
                    (`faces_synthetic.GEOMETRY`, which matches CelebA's aligned crops).
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


def part_masks(part, num, resolution, landmarks=None, scale=1.0):
  """Box masks over `part` ("mouth" or "nose") for `num` images `[N, R, R, 1]`.

  Args:
    landmarks: optional `[N, 4, 2]` pixel landmarks in `faces_synthetic.LANDMARKS` order;
      without them the box sits at the aligned-face position of the part.
    scale: multiplies the box size.
  """
  from aign_tf.data import faces_synthetic  # pylint: disable=g-import-not-at-top
  if part not in PART_BOXES:
    raise errors.ConfigError(f"mask part {part!r} is unknown; use one of "
                             f"{sorted(PART_BOXES)}")
  size = np.array(PART_BOXES[part]) * resolution * scale
  index = faces_synthetic.LANDMARKS.index(part)
  default = np.array(faces_synthetic.GEOMETRY[part]) * resolution
  masks = np.empty((num, resolution, resolution, 1), np.float32)
  for i in range(num):
    centre = landmarks[i, index] if landmarks is not None else default
    masks[i] = box_mask(resolution, centre, size)
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
