"""tools/fetch_samples.py detectors: a cached, intact copy is listed without a download."""

import os
import subprocess
import sys

from aign_tf import testing
from aign_tf.data import samples
from aign_tf.detectors import models


class FetchDetectorsToolTest(testing.TestCase):

  def test_cached_models_are_listed_without_download(self):
    cache = self.get_temp_dir()
    folder = models.task_dir(cache)
    os.makedirs(folder)
    names = [f"{n}.tflite" for n in models.MODELS] + [models.LICENSE_FILE]
    for name in names:
      with open(os.path.join(folder, name), "w") as f:
        f.write(name)
    samples.write_manifest(folder, {}, names)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, os.path.join("tools", "fetch_samples.py"), "detectors",
         f"--cache_dir={cache}"], cwd=testing.REPO_DIR, capture_output=True, text=True,
        timeout=300, env=env)
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn(samples.sha256(os.path.join(folder, "pose_detection.tflite")), result.stdout)
    self.assertIn(f"{len(names)} files in {cache}/detectors", result.stdout)
