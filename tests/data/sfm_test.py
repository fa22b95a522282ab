"""Tests of the sfm data: procedural scenes, rotations, real-format loaders, bad files."""

import os
import sys
import tempfile
from unittest import mock

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.data import kitti
from aign_tf.data import sfm
from aign_tf.renderers import view_synthesis


def _tempdir(test):
  return tempfile.mkdtemp(dir=test.get_temp_dir())


def _tempfile(test, content):
  path = os.path.join(_tempdir(test), "poses.txt")
  with open(path, "w") as f:
    f.write(content)
  return path


def _write_png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)


class RotationTest(testing.TestCase):

  def test_euler_matches_tensorflow_graphics(self):
    from tensorflow_graphics.geometry.transformation import rotation_matrix_3d  # pylint: disable=g-import-not-at-top
    angles = np.random.default_rng(0).uniform(-1.0, 1.0, (6, 3))
    self.assertAllClose(sfm.euler_to_matrix(angles),
                        rotation_matrix_3d.from_euler(tf.constant(angles)), atol=1e-10)
    self.assertAllClose(sfm.matrix_to_euler(sfm.euler_to_matrix(angles)), angles)

  def test_quaternion_preset(self):
    # 90 degrees about z: x -> y.
    q = [0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)]
    self.assertAllClose(sfm.quaternion_to_matrix(q) @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])

  def test_relative_egomotion_maps_target_points_to_source(self):
    rng = np.random.default_rng(1)
    poses = np.tile(np.eye(4), (2, 1, 1))
    poses[:, :3, :3] = sfm.euler_to_matrix(rng.uniform(-0.3, 0.3, (2, 3)))
    poses[:, :3, 3] = rng.normal(size=(2, 3))
    egomotion = sfm.relative_egomotion(poses[0], poses[1])
    point_target = np.array([0.3, -0.2, 4.0])
    world = poses[0, :3, :3] @ point_target + poses[0, :3, 3]
    point_source = poses[1, :3, :3].T @ (world - poses[1, :3, 3])
    moved = sfm.euler_to_matrix(egomotion[3:]) @ point_target + egomotion[:3]
    self.assertAllClose(moved, point_source, atol=1e-5)


