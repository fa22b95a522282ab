"""Every gin file under gin/ trains for 2 steps on tiny shapes (with gin/testing/tiny.gin)."""

import glob
import os

from aign_tf import config
from aign_tf import runs
from aign_tf import testing
from aign_tf.train import trainer

# Files that need the user's data have their own smoke test, which writes tiny data first.
NEEDS_DATA = {"sfm_video.gin": "tests/tasks/sfm_health_test.py (VideoConfigTest)",
              "sfm_dashcam.gin": "tests/data/sfm_samples_test.py (DashcamGinTest)",
              "sfm_dashcam_road.gin": "tests/data/sfm_samples_test.py (DashcamGinTest)"}
GIN_FILES = sorted(
    os.path.relpath(path, testing.GIN_DIR)
    for path in glob.glob(os.path.join(testing.GIN_DIR, "*.gin"))
    if os.path.basename(path) != "base.gin" and os.path.basename(path) not in NEEDS_DATA)


class GinSmokeTest(testing.TestCase):

  def test_there_are_gin_files(self):
    self.assertIn("toy.gin", GIN_FILES)

  @testing.parameterized.parameters(*[(f,) for f in GIN_FILES])
  def test_trains_two_steps(self, gin_file):
    model_dir = os.path.join(self.get_temp_dir(), os.path.splitext(gin_file)[0])
    config.parse([os.path.join(testing.GIN_DIR, gin_file),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
    result = trainer.train(model_dir)
    self.assertEqual(result["step"], 2)
    self.assertTrue(os.path.isfile(os.path.join(model_dir, runs.OPERATIVE_CONFIG)))
    self.assertTrue(glob.glob(os.path.join(model_dir, runs.CHECKPOINT_DIR, "ckpt-2.index")))
    for name, value in result["train"].items():
      self.assert_finite(value)
