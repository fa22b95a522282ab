"""The embedded default motion set: procedurally animated 17-joint clips (no download).

CI and the smoke tests have no fetched mocap, so the pose task's default data is generated:
a 17-joint skeleton with the reference bone lengths (each clip's actor scaled by ~N(1, 0.04),
limbs by ~N(1, 0.03) per side pair), animated by periodic joint-angle curves for ten
motion types (walk, run, squat, wave, reach, jumping jacks, bend, kick, boxing, idle) with
per-clip random amplitudes, speeds, phases and a random facing. Poses are in the canonical
world frame: metres, y up, root (pelvis) at the origin.

FK is per bone: each joint c with parent p has a local rotation L_c of the bone p -> c
relative to its parent bone, G_c = G_p L_c (G_root = the body's orientation) and
x_c = x_p + G_c o_c, where o_c is the rest-pose bone vector (standing, arms down, facing +z,
+x the person's left). Flexion is about x, abduction about z, twist about y.
"""

import numpy as np

from aign_tf.core import skeleton
from aign_tf.data.mocap import kinematics

MOTIONS = ("walk", "run", "squat", "wave", "reach", "jacks", "bend", "kick", "box", "idle")
_DOWN, _UP = np.array([0.0, -1.0, 0.0]), np.array([0.0, 1.0, 0.0])


def rest_offsets(scale=1.0, limb_scales=None):
  """Rest-pose bone vectors `[17, 3]` (row c: from parent(c) to c; row 0 is zero)."""
  lengths = skeleton.REFERENCE_BONE_LENGTHS
  directions = {
      "r_hip": np.array([-1.0, 0.0, 0.0]), "l_hip": np.array([1.0, 0.0, 0.0]),
      "r_knee": _DOWN, "r_ankle": _DOWN, "l_knee": _DOWN, "l_ankle": _DOWN,
      "spine": _UP, "thorax": _UP, "nose": np.array([0.0, 0.8, 0.6]), "head": np.array(
          [0.0, 0.9, -0.44]),
      "l_shoulder": np.array([1.0, 0.05, 0.0]), "r_shoulder": np.array([-1.0, 0.05, 0.0]),
      "l_elbow": _DOWN, "l_wrist": _DOWN, "r_elbow": _DOWN, "r_wrist": _DOWN}
  offsets = np.zeros((skeleton.NUM_JOINTS, 3))
  limb_scales = limb_scales or {}
  for c, name in enumerate(skeleton.JOINTS):
    if name in directions:
      d = directions[name] / np.linalg.norm(directions[name])
      offsets[c] = d * lengths[name] * scale * limb_scales.get(name[2:], 1.0)
  return offsets


def pose_from_angles(angles, offsets, root_rotation):
  """FK: angles dict joint name -> `[T, 3]` (x, y, z) radians for the bone ending there.

  Returns `[T, 17, 3]` root-relative positions.
  """
  frames = root_rotation.shape[0]
  positions = np.zeros((frames, skeleton.NUM_JOINTS, 3))
  rotations = np.zeros((frames, skeleton.NUM_JOINTS, 3, 3))
  rotations[:, 0] = root_rotation
  for c in range(1, skeleton.NUM_JOINTS):
    p = skeleton.PARENTS[c]
    a = angles.get(skeleton.JOINTS[c])
    local = (kinematics.euler_matrix(a[:, ::-1], "ZYX") if a is not None
             else np.broadcast_to(np.eye(3), (frames, 3, 3)))
    # The hips and shoulders hang from the pelvis and thorax bones' frames.
    rotations[:, c] = rotations[:, p] @ local
    positions[:, c] = positions[:, p] + np.einsum("tij,j->ti", rotations[:, c], offsets[c])
  return positions


