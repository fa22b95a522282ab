"""Tests of the atomic file helpers."""

import os

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.core import files


class CachedArraysTest(testing.TestCase):

  def test_computes_once_then_loads(self):
    path = os.path.join(self.get_temp_dir(), "sub", "cache.npz")
    calls = []

    def compute():
      calls.append(1)
      return {"a": np.arange(6).reshape(2, 3), "b": np.ones(2, np.float32)}

    first = files.cached_arrays(path, compute)
    second = files.cached_arrays(path, compute)
    self.assertLen(calls, 1)
    self.assertAllEqual(first["a"], second["a"])
    self.assertEqual(second["b"].dtype, np.float32)
    # Nothing but the cache file is left in the folder (no temporary files).
    self.assertEqual(os.listdir(os.path.dirname(path)), ["cache.npz"])

  def test_failed_compute_leaves_nothing(self):
    path = os.path.join(self.get_temp_dir(), "cache.npz")

    def compute():
      raise KeyboardInterrupt()

    with self.assertRaises(KeyboardInterrupt):
      files.cached_arrays(path, compute)
    self.assertFalse(os.path.exists(path))

  def test_corrupt_cache_is_recomputed(self):
    path = os.path.join(self.get_temp_dir(), "cache.npz")
    files.cached_arrays(path, lambda: {"a": np.arange(1000)})
    with open(path, "r+b") as f:  # Truncate it, as a crash of another program might.
      f.truncate(100)
    with self.assertLogs(level="WARNING") as logs:
      arrays = files.cached_arrays(path, lambda: {"a": np.arange(3)})
    self.assertAllEqual(arrays["a"], [0, 1, 2])
    self.assertIn("cache.npz", "".join(logs.output))
    self.assertAllEqual(files.cached_arrays(path, lambda: None)["a"], [0, 1, 2])

  def test_plain_array_is_wrapped(self):
    path = os.path.join(self.get_temp_dir(), "cache.npz")
    self.assertAllEqual(files.cached_arrays(path, lambda: np.zeros(2))["array"], [0, 0])


if __name__ == "__main__":
  tf.test.main()
