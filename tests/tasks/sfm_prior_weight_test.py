"""tasks.sfm_prior_weight: the depth discriminator only with a memory that suits the inputs."""

from aign_tf import config
from aign_tf import testing
from aign_tf.tasks import sfm


class PriorWeightTest(testing.TestCase):

  def test_procedural_source_keeps_the_discriminator(self):
    config.parse([], ["tasks.SfmTask.source = 'procedural'"])
    self.assertEqual(sfm.sfm_prior_weight(0.01), 0.01)

  def test_a_video_without_a_memory_trains_without_it_and_says_how_to_give_one(self):
    config.parse([], ["tasks.SfmTask.source = 'frames'",
                      "sfm_sources.Frames.data_dir = '/data/drive.mp4'"])
    with self.assertLogs(level="WARNING") as logs:
      self.assertEqual(sfm.sfm_prior_weight(0.01), 0.0)
    text = "\n".join(logs.output)
    self.assertIn("/data/drive.mp4", text)
    self.assertIn("tasks.SfmTask.memory_file", text)

  def test_a_video_with_a_memory_keeps_it(self):
    config.parse([], ["tasks.SfmTask.source = 'frames'",
                      "tasks.SfmTask.memory_file = '/data/road_depth.npy'"])
    self.assertEqual(sfm.sfm_prior_weight(0.01), 0.01)


if __name__ == "__main__":
  testing.main()
