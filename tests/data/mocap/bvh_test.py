"""Tests of the BVH parser and forward kinematics on tiny files written here."""

import os

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import bvh

# A three-joint chain: Hips (6 channels) -> Spine (offset 10 cm up) -> Head (10 cm up).
CHAIN = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 10 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.033333
0 100 0 0 0 0 0 0 0
0 100 0 90 0 0 0 0 0
5 100 0 0 0 0 0 0 90
"""

_LAFAN_NAMES = ("Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg",
                "RightFoot", "Spine", "Spine1", "Spine2", "Neck", "Head", "LeftShoulder",
                "LeftArm", "LeftForeArm", "LeftHand", "RightShoulder", "RightArm",
                "RightForeArm", "RightHand")


def lafan_like_bvh(frames=5, seed=0):
  """A BVH with LAFAN1 joint names (a simplified hierarchy) and random rotations."""
  tree = {"Hips": None, "LeftUpLeg": "Hips", "LeftLeg": "LeftUpLeg", "LeftFoot": "LeftLeg",
          "RightUpLeg": "Hips", "RightLeg": "RightUpLeg", "RightFoot": "RightLeg",
          "Spine": "Hips", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Spine2",
          "Head": "Neck", "LeftShoulder": "Spine2", "LeftArm": "LeftShoulder",
          "LeftForeArm": "LeftArm", "LeftHand": "LeftForeArm", "RightShoulder": "Spine2",
          "RightArm": "RightShoulder", "RightForeArm": "RightArm", "RightHand": "RightForeArm"}
  offsets = {"LeftUpLeg": (10, 0, 0), "RightUpLeg": (-10, 0, 0), "LeftLeg": (0, -40, 0),
             "RightLeg": (0, -40, 0), "LeftFoot": (0, -40, 0), "RightFoot": (0, -40, 0),
             "Spine": (0, 10, 0), "Spine1": (0, 10, 0), "Spine2": (0, 10, 0),
             "Neck": (0, 20, 0), "Head": (0, 10, 0), "LeftShoulder": (5, 18, 0),
             "RightShoulder": (-5, 18, 0), "LeftArm": (12, 0, 0), "RightArm": (-12, 0, 0),
             "LeftForeArm": (0, -30, 0), "RightForeArm": (0, -30, 0),
             "LeftHand": (0, -25, 0), "RightHand": (0, -25, 0)}
  lines = ["HIERARCHY"]

  def write(name, depth):
    pad = "  " * depth
    keyword = "ROOT" if tree[name] is None else "JOINT"
    lines.append(f"{pad}{keyword} {name}")
    lines.append(f"{pad}{{")
    lines.append(f"{pad}  OFFSET {' '.join(str(v) for v in offsets.get(name, (0, 0, 0)))}")
    channels = ("6 Xposition Yposition Zposition Zrotation Yrotation Xrotation"
                if tree[name] is None else "3 Zrotation Yrotation Xrotation")
    lines.append(f"{pad}  CHANNELS {channels}")
    for child in [c for c, p in tree.items() if p == name]:
      write(child, depth + 1)
    lines.append(f"{pad}}}")

  write("Hips", 0)
  rng = np.random.default_rng(seed)
  lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.033333"]
  for _ in range(frames):
    values = np.concatenate([[0, 95, 0], rng.uniform(-40, 40, size=3 * len(tree))])
    lines.append(" ".join(f"{v:.4f}" for v in values))
  return "\n".join(lines) + "\n"


class BVHTest(testing.TestCase):

  def write(self, text, name="clip.bvh"):
    path = os.path.join(self.get_temp_dir(), name)
    with open(path, "w") as f:
      f.write(text)
    return path

  def test_forward_kinematics_preset(self):
    positions, fps = bvh.load_bvh(self.write(CHAIN), units="cm")
    self.assertAlmostEqual(fps, 30.0, places=2)
    self.assertEqual(sorted(positions), ["Hips", "Spine", "Spine_end"])
    # Frame 0: straight up. Frame 1: hips turned 90 degrees about z: +y becomes -x.
    # Frame 2: root moved 5 cm along x, spine turned 90 degrees about x: +y becomes +z.
    self.assertAllClose(positions["Spine"], [[0, 1.1, 0], [-0.1, 1.0, 0], [0.05, 1.1, 0]],
                        atol=1e-6)
    self.assertAllClose(positions["Spine_end"],
                        [[0, 1.2, 0], [-0.2, 1.0, 0], [0.05, 1.1, 0.1]], atol=1e-6)

  def test_z_up_converted_to_y_up(self):
    positions, _ = bvh.load_bvh(self.write(CHAIN), units="m", up_axis="z")
    # File (x, y, z) -> (x, z, -y): the y-up file read as z-up puts "up" along -z.
    self.assertAllClose(positions["Spine"][0], [0.0, 0.0, -110.0], atol=1e-4)

  def test_bone_lengths_constant_over_clip(self):
    positions, _ = bvh.load_bvh(self.write(lafan_like_bvh(frames=20)))
    names = list(positions)
    parsed, _, _ = bvh.parse_bvh(os.path.join(self.get_temp_dir(), "clip.bvh"))
    for j, parent in enumerate(parsed.parents):
      if parent >= 0:
        lengths = np.linalg.norm(positions[names[j]] - positions[names[parent]], axis=-1)
        self.assertAllClose(lengths, np.full_like(lengths, lengths[0]), atol=1e-6)

  def test_load_poses_detects_lafan_names(self):
    poses = bvh.load_bvh_poses(self.write(lafan_like_bvh(frames=4)))
    self.assertEqual(poses.shape, (4, skeleton.NUM_JOINTS, 3))
    # Thigh (hip -> knee) is 40 cm in the file.
    self.assertAllClose(skeleton.bone_lengths(poses)[:, skeleton.BONES.index((1, 2))],
                        np.full(4, 0.4), atol=1e-5)

  def test_missing_channel_raises(self):
    text = CHAIN.replace("0 100 0 90 0 0 0 0 0", "0 100 0 90 0 0 0 0")
    with self.assertRaisesRegex(errors.DataError, r"frame 1 has 8 values.*9 channels"):
      bvh.load_bvh(self.write(text))

  def test_joint_without_channels_raises(self):
    text = CHAIN.replace("    CHANNELS 3 Zrotation Yrotation Xrotation\n", "")
    with self.assertRaisesRegex(errors.DataError, "'Spine' has no CHANNELS"):
      bvh.load_bvh(self.write(text))

  def test_non_finite_offset_or_frame_time_raises(self):
    for old, new, message in (
        ("    OFFSET 0 10 0\n    CHANNELS", "    OFFSET 0 nan 0\n    CHANNELS",
         "OFFSET of joint 'Spine' needs 3 finite numbers"),
        ("Frame Time: 0.033333", "Frame Time: inf", "'Frame Time: inf' must be a finite"),
        ("Frame Time: 0.033333", "Frame Time: -1", "'Frame Time: -1.0' must be a finite")):
      text = CHAIN.replace(old, new)
      self.assertNotEqual(text, CHAIN)
      with self.subTest(new), self.assertRaisesRegex(errors.DataError, f"clip.bvh: {message}"):
        bvh.load_bvh(self.write(text))

  def test_unknown_joint_names_raise(self):
    with self.assertRaisesRegex(errors.DataError, "unknown joint names.*Hips"):
      bvh.load_bvh_poses(self.write(CHAIN))

  def test_bad_units_raise(self):
    with self.assertRaisesRegex(errors.ConfigError, "units"):
      bvh.load_bvh(self.write(CHAIN), units="feet")
