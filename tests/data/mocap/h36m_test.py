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

  def test_load_2d_coco_layout_is_mapped_or_kept(self):
    keypoints = np.random.default_rng(1).uniform(0, 500, size=(3, 17, 2)).astype(np.float32)
    path = self.path("data_2d_custom_myvideos.npz")
    np.savez_compressed(
        path, positions_2d={"clip.mp4": {"custom": [keypoints]}},
        metadata={"layout_name": "coco", "num_joints": 17,
                  "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15],
                                         [2, 4, 6, 8, 10, 12, 14, 16]],
                  "video_metadata": {"clip.mp4": {"w": 640, "h": 480}}})
    clips, metadata = h36m.load_h36m_2d(path)
    self.assertEqual(metadata["layout"], "coco17")
    self.assertEqual(metadata["video_metadata"]["clip.mp4"]["w"], 640)
    mapped = clips["clip.mp4/custom/0"][0]
    # H36M order: the pelvis is the midpoint of COCO's hips (11, 12), l_wrist is COCO's 9.
    self.assertAllClose(mapped[:, 0], (keypoints[:, 11] + keypoints[:, 12]) / 2, rtol=1e-5)
    self.assertAllClose(mapped[:, 13], keypoints[:, 9])
    kept, _ = h36m.load_h36m_2d(path, keep_layout=True)
    self.assertAllClose(kept["clip.mp4/custom/0"][0], keypoints)

  def test_load_2d_selects_subjects_actions_cameras(self):
    keypoints = np.zeros((2, 17, 2), np.float32)
    np.savez(self.path("sel.npz"),
             positions_2d={"S1": {"Walking 1": [keypoints] * 4, "Eating": [keypoints] * 4},
                           "S5": {"Walking 1": [keypoints] * 4}})
    clips, _ = h36m.load_h36m_2d(self.path("sel.npz"), subjects=["S1"], actions=["Walking 1"],
                                 cameras=["2", 3])
    self.assertEqual(sorted(clips), ["S1/Walking 1/2", "S1/Walking 1/3"])
    with self.assertRaisesRegex(errors.DataError, "no action 'Sitting' in S1"):
      h36m.load_h36m_2d(self.path("sel.npz"), subjects=["S1"], actions=["Sitting"])
    with self.assertRaisesRegex(errors.DataError,
                                r"no camera 4 in S5/Walking 1 \(has \[0, 1, 2, 3\]\)"):
      h36m.load_h36m_2d(self.path("sel.npz"), subjects=["S5"], cameras=[4])

  @testing.parameterized.parameters(
      ({"layout_name": "openpose"}, "layout_name 'openpose' is not one of"),
      ({"layout_name": "h36m", "keypoints_symmetry": [[1, 3], [2, 4]]},
       "keypoints_symmetry .* does not match layout_name 'h36m'"),
      ({"num_joints": 25}, "num_joints=25"),
  )
  def test_load_2d_bad_metadata_raises(self, metadata, message):
    np.savez(self.path("m.npz"), positions_2d={"S1": {"A": [np.zeros((1, 17, 2))]}},
             metadata=metadata)
    with self.assertRaisesRegex(errors.DataError, message):
      h36m.load_h36m_2d(self.path("m.npz"))

  def test_load_2d_float32_overflow_raises(self):
    keypoints = np.zeros((2, 17, 2), np.float64)
    keypoints[1, 4, 1] = 1e300
    np.savez(self.path("o.npz"), positions_2d={"S1": {"A": [keypoints]}})
    with self.assertRaisesRegex(errors.DataError,
                                r"o.npz\[S1\]\[A\]\[0\]: frame 1 keypoint 4 \(l_hip\) is not "
                                "finite in float32"):
      h36m.load_h36m_2d(self.path("o.npz"))

  def test_missing_key_raises(self):
    np.savez(self.path("x.npz"), other=np.zeros(3))
    with self.assertRaisesRegex(errors.DataError, "has no 'positions_3d'"):
      h36m.load_h36m_3d(self.path("x.npz"))