class ProceduralTest(testing.TestCase):

  def test_generate_pairs_deterministic(self):
    a = sfm.generate_pairs(2, 16, 48, seed=5)
    b = sfm.generate_pairs(2, 16, 48, seed=5)
    c = sfm.generate_pairs(2, 16, 48, seed=6)
    for key in a:
      self.assertAllEqual(a[key], b[key])
    self.assertNotAllClose(a["depth"], c["depth"])
    self.assertEqual(a["target_frame"].shape, (2, 16, 48, 3))
    self.assertEqual(a["target_frame"].dtype, np.uint8)
    self.assertEqual(a["depth"].shape, (2, 16, 48, 1))
    self.assertEqual(a["egomotion"].shape, (2, 6))
    self.assertTrue(np.all(np.isfinite(a["depth"])) and np.all(a["depth"] > 0))
    # The source frame was taken behind the target: target points are ahead in it.
    self.assertTrue(np.all(a["egomotion"][:, 2] > 0))

  def test_true_depth_and_motion_reproduce_target(self):
    # Smooth procedural textures: this checks the geometry, not resampling of fine detail.
    pairs = sfm.generate_pairs(6, 32, 96, seed=3, texture="procedural")
    source = pairs["source_frame"].astype(np.float32) / 255.0
    target = pairs["target_frame"].astype(np.float32) / 255.0

    def error(egomotion):
      warped, valid, _ = view_synthesis.warp(source, pairs["depth"], egomotion,
                                             pairs["intrinsics"])
      valid = np.asarray(valid)
      return float((np.abs(np.asarray(warped) - target) * valid).sum() /
                   (3 * valid.sum())), float(valid.mean())

    true_error, valid_fraction = error(pairs["egomotion"])
    no_motion_error, _ = error(np.zeros_like(pairs["egomotion"]))
    self.assertGreater(valid_fraction, 0.9)
    self.assertLess(true_error, 0.025)
    self.assertLess(true_error, 0.4 * no_motion_error)
    # The exact motion beats nearby wrong ones (the residual is resampling, not geometry).
    for factor in (0.8, 1.25):
      wrong = pairs["egomotion"] * np.array([factor] * 3 + [1.0] * 3, np.float32)
      self.assertLess(true_error, error(wrong)[0])

  def test_depth_memory_from_other_scenes(self):
    memory = sfm.generate_depth_memory(4, 16, 48, seed=7)
    self.assertEqual(memory.shape, (4, 16, 48, 1))
    self.assertTrue(np.all(memory > 0))
    pairs = sfm.generate_pairs(4, 16, 48, seed=0)
    self.assertNotAllClose(memory, pairs["depth"])

  def test_photo_splits_are_disjoint_and_used_by_split(self):
    self.assertEmpty(set(sfm.PHOTO_SPLITS["train"]) & set(sfm.PHOTO_SPLITS["test"]))
    train = sfm.generate_pairs(2, 16, 48, seed=0, split="train")
    test = sfm.generate_pairs(2, 16, 48, seed=0, split="test")
    # Same seed, same geometry, other photos.
    self.assertAllEqual(train["depth"], test["depth"])
    self.assertNotAllClose(train["target_frame"], test["target_frame"])
    with self.assertRaisesRegex(errors.ConfigError, "marble"):
      sfm.generate_pairs(1, 16, 48, texture="marble")
    with self.assertRaisesRegex(errors.ConfigError, "split"):
      sfm.generate_pairs(1, 16, 48, split="validation")

  def test_photos_without_scikit_image_is_a_clear_error(self):
    sfm.photo_textures.cache_clear()
    try:
      with mock.patch.dict(sys.modules, {"skimage": None}):
        with self.assertRaisesRegex(errors.ConfigError, "scikit-image"):
          sfm.generate_pairs(1, 16, 48, texture="photos")
        # The procedural textures need nothing.
        self.assertLen(sfm.generate_pairs(1, 16, 48, texture="procedural")["depth"], 1)
    finally:
      sfm.photo_textures.cache_clear()

  def test_scenes_are_hard_enough(self):
    # The floor for the embedded data: depths between ~1 and 30 units, camera
    # translation of at least 0.15 units and rotations of a few degrees between frames.
    pairs = sfm.generate_pairs(60, 8, 24, seed=11)
    depth, egomotion = pairs["depth"], pairs["egomotion"]
    self.assertGreater(float(depth.min()), 0.5)
    self.assertLess(float(depth.max()), 32.0)
    self.assertGreater(float(np.percentile(depth, 99)), 15.0)
    self.assertGreaterEqual(float(np.linalg.norm(egomotion[:, :3], axis=1).min()), 0.15)
    self.assertGreater(float(np.degrees(np.abs(egomotion[:, 3:]).max())), 2.0)

  def test_parallel_generation_matches_serial(self):
    serial = sfm.generate_pairs(4, 8, 24, seed=2, workers=1)
    parallel = sfm.generate_pairs(4, 8, 24, seed=2, workers=2)
    for key in serial:
      self.assertAllEqual(serial[key], parallel[key])
    self.assertAllEqual(sfm.generate_depth_memory(3, 8, 24, seed=1, workers=1),
                        sfm.generate_depth_memory(3, 8, 24, seed=1, workers=2))

  def test_scene_conditions(self):
    standard = sfm.generate_pairs(3, 32, 96, seed=4, split="test")
    conditions = {c: sfm.generate_pairs(3, 32, 96, seed=4, split="test", condition=c)
                  for c in sfm.CONDITIONS}
    # Textureless: the same scenes and poses, walls and ceiling of one colour each, so the
    # frames vary less from pixel to pixel.
    flat = conditions["textureless"]
    self.assertAllEqual(flat["depth"], standard["depth"])
    self.assertAllEqual(flat["egomotion"], standard["egomotion"])

    def variation(frames):
      frames = frames.astype(np.float64)
      return float(np.mean(np.abs(np.diff(frames, axis=2))))

    self.assertLess(variation(flat["target_frame"]), 0.8 * variation(standard["target_frame"]))
    # Repeated: every surface a fine pattern, more variation than the photos.
    self.assertGreater(variation(conditions["repeated"]["target_frame"]),
                       1.5 * variation(standard["target_frame"]))
    # Occlusions: pillars stand in the corridor, so more depth edges and nearer depths.
    scene = sfm.Scene(np.random.default_rng(0), texture=None)
    pillars = sfm.Scene(np.random.default_rng(0), texture=None, condition="occlusions")
    self.assertGreaterEqual(len(pillars.boxes) - len(scene.boxes), 6)

    def depth_edges(depth):
      return float(np.mean(np.abs(np.diff(np.log(depth), axis=2)) > 0.2))

    self.assertGreater(depth_edges(conditions["occlusions"]["depth"]),
                       depth_edges(standard["depth"]))
    for pairs in conditions.values():
      self.assertTrue(np.all(np.isfinite(pairs["depth"])) and np.all(pairs["depth"] > 0))
      self.assertGreaterEqual(float(np.linalg.norm(pairs["egomotion"][:, :3], axis=1).min()),
                              0.15)
    with self.assertRaisesRegex(errors.ConfigError, "condition.*foggy"):
      sfm.generate_pairs(1, 16, 48, condition="foggy")

  def test_scene_with_photo_textures(self):
    photos = [np.random.default_rng(0).uniform(size=(300, 200, 3))]
    scene = sfm.Scene(np.random.default_rng(1), texture="photos", photos=photos)
    size = sfm._TEXTURE_SIZE  # pylint: disable=protected-access
    self.assertTrue(all(t.shape == (size, size, 3) for t in scene.textures))
    pose = np.eye(4)
    image, depth = sfm.render_view(scene, pose, 16, 48, sfm.default_intrinsics(16, 48))
    self.assertEqual(image.shape, (16, 48, 3))
    self.assertBetween(float(image.min()), 0.0, 1.0)
    self.assertTrue(np.all(depth > 0))


