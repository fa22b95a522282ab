"""Face image sets for the face tasks: loading, conversion, sources and manifests.

A face set is built from a *spec*, a small dict that gin can bind, e.g.

  {"source": "synthetic", "count": 2000, "identities": [0, 1, 2], "seed": 1}
  {"source": "folder", "paths": ["/data/trainA"], "count": 500, "on_bad_file": "skip"}
  {"source": "celeba", "root": "/data/celeba", "attributes": "Male and not Young"}
  {"source": "video", "paths": ["talk.mp4"], "start": 0, "stop": 2000, "every": 2}
  {"source": "samples", "name": "franck", "start": 0, "stop": 2000}
  {"source": "union", "parts": [<spec>, <spec>, ...]}   (the parts concatenated)
  {"source": "auto", "role": "inputs"|"memory"|"eval", "count": n}

"auto" is the face tasks' default (gin/faces_sr.gin, gin/faces_inpaint.gin): real faces when
`python tools/fetch_samples.py faces` has filled the sample cache (`faces_samples.AUTO_SPECS`:
the evaluation faces show people who are in neither the inputs nor the memory), else the
procedural faces of `AUTO_SYNTHETIC` (evaluation identities held out the same way); one log
line says which, and how to get the real ones.

Every set carries `names`, one line per image saying exactly where it came from (a file path,
a video frame, a synthetic draw), written with the spec and a checksum of the pixels by
`write_manifest`, so a run can state what its memory was. Subsets are chosen with a fixed
seed. Images are uint8 `[N, R, R, 3]`; the tasks scale them to [0, 1].

Conversion of odd but valid files: greyscale, palette, CMYK and 16-bit images become 8-bit
RGB, an alpha channel is composited over white, non-square images are centre-cropped, and
any size down to half the target resolution is resized. Unreadable files, images smaller than
that, and empty selections raise `errors.DataError` naming the file or spec. The "folder" and
"celeba" sources take `"on_bad_file": "skip"` to leave unusable files out instead
(`bad_files`): the next file in the seeded order takes a skipped one's place, the skipped
files are counted in a logged warning and listed in the manifest.
"""

import dataclasses
import hashlib
import json
import os
from typing import List, Optional

import numpy as np
from PIL import Image

from absl import logging

from aign_tf import errors
from aign_tf.core import imaging
from aign_tf.core import video
from aign_tf.data import bad_files

SOURCES = ("synthetic", "folder", "celeba", "video", "samples", "union", "auto")
AUTO_ROLES = ("inputs", "memory", "eval")
# The procedural fallback of {"source": "auto"}: evaluation identities 100-129 are in no
# other role.
AUTO_SYNTHETIC = {
    "inputs": {"source": "synthetic", "count": 2000,
               "identities": {"start": 0, "stop": 100}, "seed": 1},
    "memory": {"source": "synthetic", "count": 2000,
               "identities": {"start": 0, "stop": 100}, "seed": 2},
    "eval": {"source": "synthetic", "count": 128,
             "identities": {"start": 100, "stop": 130}, "seed": 3},
}


@dataclasses.dataclass
class FaceSet:
  """Face images and where each came from.

  Attributes:
    images: uint8 `[N, R, R, 3]`.
    names: N strings naming each image's origin (file path, video frame, synthetic draw).
    landmarks: optional float pixel (x, y), `[N, 4, 2]` of `faces_synthetic.LANDMARKS`
      (synthetic faces) or `[N, 5, 2]` of `celeba.LANDMARKS` (CelebA's aligned landmarks).
    labels: optional dict name -> `[N]` array (e.g. synthetic "identity").
    spec: the spec the set was built from.
    skipped: why each file left out by `"on_bad_file": "skip"` was skipped (naming it).
  """
  images: np.ndarray
  names: List[str]
  landmarks: Optional[np.ndarray] = None
  labels: dict = dataclasses.field(default_factory=dict)
  spec: dict = dataclasses.field(default_factory=dict)
  skipped: List[str] = dataclasses.field(default_factory=list)

  def __len__(self):
    return len(self.names)

  def digest(self):
    """SHA-256 (16 hex digits) of the pixels, to compare runs."""
    return hashlib.sha256(np.ascontiguousarray(self.images).tobytes()).hexdigest()[:16]

  def take(self, indices):
    indices = np.asarray(indices, np.int64)
    return FaceSet(self.images[indices], [self.names[i] for i in indices],
                   None if self.landmarks is None else self.landmarks[indices],
                   {k: np.asarray(v)[indices] for k, v in self.labels.items()}, self.spec,
                   list(self.skipped))


