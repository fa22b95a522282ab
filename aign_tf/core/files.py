"""File helpers every layer may use: atomic writes (a crash never leaves a half-written
file), cached arrays, appended lines and digests."""

import contextlib
import hashlib
import os
import shutil
import tempfile

from aign_tf import errors


def write_error(path, error):
  """An `errors.WriteError` naming `path` for an OSError (read-only or full disk, ...)."""
  reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
  return errors.WriteError(f"{path}: cannot write ({reason})")


def make_dirs(directory):
  """`os.makedirs(directory, exist_ok=True)`; an `errors.WriteError` naming it on failure."""
  try:
    os.makedirs(directory, exist_ok=True)
  except OSError as e:
    raise write_error(directory, e) from e


def atomic_write(path, data):
  """Writes `data` (str or bytes) to `path` through a temporary file and a rename.

  Raises:
    errors.WriteError: the file cannot be written (naming `path`); nothing is left behind.
  """
  directory = os.path.dirname(os.path.abspath(path))
  make_dirs(directory)
  mode = "wb" if isinstance(data, bytes) else "w"
  tmp = None
  try:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-" + os.path.basename(path))
    with os.fdopen(fd, mode) as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except OSError as e:
    if tmp is not None and os.path.exists(tmp):
      os.remove(tmp)
    raise write_error(path, e) from e
  except BaseException:
    if tmp is not None and os.path.exists(tmp):
      os.remove(tmp)
    raise


def cached_arrays(path, compute):
  """A dict of NumPy arrays kept in the `.npz` file `path`: loaded if it exists, else
  `compute()`d and saved atomically (a temporary file, then a rename), so an interrupted
  run never leaves a half-written cache. An unreadable cache file is recomputed."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  if os.path.exists(path):
    try:
      with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
    except Exception as e:  # pylint: disable=broad-except
      logging.warning("%s: unreadable cache file (%s); computing it again", path, e)
  arrays = compute()
  if not isinstance(arrays, dict):
    arrays = {"array": arrays}
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
  try:
    with os.fdopen(fd, "wb") as f:
      np.savez(f, **arrays)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  logging.info("cached %s", path)
  return arrays


def append_line(path, line):
  """Appends `line` on a line of its own, even after a line a kill cut short."""
  with open(path, "a+b") as f:
    f.seek(0, os.SEEK_END)
    if f.tell():
      f.seek(-1, os.SEEK_END)
      if f.read(1) != b"\n":
        f.write(b"\n")
    f.write(line.encode("utf-8") + b"\n")


def text_digest(text):
  """sha256 hex digest (64 digits) of a text, e.g. an operative gin config."""
  return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def staged_folder(output_dir):
  """Builds a folder atomically: yields a sibling scratch folder to write into, which
  replaces `output_dir` (and its previous content) when the block ends without an error and
  is removed when it raises, so `output_dir` is always either as it was or complete.

  Raises:
    errors.WriteError: the parent folder cannot be written (naming it).
  """
  output_dir = os.path.abspath(output_dir)
  parent = os.path.dirname(output_dir)
  make_dirs(parent)
  name = os.path.basename(output_dir)
  try:
    staging = tempfile.mkdtemp(prefix=f".{name}-", dir=parent)
  except OSError as e:
    raise write_error(parent, e) from e
  try:
    yield staging
    if os.path.exists(output_dir):
      old = tempfile.mkdtemp(prefix=f".{name}-old-", dir=parent)
      os.rename(output_dir, os.path.join(old, "previous"))
      os.rename(staging, output_dir)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.rename(staging, output_dir)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
