"""Tests of the ASF/AMC reader and its forward kinematics on tiny files written here."""

import os

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import skeleton
from aign_tf.data.mocap import asf_amc

# The CMU skeleton's bones needed by the mapping, in a simplified tree: name, parent,
# direction, length (file units; length 0.0254 m per unit with `:units length 1`).
_BONES = (
    ("lhipjoint", "root", (1, -1, 0), 3), ("lfemur", "lhipjoint", (0, -1, 0), 16),
    ("ltibia", "lfemur", (0, -1, 0), 16), ("rhipjoint", "root", (-1, -1, 0), 3),
    ("rfemur", "rhipjoint", (0, -1, 0), 16), ("rtibia", "rfemur", (0, -1, 0), 16),
    ("lowerback", "root", (0, 1, 0), 8), ("upperback", "lowerback", (0, 1, 0), 8),
    ("thorax", "upperback", (0, 1, 0), 4), ("lowerneck", "thorax", (0, 1, 0), 3),
    ("upperneck", "lowerneck", (0, 1, 0), 3), ("head", "upperneck", (0, 1, 0), 4),
    ("lclavicle", "thorax", (1, 0.2, 0), 6), ("lhumerus", "lclavicle", (1, 0, 0), 11),
    ("lradius", "lhumerus", (1, 0, 0), 8), ("rclavicle", "thorax", (-1, 0.2, 0), 6),
    ("rhumerus", "rclavicle", (-1, 0, 0), 11), ("rradius", "rhumerus", (-1, 0, 0), 8),
)


def asf_text(axis="0 0 0 XYZ"):
  lines = [":version 1.10", ":name test", ":units", "  mass 1.0", "  length 1.0",
           "  angle deg", ":root", "   order TX TY TZ RX RY RZ", "   axis XYZ",
           "   position 0 0 0", "   orientation 0 0 0", ":bonedata"]
  for i, (name, _, direction, length) in enumerate(_BONES):
    lines += ["  begin", f"     id {i + 1}", f"     name {name}",
              f"     direction {' '.join(str(v) for v in direction)}", f"     length {length}",
              f"     axis {axis}", "    dof rx ry rz", "  end"]
  lines += [":hierarchy", "  begin"]
  children = {}
  for name, parent, _, _ in _BONES:
    children.setdefault(parent, []).append(name)
  lines += [f"    {parent} {' '.join(names)}" for parent, names in children.items()]
  lines += ["  end"]
  return "\n".join(lines) + "\n"


def amc_text(frames=4, seed=0, skip=None):
  rng = np.random.default_rng(seed)
  lines = ["#!OML:ASF test.asf", ":FULLY-SPECIFIED", ":DEGREES"]
  for t in range(frames):
    lines.append(str(t + 1))
    lines.append("root " + " ".join(f"{v:.3f}" for v in
                                    np.concatenate([[1, 35, 2], rng.uniform(-20, 20, 3)])))
    for name, _, _, _ in _BONES:
      if name != skip:
        lines.append(name + " " + " ".join(f"{v:.3f}" for v in rng.uniform(-30, 30, 3)))
  return "\n".join(lines) + "\n"