def _angles(motion, t, rng):
  """Joint-angle curves `[T, 3]` for one clip of a motion type."""
  T = len(t)
  z = np.zeros(T)
  def vec(x=z, y=z, zz=z):
    return np.stack([x + z, y + z, zz + z], -1)
  u = lambda lo, hi: rng.uniform(lo, hi)
  phase = u(0, 2 * np.pi)
  a = {}
  # A little posture noise everywhere.
  sway = 0.05 * np.sin(2 * np.pi * u(0.1, 0.4) * t + phase)
  a["spine"] = vec(u(-0.05, 0.15) + sway, u(-0.1, 0.1), u(-0.05, 0.05))
  a["nose"] = vec(u(-0.2, 0.3), u(-0.4, 0.4) * np.sin(2 * np.pi * u(0.05, 0.3) * t), z)
  a["l_elbow"] = vec(z, z, np.full(T, u(0.05, 0.2)))
  a["r_elbow"] = vec(z, z, np.full(T, -u(0.05, 0.2)))
  a["l_wrist"] = vec(np.full(T, -u(0.1, 0.4)))
  a["r_wrist"] = vec(np.full(T, -u(0.1, 0.4)))
  a["l_knee"] = vec(np.full(T, -u(0.0, 0.1)), z, np.full(T, u(0.0, 0.08)))
  a["r_knee"] = vec(np.full(T, -u(0.0, 0.1)), z, np.full(T, -u(0.0, 0.08)))
  a["l_ankle"] = vec(np.full(T, u(0.0, 0.15)))
  a["r_ankle"] = vec(np.full(T, u(0.0, 0.15)))
  w = 2 * np.pi * t
  if motion in ("walk", "run"):
    run = motion == "run"
    f = u(1.4, 1.8) if run else u(0.8, 1.1)
    hip = u(0.5, 0.8) if run else u(0.3, 0.5)
    knee = u(1.2, 1.8) if run else u(0.5, 0.9)
    arm = u(0.5, 1.0) if run else u(0.2, 0.5)
    s = np.sin(w * f + phase)
    c = np.sin(w * f + phase + 1.2)
    a["l_knee"] = vec(-hip * s - (0.2 if run else 0.0))
    a["r_knee"] = vec(hip * s - (0.2 if run else 0.0))
    a["l_ankle"] = vec(knee * np.maximum(c, 0) + 0.05)
    a["r_ankle"] = vec(knee * np.maximum(-c, 0) + 0.05)
    a["l_elbow"] = vec(hip * 0 + arm * s, z, np.full(T, 0.1))
    a["r_elbow"] = vec(-arm * s, z, np.full(T, -0.1))
    bend = u(1.2, 1.8) if run else u(0.1, 0.5)
    a["l_wrist"] = vec(np.full(T, -bend))
    a["r_wrist"] = vec(np.full(T, -bend))
    a["spine"] = vec(np.full(T, u(0.1, 0.3) if run else u(0.0, 0.1)), 0.1 * s, z)
  elif motion == "squat":
    depth = u(0.6, 1.6) * (0.5 - 0.5 * np.cos(w * u(0.3, 0.6) + phase))
    a["l_knee"] = vec(-depth, z, np.full(T, 0.1))
    a["r_knee"] = vec(-depth, z, np.full(T, -0.1))
    a["l_ankle"] = vec(1.6 * depth)
    a["r_ankle"] = vec(1.6 * depth)
    a["spine"] = vec(0.5 * depth)
    reach = u(0.0, 1.5)
    a["l_elbow"] = vec(-reach * depth, z, np.full(T, 0.1))
    a["r_elbow"] = vec(-reach * depth, z, np.full(T, -0.1))
  elif motion in ("wave", "reach"):
    side = rng.choice(["l", "r"])
    sign = 1.0 if side == "l" else -1.0
    f = u(0.5, 2.0)
    if motion == "wave":
      a[f"{side}_elbow"] = vec(np.full(T, -u(0.0, 0.6)), z, sign * np.full(T, u(1.8, 2.6)))
      a[f"{side}_wrist"] = vec(z, z, sign * (0.6 + 0.5 * np.sin(w * f + phase)))
    else:
      lift = u(0.8, 2.6) * (0.5 - 0.5 * np.cos(w * f * 0.4 + phase))
      a[f"{side}_elbow"] = vec(-lift, z, sign * np.full(T, u(0.0, 0.6)))
      a[f"{side}_wrist"] = vec(-u(0.0, 0.6) * (1 - lift / 2.6))
      a["spine"] = vec(0.2 * lift, sign * 0.2 * lift, z)
  elif motion == "jacks":
    open_ = 0.5 - 0.5 * np.cos(w * u(0.8, 1.5) + phase)
    arms = u(1.8, 2.8) * open_
    legs = u(0.2, 0.4) * open_
    a["l_elbow"] = vec(z, z, arms + 0.1)
    a["r_elbow"] = vec(z, z, -arms - 0.1)
    a["l_knee"] = vec(z, z, legs)
    a["r_knee"] = vec(z, z, -legs)
  elif motion == "bend":
    bend = u(0.6, 1.4) * (0.5 - 0.5 * np.cos(w * u(0.2, 0.5) + phase))
    a["spine"] = vec(bend * 0.6, z, u(-0.2, 0.2) * bend)
    a["thorax"] = vec(bend * 0.5)
    a["l_elbow"] = vec(-bend * 0.8, z, np.full(T, 0.1))
    a["r_elbow"] = vec(-bend * 0.8, z, np.full(T, -0.1))
  elif motion == "kick":
    side = rng.choice(["l", "r"])
    kick = u(0.8, 1.6) * np.maximum(np.sin(w * u(0.4, 0.8) + phase), 0) ** 2
    a[f"{side}_knee"] = vec(-kick)
    a[f"{side}_ankle"] = vec(0.8 * kick * np.abs(np.cos(w * 0.3 + phase)))
    a["spine"] = vec(-0.2 * kick)
    a["l_elbow"] = vec(z, z, np.full(T, u(0.2, 0.6)))
    a["r_elbow"] = vec(z, z, -np.full(T, u(0.2, 0.6)))
  elif motion == "box":
    f = u(0.8, 1.6)
    jab_l = np.maximum(np.sin(w * f + phase), 0)
    jab_r = np.maximum(-np.sin(w * f + phase), 0)
    a["l_elbow"] = vec(-1.0 - 0.5 * jab_l, z, np.full(T, 0.3))
    a["r_elbow"] = vec(-1.0 - 0.5 * jab_r, z, np.full(T, -0.3))
    a["l_wrist"] = vec(-2.0 + 1.8 * jab_l)
    a["r_wrist"] = vec(-2.0 + 1.8 * jab_r)
    a["spine"] = vec(np.full(T, 0.15), 0.3 * np.sin(w * f + phase), z)
    a["l_knee"] = vec(np.full(T, -0.3), z, np.full(T, 0.1))
    a["r_knee"] = vec(np.full(T, 0.2), z, np.full(T, -0.1))
    a["l_ankle"] = vec(np.full(T, 0.4))
    a["r_ankle"] = vec(np.full(T, 0.3))
  return a