# Image files ------------------------------------------------------------------------------

def center_square(image):
  """Centre-crops `[H, W, C]` to a square."""
  height, width = image.shape[:2]
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  return image[top:top + side, left:left + side]


def resize(image, resolution):
  """Resizes a square uint8 `[S, S, 3]` image to `[R, R, 3]` (area-averaging when shrinking)."""
  if image.shape[0] == resolution and image.shape[1] == resolution:
    return image
  pil = Image.fromarray(image)
  method = Image.BOX if image.shape[0] >= resolution else Image.BICUBIC
  return np.asarray(pil.resize((resolution, resolution), method))


def check_size(height, width, resolution, path):
  if min(height, width) * 2 < resolution:
    raise errors.DataError(f"{path}: image is {width}x{height}, smaller than half the target "
                           f"resolution {resolution}x{resolution}; use larger images or a "
                           "lower resolution")


def load_image(path, resolution, crop=None):
  """Reads an image file as uint8 RGB `[R, R, 3]` (centre-cropped square, resized).

  Args:
    path: image file.
    resolution: output side R.
    crop: optional (top, left, height, width) cut before the square crop (e.g. CelebA's
      aligned 178x218 images use (20, 0, 178, 178)).

  Raises:
    errors.DataError: unreadable file, or an image smaller than half of R.
  """
  image = imaging.read_image(path)
  if crop is not None:
    top, left, height, width = crop
    if image.shape[0] >= top + height and image.shape[1] >= left + width:
      image = image[top:top + height, left:left + width]
  check_size(image.shape[0], image.shape[1], resolution, path)
  return resize(center_square(image), resolution)


def list_images(paths, recursive=True):
  """Image files under folders (or listed directly), sorted, with their folder order kept.

  Raises:
    errors.DataError: a path does not exist or holds no image.
  """
  if isinstance(paths, str):
    paths = [paths]
  found = []
  for path in paths:
    if os.path.isfile(path):
      found.append(path)
      continue
    if not os.path.isdir(path):
      raise errors.DataError(f"{path}: no such image folder or file")
    listing = []
    walker = os.walk(path) if recursive else [(path, [], os.listdir(path))]
    for folder, _, names in walker:
      listing += [os.path.join(folder, n) for n in names
                  if n.lower().endswith(video.IMAGE_SUFFIXES)]
    if not listing:
      raise errors.DataError(f"{path}: folder holds no image files "
                             f"({', '.join(video.IMAGE_SUFFIXES)})")
    found += sorted(listing)
  return found


def choose(count, total, seed, what):
  """`count` indices of `range(total)` in a seeded random order (all if count is None)."""
  if total == 0:
    raise errors.DataError(f"{what}: selects no image")
  order = np.random.default_rng(seed).permutation(total)
  if count is None:
    return np.sort(order)
  if count > total:
    raise errors.DataError(f"{what}: asks for {count} images but only {total} exist")
  return np.sort(order[:count])


def load_files(files, resolution, crop=None):
  images = np.empty((len(files), resolution, resolution, 3), np.uint8)
  for i, path in enumerate(files):
    images[i] = load_image(path, resolution, crop)
  return images


def load_chosen(files, count, seed, resolution, what, crop=None, on_bad_file="raise"):
  """Loads `count` of `files` (all when None) picked by `choose`, skipping bad ones if asked.

  With `on_bad_file="skip"` an unusable file (unreadable, corrupt, empty, not an image, too
  small) is left out and the next file in the seeded order takes its place, so the files
  chosen when none is bad are the same as with "raise".

  Args:
    files: candidate image paths.
    count: how many images to load, or None for all.
    seed: seed of the random choice.
    resolution: output side R.
    what: the folder or spec, for messages.
    crop: as in `load_image`.
    on_bad_file: "raise" or "skip" (`bad_files`).

  Returns:
    (uint8 `[N, R, R, 3]`, the N loaded paths in file order, skip reasons naming each file).

  Raises:
    errors.DataError: a bad file with "raise"; with "skip", no usable file, or fewer than
      `count`.
  """
  bad_files.check_option(on_bad_file, what)
  if on_bad_file == "raise":
    chosen = [files[i] for i in choose(count, len(files), seed, what)]
    return load_files(chosen, resolution, crop), chosen, []
  choose(count, len(files), seed, what)  # Same checks of `count` as "raise".
  order = np.random.default_rng(seed).permutation(len(files))
  wanted = len(files) if count is None else count
  loaded, skipped = {}, []
  for index in order:
    if len(loaded) == wanted:
      break
    try:
      loaded[index] = load_image(files[index], resolution, crop)
    except errors.DataError as e:
      skipped.append((index, str(e)))
  skipped = [reason for _, reason in sorted(skipped)]  # In file order.
  if not loaded:
    raise errors.DataError(f"{what}: no usable image among {len(files)} files "
                           f"({len(skipped)} skipped; first: {skipped[0]})")
  if count is not None and len(loaded) < count:
    raise errors.DataError(f"{what}: asks for {count} images but only {len(loaded)} of "
                           f"{len(files)} are usable ({len(skipped)} skipped)")
  bad_files.log_skipped(what, skipped)
  kept = sorted(loaded)
  return np.stack([loaded[i] for i in kept]), [files[i] for i in kept], skipped