class ASFAMCTest(testing.TestCase):

  def write(self, name, text):
    path = os.path.join(self.get_temp_dir(), name)
    with open(path, "w") as f:
      f.write(text)
    return path

  def test_rest_pose_preset(self):
    asf = asf_amc.parse_asf(self.write("a.asf", asf_text()))
    zero = [{"root": np.zeros(6), **{n: np.zeros(3) for n, _, _, _ in _BONES}}]
    positions = asf_amc.forward_kinematics(asf, zero)
    unit = 0.0254
    # lfemur end = root + 3 * (1, -1, 0) / sqrt(2) + 16 * (0, -1, 0).
    expected = unit * (3 * np.array([1.0, -1.0, 0.0]) / np.sqrt(2) + [0.0, -16.0, 0.0])
    self.assertAllClose(positions["lfemur"][0], expected, atol=1e-9)
    self.assertAllClose(positions["head"][0], unit * np.array([0.0, 30.0, 0.0]), atol=1e-9)

  def test_rotation_about_bone_axis_preset(self):
    asf = asf_amc.parse_asf(self.write("a.asf", asf_text()))
    frame = {"root": np.zeros(6), **{n: np.zeros(3) for n, _, _, _ in _BONES}}
    frame["lhumerus"] = np.array([0.0, 0.0, 90.0])  # rz 90: +x turns to +y.
    positions = asf_amc.forward_kinematics(asf, [frame])
    upper_arm = positions["lhumerus"][0] - positions["lclavicle"][0]
    self.assertAllClose(upper_arm, [0.0, 11 * 0.0254, 0.0], atol=1e-9)

  def test_bone_lengths_constant_over_clip(self):
    for axis in ("0 0 0 XYZ", "10 -20 30 XYZ"):
      poses = asf_amc.load_asf_amc(self.write("a.asf", asf_text(axis)),
                                   self.write("a.amc", amc_text(frames=6)))
      self.assertEqual(poses.shape, (6, skeleton.NUM_JOINTS, 3))
      lengths = skeleton.bone_lengths(poses)
      # Bones between joints that come from consecutive ASF bones keep their length.
      for bone in ((1, 2), (2, 3), (4, 5), (5, 6), (11, 12), (12, 13), (14, 15), (15, 16)):
        column = lengths[:, skeleton.BONES.index(bone)]
        self.assertAllClose(column, np.full_like(column, column[0]), atol=1e-6)

  def test_amc_missing_bone_raises(self):
    with self.assertRaisesRegex(errors.DataError, "no values for bone 'ltibia'"):
      asf_amc.load_asf_amc(self.write("a.asf", asf_text()),
                           self.write("a.amc", amc_text(skip="ltibia")))

  def test_amc_unknown_bone_raises(self):
    text = amc_text().replace("lradius", "ltail")
    with self.assertRaisesRegex(errors.DataError, "does the AMC match the ASF"):
      asf_amc.load_asf_amc(self.write("a.asf", asf_text()), self.write("a.amc", text))

  def test_wrong_value_count_raises(self):
    text = amc_text(frames=1)
    lines = text.splitlines()
    lines = [line + " 5.0" if line.startswith("lfemur") else line for line in lines]
    with self.assertRaisesRegex(errors.DataError, "bone 'lfemur' has 4 values"):
      asf_amc.load_asf_amc(self.write("a.asf", asf_text()),
                           self.write("a.amc", "\n".join(lines)))

  def test_amc_non_finite_value_names_file_line_and_frame(self):
    lines = amc_text(frames=2).splitlines()
    # Line numbers count from 1; the second frame starts after the header and frame 1.
    number = next(i for i, line in enumerate(lines, 1) if line == "2") + 3
    for value in ("nan", "inf", "-Infinity"):
      bad = list(lines)
      name, *values = bad[number - 1].split()
      bad[number - 1] = " ".join([name, values[0], value, values[2]])
      with self.subTest(value), self.assertRaisesRegex(
          errors.DataError, rf"a.amc:{number}: non-finite value for '{name}' in frame 2"):
        asf_amc.load_asf_amc(self.write("a.asf", asf_text()),
                             self.write("a.amc", "\n".join(bad)))

  def test_asf_non_finite_or_missing_number_names_the_bone(self):
    text = asf_text()
    for old, new, message in (
        ("length 16", "length nan", "non-finite length of bone 'lfemur': nan"),
        ("direction 0 -1 0", "direction 0 inf 0", "non-finite direction of bone 'lfemur'"),
        ("length 16", "length", "length of bone 'lfemur' needs 1 numbers"),
        ("length 16", "length sixteen", "non-numeric length of bone 'lfemur'"),
        ("position 0 0 0", "position 0 NaN 0", "non-finite :root position")):
      with self.subTest(new), self.assertRaisesRegex(errors.DataError, f"a.asf: {message}"):
        asf_amc.parse_asf(self.write("a.asf", text.replace(old, new, 1)))

  def test_missing_section_raises(self):
    with self.assertRaisesRegex(errors.DataError, "missing :hierarchy"):
      asf_amc.parse_asf(self.write("a.asf", asf_text().split(":hierarchy")[0]))