def generate_clip(motion, num_frames=240, fps=30.0, seed=0):
  """One clip `[num_frames, 17, 3]` (metres, y up, root-relative) of a motion type."""
  if motion not in MOTIONS:
    raise ValueError(f"unknown motion {motion!r}; known: {MOTIONS}")
  rng = np.random.default_rng(seed)
  t = np.arange(num_frames) / fps
  limbs = {name: rng.normal(1.0, 0.03) for name in ("hip", "knee", "ankle", "elbow", "wrist",
                                                    "shoulder")}
  offsets = rest_offsets(scale=rng.normal(1.0, 0.04), limb_scales=limbs)
  angles = _angles(motion, t, rng)
  yaw = rng.uniform(-np.pi, np.pi) + rng.uniform(-0.3, 0.3) * np.sin(
      2 * np.pi * rng.uniform(0.05, 0.2) * t)
  root = kinematics.euler_matrix(np.stack([0.05 * np.sin(t * 3), yaw, np.zeros_like(t)], -1)
                                 [:, [1, 0, 2]], "YXZ")
  return pose_from_angles(angles, offsets, root).astype(np.float32)


def generate_clips(num_clips, num_frames=240, seed=0):
  """`num_clips` clips cycling through MOTIONS: dict "procedural/<motion>_<i>" -> poses."""
  clips = {}
  for i in range(num_clips):
    motion = MOTIONS[i % len(MOTIONS)]
    clips[f"procedural/{motion}_{seed}_{i}"] = generate_clip(
        motion, num_frames, seed=seed * 100003 + i)
  return clips