# Sources ----------------------------------------------------------------------------------

def _synthetic(spec, resolution, seed):
  from aign_tf.data import faces_synthetic  # pylint: disable=g-import-not-at-top
  identities = spec.get("identities", list(range(100)))
  if isinstance(identities, dict):  # {"start": a, "stop": b}
    identities = list(range(identities["start"], identities["stop"]))
  draw_seed = spec.get("seed", seed)
  faces = faces_synthetic.draw_faces(
      int(spec.get("count", 512)), resolution, identities=identities,
      lip_size=spec.get("lip_size", (0.8, 1.2)), nose_size=spec.get("nose_size", (0.8, 1.2)),
      skin_tone=spec.get("skin_tone"), seed=draw_seed)
  names = [f"synthetic seed={draw_seed} index={i} identity={faces['identity'][i]} "
           f"lip_size={faces['lip_size'][i]:.3f} nose_size={faces['nose_size'][i]:.3f} "
           f"skin_tone={faces['skin_tone'][i]:.3f}" for i in range(len(faces["images"]))]
  return FaceSet(faces["images"], names, faces["landmarks"],
                 {k: faces[k] for k in ("identity", "lip_size", "nose_size", "skin_tone")})


def _folder(spec, resolution, seed):
  files = list_images(spec["paths"], spec.get("recursive", True))
  images, files, skipped = load_chosen(files, spec.get("count"), spec.get("seed", seed),
                                       resolution, f"folder spec {spec['paths']}",
                                       on_bad_file=spec.get("on_bad_file", "raise"))
  return FaceSet(images, [os.path.abspath(f) for f in files], skipped=skipped)


def _celeba(spec, resolution, seed):
  from aign_tf.data import celeba  # pylint: disable=g-import-not-at-top
  return celeba.face_set(spec, resolution, seed)


def _video(spec, resolution, seed):
  from aign_tf.data import faces_video  # pylint: disable=g-import-not-at-top
  return faces_video.face_set(spec, resolution, seed)


def _samples(spec, resolution, seed):
  from aign_tf.data import faces_samples  # pylint: disable=g-import-not-at-top
  return faces_samples.face_set(spec, resolution, seed)


def _union(spec, resolution, seed):
  parts = [build(part, resolution, seed + i) for i, part in enumerate(spec["parts"])]
  landmarks = None
  if all(p.landmarks is not None for p in parts):
    points = [p.landmarks for p in parts]
    if len({p.shape[1] for p in points}) > 1:  # Mixed layouts: the four shared points.
      points = [four_landmarks(p) for p in points]
    landmarks = np.concatenate(points)
  labels = {key: np.concatenate([np.asarray(p.labels[key]) for p in parts])
            for key in parts[0].labels if all(key in p.labels for p in parts)}
  return FaceSet(np.concatenate([p.images for p in parts]),
                 [name for p in parts for name in p.names], landmarks, labels,
                 skipped=[reason for p in parts for reason in p.skipped])