_CALIB = """calib_time: 09-Jan-2012 13:57:47
S_rect_02: 1.242000e+03 3.750000e+02
P_rect_02: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03
"""


class KittiRawTest(testing.TestCase):

  def _write_drive(self, root, frames=3, calib=_CALIB, size=(375, 1242)):
    date = os.path.join(root, "2011_09_26")
    os.makedirs(date, exist_ok=True)
    with open(os.path.join(date, "calib_cam_to_cam.txt"), "w") as f:
      f.write(calib)
    images = []
    for i in range(frames):
      image = np.full(size + (3,), 40 * i, np.uint8)
      _write_png(os.path.join(date, "2011_09_26_drive_0001_sync", "image_02", "data",
                              f"{i:010d}.png"), image)
      images.append(image)
    return images

  def test_load_kitti_raw(self):
    root = _tempdir(self)
    self._write_drive(root)
    pairs = kitti.load_kitti_raw(root, 16, 48)
    self.assertEqual(pairs["target_frame"].shape, (2, 16, 48, 3))
    self.assertAllEqual(pairs["target_frame"][0, 0, 0], [40, 40, 40])
    self.assertAllEqual(pairs["source_frame"][0, 0, 0], [0, 0, 0])
    sx, sy = 48 / 1242, 16 / 375
    self.assertAllClose(pairs["intrinsics"][0],
                        [721.5377 * sx, 721.5377 * sy, (609.5593 + 0.5) * sx - 0.5,
                         (172.854 + 0.5) * sy - 0.5], rtol=1e-5)
    self.assertAllEqual(pairs["drive"], ["2011_09_26_drive_0001_sync"] * 2)

  def test_kitti_raw_exception_raised(self):
    root = _tempdir(self)
    with self.assertRaisesRegex(errors.DataError, "no KITTI raw drives"):
      kitti.load_kitti_raw(root)
    self._write_drive(root, calib="S_rect_02: 1242 375\n")
    with self.assertRaisesRegex(errors.DataError, r"calib_cam_to_cam.txt: no 'P_rect_02'"):
      kitti.load_kitti_raw(root)
    self._write_drive(root, calib="P_rect_02: 1 2 3\n")
    with self.assertRaisesRegex(errors.DataError, "has 3 values, expected 12"):
      kitti.load_kitti_raw(root)
    self._write_drive(root, size=(10, 20))
    with self.assertRaisesRegex(errors.DataError, r"0000000000.png: image is 20x10"):
      kitti.load_kitti_raw(root)
    with open(os.path.join(root, "2011_09_26", "2011_09_26_drive_0001_sync", "image_02",
                           "data", "0000000000.png"), "w") as f:
      f.write("not a png")
    with self.assertRaisesRegex(errors.DataError, "0000000000.png: cannot read image"):
      kitti.load_kitti_raw(root)


