"""Tests of the sample cache (manifest checksums) and the pose sample splits (no download)."""

import os

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import pose
from aign_tf.data import pose_samples
from aign_tf.data import samples
from aign_tf.data.mocap import procedural


class PoseSamplesTest(testing.TestCase):

  def fake_cache(self):
    cache = self.get_temp_dir()
    directory = pose_samples.task_dir(cache)
    os.makedirs(directory, exist_ok=True)
    names = ["lafan_test", "lafan_test2", "deepmimic_walk", "deepmimic_run"]
    for i, name in enumerate(names):
      clip = procedural.generate_clip("walk", num_frames=4000 if name == "lafan_test" else 10,
                                      seed=i)
      np.savez(os.path.join(directory, f"{name}.npz"), poses=clip, fps=np.float32(30))
    samples.write_manifest(directory, {"fake": {}}, [f"{n}.npz" for n in names])
    return cache, directory

  def test_load_and_split_are_disjoint(self):
    cache, _ = self.fake_cache()
    clips = pose_samples.load(cache)
    memory = pose_samples.split(clips, "memory")
    train = pose_samples.split(clips, "train")
    evaluation = pose_samples.split(clips, "eval")
    self.assertEqual(sorted(memory), ["deepmimic_run", "deepmimic_walk", "lafan_test[0:3600]"])
    self.assertEqual(list(train), ["lafan_test[3600:]"])
    self.assertEqual(list(evaluation), ["lafan_test2"])
    self.assertLen(memory["lafan_test[0:3600]"], 3600)
    self.assertLen(train["lafan_test[3600:]"], 400)

  def test_auto_source_uses_fetched_samples(self):
    cache, _ = self.fake_cache()
    clips = pose.pose_clips("eval", source="auto", cache_dir=cache, stride=2)
    self.assertEqual(list(clips), ["lafan_test2"])
    self.assertLen(clips["lafan_test2"], 5)
    memory = pose.pose_clips("memory", source="auto", cache_dir=cache, exclude=("deepmimic",))
    self.assertEqual(list(memory), ["lafan_test[0:3600]"])

  def test_tampered_file_is_detected(self):
    cache, directory = self.fake_cache()
    np.savez(os.path.join(directory, "lafan_test2.npz"), poses=np.zeros((1, 17, 3)))
    with self.assertRaisesRegex(errors.DataError, "lafan_test2.npz: checksum differs"):
      pose_samples.load(cache)

  def test_nothing_fetched_returns_none(self):
    self.assertIsNone(pose_samples.load(self.get_temp_dir()))

  def test_unknown_task_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "no sample fetcher for 'nothing'"):
      samples.fetch("nothing", self.get_temp_dir())
