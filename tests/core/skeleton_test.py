"""Tests of the joint layout, the mapping table and pose normalisation."""

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import procedural


class SkeletonTest(testing.TestCase):

  def test_every_mapping_has_one_entry_per_joint_with_unit_weight(self):
    for source, entries in skeleton.MAPPINGS.items():
      self.assertLen(entries, skeleton.NUM_JOINTS, source)
      for joint, entry in zip(skeleton.JOINTS, entries):
        # Weights sum to 1, so mappings commute with translations.
        self.assertAlmostEqual(sum(entry.values()), 1.0, msg=f"{source}:{joint}")

  def test_layout_is_a_tree_with_symmetric_pairs(self):
    for child, parent in enumerate(skeleton.PARENTS):
      self.assertLess(parent, child)
    for left, right in skeleton.LEFT_RIGHT_JOINTS:
      self.assertEqual(skeleton.JOINTS[left][2:], skeleton.JOINTS[right][2:])
      self.assertTrue(skeleton.JOINTS[left].startswith("l_"))
    self.assertEqual([skeleton.FLIP[i] for i in skeleton.FLIP], list(range(17)))

  def test_map_array_coco_midpoints_and_confidence(self):
    coco = np.zeros((1, 17, 2), np.float32)
    coco[0, 11] = [2.0, 4.0]  # left hip
    coco[0, 12] = [0.0, 4.0]  # right hip
    confidence = np.ones((1, 17), np.float32)
    confidence[0, 12] = 0.3
    mapped, mapped_conf = skeleton.map_array(coco, "coco17", confidence)
    self.assertAllClose(mapped[0, 0], [1.0, 4.0])  # pelvis = hip midpoint
    self.assertAllClose(mapped_conf[0, 0], 0.3)    # min of its sources
    self.assertAllClose(mapped_conf[0, 4], 1.0)

  def test_map_array_wrong_joint_count_raises(self):
    with self.assertRaisesRegex(errors.DataError, r"expected joints \[..., 17, D\]"):
      skeleton.map_array(np.zeros((2, 15, 2)), "coco17")

  def test_map_named_missing_joint_raises(self):
    with self.assertRaisesRegex(errors.DataError, "LeftHand"):
      skeleton.map_named({"Hips": np.zeros(3)}, "lafan", where="x.bvh")

  def test_canonicalise_faces_plus_z(self):
    pose = procedural.generate_clip("idle", num_frames=1, seed=3)
    for yaw in (0.3, 2.0, -2.5):
      rotated = np.einsum("ij,kj->ki", skeleton.rotation_y(yaw), pose[0])
      canonical = skeleton.canonicalise(rotated[None])[0]
      self.assertAllClose(skeleton.facing_yaw(canonical), 0.0, atol=1e-5)
      self.assertGreater(canonical[4, 0], canonical[1, 0])  # left hip at +x
      self.assertAllClose(canonical, skeleton.canonicalise(pose)[0], atol=1e-5)

  def test_normalise_scale_matches_reference(self):
    pose = procedural.generate_clip("walk", num_frames=10, seed=0) * 7.0
    scaled, factor = skeleton.normalise_scale(pose)
    self.assertAllClose(np.median(skeleton.bone_lengths(scaled).sum(-1)),
                        skeleton.REFERENCE_TOTAL_BONE_LENGTH, rtol=1e-5)
    self.assertGreater(7.0 * factor, 0.5)

  def test_check_poses_names_bad_joint(self):
    pose = np.zeros((2, 17, 3))
    pose[1, 13, 2] = np.nan
    with self.assertRaisesRegex(errors.DataError, "l_wrist"):
      skeleton.check_poses(pose, "clip")
