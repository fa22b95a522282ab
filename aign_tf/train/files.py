"""Small file helpers: atomic writes, so a crash never leaves a half-written file."""

import os
import tempfile


def atomic_write(path, data):
  """Writes `data` (str or bytes) to `path` through a temporary file and a rename."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  mode = "wb" if isinstance(data, bytes) else "w"
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-" + os.path.basename(path))
  try:
    with os.fdopen(fd, mode) as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
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
