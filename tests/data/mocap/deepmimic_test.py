"""Tests of the DeepMimic clip reader on a tiny file written here."""

import json
import math
import os

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import deepmimic

IDENTITY = [1.0, 0.0, 0.0, 0.0]


def frame(knee=0.0, root_height=0.85):
  return ([0.0333, 0.0, root_height, 0.0] + IDENTITY * 4 + [knee] + IDENTITY * 2 + [0.0] +
          IDENTITY + [0.0] + IDENTITY * 2 + [0.0])


class DeepMimicTest(testing.TestCase):

  def write(self, frames):
    path = os.path.join(self.get_temp_dir(), "humanoid3d_test.txt")
    with open(path, "w") as f:
      json.dump({"Loop": "wrap", "Frames": frames}, f)
    return path

  def test_rest_pose_and_knee_bend(self):
    poses = deepmimic.load_deepmimic(self.write([frame(), frame(knee=-math.pi / 2)]))
    self.assertEqual(poses.shape, (2, skeleton.NUM_JOINTS, 3))
    # Rest: right ankle straight below the right hip by thigh + shin (0.25 urdf scale).
    drop = 0.25 * (1.686184 + 1.639480)
    self.assertAllClose(poses[0, 3] - poses[0, 1], [0.0, -drop, 0.0], atol=1e-6)
    # The right hip is at +z (the humanoid faces +x).
    self.assertGreater(poses[0, 1, 2], 0.0)
    lengths = skeleton.bone_lengths(poses)
    self.assertAllClose(lengths[0], lengths[1], atol=1e-6)
    self.assertGreater(np.abs(poses[1, 3] - poses[0, 3]).max(), 0.2)

  def test_non_finite_value_names_frame_and_field(self):
    # json.dump writes NaN / Infinity, and json.load reads them back as floats.
    for value in (float("nan"), float("inf"), -float("inf")):
      bad = frame()
      bad[20] = value  # The right knee angle.
      with self.subTest(value), self.assertRaisesRegex(
          errors.DataError, r"humanoid3d_test.txt: non-finite value .* frame 1, field 20"):
        deepmimic.load_deepmimic(self.write([frame(), bad]))

  def test_non_numeric_frames_raise(self):
    for frames in ([frame()[:-1] + ["x"]], [frame(), frame()[:10]]):
      with self.assertRaisesRegex(errors.DataError, "humanoid3d_test.txt: .*Frames"):
        deepmimic.load_deepmimic(self.write(frames))

  def test_wrong_frame_size_raises(self):
    with self.assertRaisesRegex(errors.DataError, r"expected Frames \[T, 44\]"):
      deepmimic.load_deepmimic(self.write([frame()[:-1]]))
