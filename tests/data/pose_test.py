"""Tests of the pose data: clips, cameras, 2D observations and the memory."""

import json
import os

import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data import pose
from aign_tf.data.mocap import procedural
from aign_tf.renderers import projection


class PoseDataTest(testing.TestCase):

  def test_embedded_clips_are_disjoint_and_reference_sized(self):
    cache = self.get_temp_dir()  # Holds no samples: "auto" falls back to embedded.
    splits = {s: pose.pose_clips(s, cache_dir=cache, embedded_clips=(2, 2, 1),
                                 embedded_frames=8) for s in pose.SPLITS}
    names = [set(clips) for clips in splits.values()]
    self.assertEmpty(names[0] & names[1])
    self.assertEmpty(names[1] & names[2])
    for clips in splits.values():
      for poses in clips.values():
        self.assertEqual(poses.shape, (4, skeleton.NUM_JOINTS, 3))
        total = np.median(skeleton.bone_lengths(poses).sum(-1))
        self.assertAllClose(total, skeleton.REFERENCE_TOTAL_BONE_LENGTH, rtol=1e-4)

  def test_samples_source_without_fetch_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "fetch_samples.py pose"):
      pose.pose_clips("train", source="samples", cache_dir=self.get_temp_dir())

  def test_exclude_everything_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "no clips left"):
      pose.pose_clips("eval", cache_dir=self.get_temp_dir(), embedded_clips=(1, 1, 1),
                      embedded_frames=4, exclude=("procedural",))

  def test_observation_is_reproduced_by_the_renderer(self):
    rng = np.random.default_rng(0)
    poses = procedural.generate_clip("walk", num_frames=6, seed=2)
    cameras = pose.CameraSampler().sample(len(poses), rng)
    views = pose.observe(poses, cameras, rng)
    # Root depth d = distance * cos(angle of the ray): delta = d * s.
    ray = np.concatenate([cameras["offset"], np.ones((6, 1))], 1)
    root_depth = cameras["distance"] / np.linalg.norm(ray, axis=1)
    rendered = projection.render_keypoints(views["target"], root_depth[:, None] *
                                           views["scale_2d"], views["root_2d"],
                                           views["scale_2d"])
    self.assertAllClose(rendered, views["observation"], atol=1e-4)
    # s is the RMS distance of the 16 other joints from the pelvis.
    self.assertAllClose(np.sqrt(np.sum(views["observation"] ** 2, (1, 2)) / 16), np.ones(6),
                        atol=1e-5)
    # Camera frame: the head is above the pelvis, i.e. at smaller y (y down).
    self.assertTrue(np.all(views["target"][:, 10, 1] < views["target"][:, 0, 1]))
    self.assertAllClose(skeleton.bone_lengths(views["target"]), skeleton.bone_lengths(poses),
                        atol=1e-5)

  def test_dropout_moves_joints_to_the_pelvis_and_noise_scales_with_focal(self):
    rng = np.random.default_rng(1)
    poses = procedural.generate_clip("idle", num_frames=200, seed=0)
    sampler = pose.CameraSampler(focal_range=(1000.0, 1000.0))
    cameras = sampler.sample(len(poses), rng)
    clean = pose.observe(poses, cameras, np.random.default_rng(2))
    noisy = pose.observe(poses, cameras, np.random.default_rng(2), noise_px=5.0, dropout=0.3)
    dropped = noisy["confidence"] == 0
    self.assertBetween(dropped.mean(), 0.2, 0.35)
    self.assertFalse(dropped[:, 0].any())
    self.assertAllClose(noisy["observation"][dropped], np.zeros((dropped.sum(), 2)))
    kept = ~dropped
    kept[:, 0] = False
    noise = noisy["keypoints_2d"][kept] - clean["keypoints_2d"][kept]
    self.assertAllClose(noise.std(), 5.0 / 1000.0, rtol=0.1)

  def test_normalise_keypoints_bad_input_raises(self):
    with self.assertRaisesRegex(errors.DataError, "all joints at one point"):
      pose.normalise_keypoints(np.zeros((1, 17, 2)))
    with self.assertRaisesRegex(errors.DataError, r"\[..., 17, 2\]"):
      pose.normalise_keypoints(np.ones((1, 16, 2)))

  def test_memory_frames(self):
    poses = procedural.generate_clip("run", num_frames=5, seed=4)
    canonical = pose.memory_poses(poses, "canonical")
    self.assertAllClose(skeleton.facing_yaw(canonical), np.zeros(5), atol=1e-5)
    cameras = pose.CameraSampler().sample(5, np.random.default_rng(0))
    camera = pose.memory_poses(poses, "camera", cameras)
    self.assertAllClose(skeleton.bone_lengths(camera), skeleton.bone_lengths(poses), atol=1e-5)
    with self.assertRaisesRegex(errors.ConfigError, "memory frame"):
      pose.memory_poses(poses, "world")


class ClipFilesTest(testing.TestCase):

  def test_files_source_reads_each_format(self):
    directory = self.get_temp_dir()
    identity = [1.0, 0.0, 0.0, 0.0]
    frame = ([0.033, 0.0, 0.85, 0.0] + identity * 4 + [-0.5] + identity * 2 + [0.3] +
             identity + [0.0] + identity * 2 + [0.0])
    with open(os.path.join(directory, "walk.txt"), "w") as f:
      json.dump({"Frames": [frame] * 6}, f)
    positions = np.zeros((4, 17, 3), np.float32)
    positions += procedural.generate_clip("idle", num_frames=4, seed=0)[:, :, [0, 2, 1]] * [
        1, -1, 1]  # y-up -> z-up
    np.savez(os.path.join(directory, "data_3d_h36m.npz"),
             positions_3d={"S1": {"Walk": positions}, "S9": {"Eat": positions}})
    files = {"memory": [os.path.join(directory, "*.txt")],
             "eval": [os.path.join(directory, "data_3d_h36m.npz:S9")]}
    memory = pose.pose_clips("memory", source="files", files=files, stride=1)
    self.assertEqual(list(memory), ["walk"])
    self.assertEqual(memory["walk"].shape, (6, 17, 3))
    evaluation = pose.pose_clips("eval", source="files", files=files, stride=1)
    self.assertEqual(list(evaluation), ["data_3d_h36m/S9/Eat"])
    # Back to y up: the head is above the pelvis.
    self.assertTrue(np.all(evaluation["data_3d_h36m/S9/Eat"][:, 10, 1] > 0.3))

  def test_files_source_errors(self):
    with self.assertRaisesRegex(errors.ConfigError, "data.pose_clips.files"):
      pose.pose_clips("train", source="files", files={"memory": []})
    with self.assertRaisesRegex(errors.DataError, "matches no file"):
      pose.pose_clips("train", source="files",
                      files={"train": [os.path.join(self.get_temp_dir(), "none*.bvh")]})
    path = os.path.join(self.get_temp_dir(), "clip.fbx")
    open(path, "w").close()
    with self.assertRaisesRegex(errors.DataError, "unknown mocap extension"):
      pose.load_clip_files([path])


if __name__ == "__main__":
  tf.test.main()
