"""Tests of the VideoPose3D-layout Human3.6M readers on tiny npz files written here."""

import os

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.data.mocap import h36m


class H36MTest(testing.TestCase):

  def path(self, name):
    return os.path.join(self.get_temp_dir(), name)

  def test_load_3d_32_joints_z_up(self):
    positions = np.zeros((5, 32, 3), np.float32)
    positions[:, 0] = [1.0, 2.0, 0.9]
    positions[:, 15] = [1.0, 2.0, 1.7]  # Original joint 15 is the head top (layout 10).
    np.savez(self.path("data_3d_h36m.npz"),
             positions_3d={"S1": {"Walking": positions}, "S5": {"Eating": positions[:2]}})
    clips = h36m.load_h36m_3d(self.path("data_3d_h36m.npz"), subjects=["S1"])
    self.assertEqual(list(clips), ["S1/Walking"])
    pose = clips["S1/Walking"]
    self.assertEqual(pose.shape, (5, 17, 3))
    # z up -> y up: the head top is 0.8 m above the pelvis.
    self.assertAllClose(pose[0, 10] - pose[0, 0], [0.0, 0.8, 0.0], atol=1e-6)

  def test_load_3d_bad_shape_raises(self):
    np.savez(self.path("bad.npz"), positions_3d={"S1": {"Walking": np.zeros((5, 20, 3))}})
    with self.assertRaisesRegex(errors.DataError, r"\[S1\]\[Walking\].*\(5, 20, 3\)"):
      h36m.load_h36m_3d(self.path("bad.npz"))

  def test_load_3d_unknown_subject_raises(self):
    np.savez(self.path("d.npz"), positions_3d={"S1": {"A": np.zeros((1, 17, 3))}})
    with self.assertRaisesRegex(errors.DataError, "no subject 'S9'"):
      h36m.load_h36m_3d(self.path("d.npz"), subjects=["S9"])

  def test_load_2d_with_metadata(self):
    keypoints = np.random.default_rng(0).uniform(0, 1000, size=(4, 17, 2)).astype(np.float32)
    np.savez(self.path("data_2d_h36m_gt.npz"),
             positions_2d={"S1": {"Walking": [keypoints, keypoints + 1]}},
             metadata={"layout_name": "h36m", "num_joints": 17,
                       "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]})
    clips, metadata = h36m.load_h36m_2d(self.path("data_2d_h36m_gt.npz"))
    self.assertEqual(sorted(clips), ["S1/Walking/0", "S1/Walking/1"])
    self.assertAllClose(clips["S1/Walking/1"][0], keypoints + 1)
    self.assertAllClose(clips["S1/Walking/0"][1], np.ones((4, 17)))
    self.assertEqual(metadata["layout_name"], "h36m")

  def test_load_2d_nan_raises(self):
    keypoints = np.zeros((2, 17, 2), np.float32)
    keypoints[1, 5, 0] = np.nan
    np.savez(self.path("n.npz"), positions_2d={"S1": {"A": [keypoints]}})
    with self.assertRaisesRegex(errors.DataError, "l_knee"):
      h36m.load_h36m_2d(self.path("n.npz"))

  def test_missing_key_raises(self):
    np.savez(self.path("x.npz"), other=np.zeros(3))
    with self.assertRaisesRegex(errors.DataError, "has no 'positions_3d'"):
      h36m.load_h36m_3d(self.path("x.npz"))