def _auto(spec, resolution, seed):
  from aign_tf.data import faces_samples  # pylint: disable=g-import-not-at-top
  role = spec.get("role")
  if role not in AUTO_ROLES:
    raise errors.ConfigError(f"face set spec {spec!r}: 'auto' needs a 'role', one of "
                             f"{AUTO_ROLES}")
  cache_dir = spec.get("cache_dir")
  directory = faces_samples.task_dir(cache_dir)
  count = spec.get("count")
  if faces_samples.fetched(cache_dir):
    resolved = with_cache_dir(faces_samples.AUTO_SPECS[role], cache_dir)
    logging.info("faces %s: real face samples from %s (%s)", role, directory,
                 faces_samples.describe(role))
  else:
    resolved = dict(AUTO_SYNTHETIC[role], **({} if count is None else {"count": count}))
    logging.info("faces %s: procedural faces (no fetched face samples in %s; python "
                 "tools/fetch_samples.py faces gets real ones: %s)", role, directory,
                 faces_samples.describe(role))
  face_set = build(resolved, resolution, seed)
  if count is not None and count < len(face_set):
    face_set = face_set.take(choose(count, len(face_set), spec.get("seed", seed),
                                    f"auto {role} faces"))
  face_set.spec = resolved
  return face_set


def with_cache_dir(spec, cache_dir):
  """A copy of a spec whose "samples" parts (at any depth) read `cache_dir`."""
  spec = dict(spec)
  if spec.get("source") == "samples" and cache_dir is not None:
    spec["cache_dir"] = cache_dir
  if "parts" in spec:
    spec["parts"] = [with_cache_dir(part, cache_dir) for part in spec["parts"]]
  return spec


def check_held_out(named_sets, held_out="eval", label="person"):
  """Raises DataError when a person (`labels[label]`) of the `held_out` set is also in
  another set; sets without the label are not checked (real samples carry "person",
  synthetic sets "identity")."""
  if held_out not in named_sets or label not in named_sets[held_out].labels:
    return
  people = set(np.asarray(named_sets[held_out].labels[label]).tolist())
  for role, face_set in named_sets.items():
    if role == held_out or label not in face_set.labels:
      continue
    shared = people & set(np.asarray(face_set.labels[label]).tolist())
    if shared:
      raise errors.DataError(f"the {held_out} and {role} face sets share the {label} "
                             f"{sorted(shared)[0]!r}: held-out faces must show other people")


def four_landmarks(points):
  """`[N, 5, 2]` CelebA landmarks -> `[N, 4, 2]` of `faces_synthetic.LANDMARKS` (the mouth
  is the corners' midpoint); `[N, 4, 2]` unchanged."""
  points = np.asarray(points, np.float32)
  if points.shape[1] == 4:
    return points
  return np.concatenate([points[:, :3], points[:, 3:].mean(axis=1, keepdims=True)], axis=1)


_BUILDERS = {"synthetic": _synthetic, "folder": _folder, "celeba": _celeba,
             "video": _video, "samples": _samples, "union": _union, "auto": _auto}


def build(spec, resolution, seed=0):
  """Builds the face set a spec describes (see the module docstring).

  Raises:
    errors.ConfigError: unknown source or a missing required field.
    errors.DataError: unreadable or missing files, empty selections.
  """
  if not isinstance(spec, dict) or "source" not in spec:
    raise errors.ConfigError(f"a face set spec must be a dict with a 'source' key (one of "
                             f"{SOURCES}), got {spec!r}")
  spec = dict(spec)
  if spec["source"] not in _BUILDERS:
    raise errors.ConfigError(f"face set source {spec['source']!r} is unknown; use one of "
                             f"{SOURCES}")
  required = {"folder": ("paths",), "celeba": ("root",), "video": ("paths",),
              "samples": ("name",), "union": ("parts",)}.get(spec["source"], ())
  for field in required:
    if field not in spec:
      raise errors.ConfigError(f"face set spec {spec!r} lacks the field {field!r}")
  face_set = _BUILDERS[spec["source"]](spec, int(resolution), seed)
  if len(face_set) == 0:
    raise errors.DataError(f"face set spec {spec!r} selects no image")
  face_set.spec = dict(spec, resolved=face_set.spec) if spec["source"] == "auto" else spec
  return face_set


def manifest(face_set, role=""):
  """A JSON-able description: spec, count, pixel digest and the name of every image."""
  return {"role": role, "spec": face_set.spec, "count": len(face_set),
          "sha256_pixels": face_set.digest(), "images": list(face_set.names),
          "skipped_files": list(face_set.skipped)}


def write_manifest(path, face_set, role=""):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(manifest(face_set, role), f, indent=1, default=str)
    f.write("\n")


def check_disjoint(named_sets):
  """Raises DataError when two face sets share an image (by origin name)."""
  seen = {}
  for role, face_set in named_sets.items():
    for name in face_set.names:
      if name in seen and seen[name] != role:
        raise errors.DataError(f"the {seen[name]} and {role} face sets share the image "
                               f"{name!r}: inputs and memory must never share images")
      seen[name] = role
