"""Tests of tools/fetch_samples.py as a user runs it (no download: cached or bad input)."""

import os
import subprocess
import sys

import numpy as np

from aign_tf import testing
from aign_tf.data import pose_samples
from aign_tf.data import samples


def tool(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join("tools", "fetch_samples.py"), *args],
                        cwd=testing.REPO_DIR, capture_output=True, text=True, timeout=300,
                        env=env)


class FetchSamplesToolTest(testing.TestCase):

  def test_unknown_task_is_one_line_error(self):
    result = tool("nothing", f"--cache_dir={self.get_temp_dir()}")
    self.assertEqual(result.returncode, 2)
    self.assertIn("error: no sample fetcher for 'nothing'", result.stderr)

  def test_cached_pose_samples_are_listed_without_download(self):
    cache = self.get_temp_dir()
    directory = pose_samples.task_dir(cache)
    os.makedirs(directory)
    np.savez(os.path.join(directory, "lafan_test.npz"), poses=np.zeros((2, 17, 3)))
    samples.write_manifest(directory, {}, ["lafan_test.npz"])
    result = tool("pose", f"--cache_dir={cache}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn(samples.sha256(os.path.join(directory, "lafan_test.npz")), result.stdout)
    self.assertIn("1 files in", result.stdout)
