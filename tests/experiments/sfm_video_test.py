"""experiments/sfm_video.py: the training command for a video or a gin file with its frames."""

import os
from unittest import mock

from absl import app

from aign_tf import testing


class TrainCommandTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.script = testing.load_script("experiments/sfm_video.py")
    self.calls = []

    def run(command, **kwargs):
      del kwargs
      self.calls.append(command)

    self.enter_context(mock.patch.object(self.script.subprocess, "run", run))

  def parse(self, *argv):
    # Flags keep their values between parses: start each from the defaults.
    self.script.FLAGS.unparse_flags()
    self.script.FLAGS(["sfm_video"] + list(argv))

  def command(self, *argv):
    self.parse(*argv)
    model_dir = os.path.join(self.get_temp_dir(), "photometric")
    self.script.train("photometric", model_dir)
    return self.calls[-1]

  def test_a_video_binds_the_frames(self):
    command = self.command("--video=/data/clip.mp4", "--train_steps=600")
    self.assertIn("--gin_file=gin/sfm_video.gin", command)
    self.assertIn("--gin_bindings=sfm_sources.Frames.data_dir = '/data/clip.mp4'", command)
    self.assertIn("--gin_bindings=train.eval_every = 200", command)

  def test_a_gin_file_with_its_own_frames(self):
    command = self.command("--gin_file=gin/sfm_dashcam.gin", "--train_steps=10000")
    self.assertIn("--gin_file=gin/sfm_dashcam.gin", command)
    self.assertFalse([a for a in command if "data_dir" in a])
    # A long run evaluates 20 times, not every 200 steps.
    self.assertIn("--gin_bindings=train.eval_every = 500", command)

  def test_the_road_prior_variant(self):
    self.parse("--gin_file=gin/sfm_dashcam.gin", "--road_fov_degrees=62.9")
    self.script.train("aign_road", os.path.join(self.get_temp_dir(), "aign_road"))
    command = self.calls[-1]
    self.assertIn("--gin_bindings=tasks.SfmTask.memory_file = @data.road_depth_memory()",
                  command)
    self.assertIn("--gin_bindings=data.road_depth_memory.fov_degrees = 62.9", command)
    self.assertIn("--gin_bindings=models.AIGN.adversarial_weight = 0.01", command)

  def test_the_video_gin_file_needs_a_video(self):
    self.parse()
    with self.assertRaisesRegex(app.UsageError, "--video is required"):
      self.script.main([])
    self.parse("--gin_file=gin/missing.gin")
    with self.assertRaisesRegex(app.UsageError, "no such file .*missing.gin"):
      self.script.main([])


if __name__ == "__main__":
  testing.main()