class SfmLearnerTest(testing.TestCase):

  def _write_dump(self, root, cam="241.67,0.0,204.08,0.0,246.28,59.0,0.0,0.0,1.0"):
    strip = np.concatenate([np.full((32, 96, 3), 50 * i, np.uint8) for i in range(3)], axis=1)
    _write_png(os.path.join(root, "seq_02", "0000000005.jpg").replace(".jpg", ".png"), strip)
    with open(os.path.join(root, "seq_02", "0000000005_cam.txt"), "w") as f:
      f.write(cam)
    with open(os.path.join(root, "train.txt"), "w") as f:
      f.write("seq_02 0000000005\n")

  def test_load_sfmlearner(self):
    root = _tempdir(self)
    self._write_dump(root)
    pairs = sfm.load_sfmlearner(root, "train", 16, 48)
    self.assertEqual(pairs["target_frame"].shape, (1, 16, 48, 3))
    self.assertAllEqual(pairs["target_frame"][0, 5, 5], [50, 50, 50])   # middle frame
    self.assertAllEqual(pairs["source_frame"][0, 5, 5], [0, 0, 0])      # the one before
    self.assertAllClose(pairs["intrinsics"][0],
                        [241.67 / 2, 246.28 / 2, (204.08 + 0.5) / 2 - 0.5,
                         (59.0 + 0.5) / 2 - 0.5], rtol=1e-5)

  def test_sfmlearner_exception_raised(self):
    root = _tempdir(self)
    with self.assertRaisesRegex(errors.DataError, "val.txt: split list not found"):
      sfm.load_sfmlearner(root, "val")
    self._write_dump(root, cam="1 2 3 4 5 6 7 8")
    with self.assertRaisesRegex(errors.DataError, "_cam.txt: expected 9 intrinsics values"):
      sfm.load_sfmlearner(root, "train")
    with open(os.path.join(root, "train.txt"), "w") as f:
      f.write("seq_02 0000000009\n")
    with self.assertRaisesRegex(errors.DataError, "0000000009.jpg: image not found"):
      sfm.load_sfmlearner(root, "train")


class PoseFileTest(testing.TestCase):

  def test_load_tum_poses(self):
    path = _tempfile(self, (
        "# timestamp tx ty tz qx qy qz qw\n"
        "1.0 0 0 0 0 0 0 1\n"
        f"1.1 0 0 0.5 0 {np.sin(0.05)} 0 {np.cos(0.05)}\n"))
    stamps, poses = sfm.load_tum_poses(path)
    self.assertAllClose(stamps, [1.0, 1.1])
    egomotion = sfm.consecutive_egomotion(poses)
    # Target = pose 1 (moved 0.5 forward, yawed 0.1 rad); source = pose 0 (identity).
    self.assertAllClose(egomotion[0], [0.0, 0.0, 0.5, 0.0, 0.1, 0.0], atol=1e-6)

  def test_load_kitti_poses(self):
    rows = ["1 0 0 0 0 1 0 0 0 0 1 0", "1 0 0 0.2 0 1 0 0 0 0 1 1.0"]
    path = _tempfile(self, "\n".join(rows) + "\n")
    poses = sfm.load_kitti_poses(path)
    self.assertEqual(poses.shape, (2, 4, 4))
    self.assertAllClose(sfm.consecutive_egomotion(poses)[0], [0.2, 0, 1.0, 0, 0, 0])

  def test_pose_file_exception_raised(self):
    bad_count = _tempfile(self, "1 2 3\n")
    with self.assertRaisesRegex(errors.DataError, ":1: a TUM pose line"):
      sfm.load_tum_poses(bad_count)
    not_numeric = _tempfile(self, "1 0 0 0 0 1 0 x 0 0 1 0\n")
    with self.assertRaisesRegex(errors.DataError, ":1: not numeric"):
      sfm.load_kitti_poses(not_numeric)
    zero_quaternion = _tempfile(self, "0 1 2 3 0 0 0 0\n")
    with self.assertRaisesRegex(errors.DataError, "zero norm"):
      sfm.load_tum_poses(zero_quaternion)
    with self.assertRaisesRegex(errors.DataError, "missing.txt: pose file not found"):
      sfm.load_kitti_poses(os.path.join(self.get_temp_dir(), "missing.txt"))


if __name__ == "__main__":
  tf.test.main()
