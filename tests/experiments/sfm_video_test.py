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
    self.parse("--gin_file=gin/sfm_dashcam.gin", "--road_camera=fov",
               "--road_fov_degrees=62.9", "--noroad_mirror")
    self.script.train("aign_road", os.path.join(self.get_temp_dir(), "aign_road"))
    command = self.calls[-1]
    self.assertIn("--gin_bindings=tasks.SfmTask.memory_file = @data.road_depth_memory()",
                  command)
    self.assertIn("--gin_bindings=data.road_depth_memory.fov_degrees = 62.9", command)
    self.assertIn("--gin_bindings=models.AIGN.adversarial_weight = 0.01", command)
    self.assertFalse([a for a in command if "mirror" in a or "intrinsics" in a])
    # Bindings given to the script come last, so they override the variant's (a smaller
    # weight).
    self.parse("--gin_file=gin/sfm_dashcam.gin", "--road_camera=fov",
               "--gin_bindings=models.AIGN.adversarial_weight = 0.001")
    self.script.train("aign_road", os.path.join(self.get_temp_dir(), "aign_road"))
    weights = [a for a in self.calls[-1] if "adversarial_weight" in a]
    self.assertEqual(weights[-1], "--gin_bindings=models.AIGN.adversarial_weight = 0.001")

  def test_the_road_memory_sees_through_the_task_camera(self):
    # A folder of frames with a principal point low in the frame (as the dashcam's after its
    # bonnet is cropped): the road memory is rendered through the training pairs' camera.
    folder = testing.write_random_frames(os.path.join(self.get_temp_dir(), "frames"), 6, 40,
                                         120)
    self.parse(f"--video={folder}", "--gin_bindings=sfm_sources.Frames.fov_degrees = None",
               "--gin_bindings=sfm_sources.Frames.intrinsics = [100.0, 100.0, 59.5, 30.0]")
    self.script.train("aign_road", os.path.join(self.get_temp_dir(), "aign_road"))
    command = self.calls[-1]
    bound = [a for a in command if a.startswith("--gin_bindings=data.road_depth_memory."
                                                "intrinsics")]
    self.assertLen(bound, 1)
    values = [float(v) for v in bound[0].split("[")[1].rstrip("]").split(",")]
    # 120 x 40 is already 3:1, so only the resize to 64 x 192 (x 1.6) applies.
    self.assertAllClose(values, [160.0, 160.0, 59.5 * 1.6, 30.0 * 1.6], atol=1.0)
    self.assertIn("--gin_bindings=data.road_depth_memory.mirror = True", command)

  def test_the_video_gin_file_needs_a_video(self):
    self.parse()
    with self.assertRaisesRegex(app.UsageError, "--video is required"):
      self.script.main([])
    self.parse("--gin_file=gin/missing.gin")
    with self.assertRaisesRegex(app.UsageError, "no such file .*missing.gin"):
      self.script.main([])


if __name__ == "__main__":
  testing.main()
