"""Pose task data: 3D clips -> (2D observations, 3D targets) and the unpaired 3D memory.

Clips come from `pose_clips(source)`: "samples" (the real LAFAN1/DeepMimic clips fetched by
`tools/fetch_samples.py pose`, see `pose_samples.SPLITS`), "embedded" (procedurally animated
clips generated on the fly, `mocap/procedural.py`: no download, used by CI and smoke tests),
"auto" (samples when fetched, embedded otherwise), or "files" (the user's own files per split,
`data.pose_clips.files`: BVH, CMU ASF/AMC, VideoPose3D `data_3d_h36m.npz`, DeepMimic .txt). Each split ("memory", "train", "eval")
is a disjoint set of clips. Every clip is rescaled to the reference skeleton size
(`skeleton.normalise_scale`) so sources of different sizes look alike to the discriminator.

2D inputs are made by sampling a camera per pose and view (`CameraSampler`: azimuth,
elevation, roll, distance, image offset and focal length ranges), projecting with a pinhole,
adding optional Gaussian pixel noise (converted by the sampled focal length) and dropping
joints at random (confidence 0, moved onto the pelvis) to mimic a 2D detector. Each example:

  observation             `[17, 2]` (x - r) / s: root-centred, scale-normalised keypoints
  context.root_2d         `[2]` r, the pelvis in normalised camera coordinates
  context.scale_2d        `[1]` s, RMS distance of the (present) keypoints from r
  reconstruction_weights  `[17, 1]` joint confidences
  target                  `[17, 3]` root-relative joints in the camera frame (metres)
  target_mask             `[]` 1 for the paired fraction of examples
  canonical               `[17, 3]` the same pose in the canonical body frame

Memory samples are `[17, 3]` poses from the memory clips, in the canonical frame
(`frame="canonical"`) or seen by independently sampled cameras (`frame="camera"`).
"""

import glob
import os

import gin
import numpy as np

from aign_tf import errors
from aign_tf.core import skeleton
from aign_tf.data import bad_files
from aign_tf.data import pose_samples
from aign_tf.data.mocap import asf_amc
from aign_tf.data.mocap import bvh
from aign_tf.data.mocap import deepmimic
from aign_tf.data.mocap import h36m
from aign_tf.data.mocap import kinematics
from aign_tf.data.mocap import procedural
from aign_tf.data.mocap import temporal

SPLITS = ("memory", "train", "eval")
CANONICAL = "canonical"
SOURCES = ("auto", "samples", "embedded", "files")
_EMBEDDED_SEEDS = {"memory": 1, "train": 2, "eval": 3}


@gin.configurable(module="data")
def pose_clips(split, source="auto", cache_dir=None, embedded_clips=(40, 20, 10),
               embedded_frames=240, stride=2, exclude=(), files=None, bvh_units="cm",
               up_axis="y", on_bad_file="raise"):
  """The 3D clips of one split: dict name -> `[T, 17, 3]` metres, y up, reference size.

  Args:
    split: "memory", "train" or "eval".
    source: "auto", "samples" or "embedded" (module doc).
    cache_dir: the sample cache (default `samples.default_cache_dir()`).
    embedded_clips: number of procedural clips for (memory, train, eval).
    embedded_frames: frames per procedural clip.
    stride: keep every `stride`-th frame (neighbouring mocap frames are near duplicates).
    exclude: clip name prefixes to leave out (e.g. ("deepmimic",) for a LAFAN-only memory).
    files: for source "files", dict split -> list of paths or glob patterns (see
      `load_clip_files`).
    bvh_units: units of BVH files ("cm", "m", "mm", "inch").
    up_axis: up axis of BVH and ASF/AMC files ("y" or "z").
    on_bad_file: for source "files", "raise" at the first unusable file or "skip" it
      (counted in a logged warning; see `bad_files`).

  Raises:
    errors.ConfigError: unknown split or source, or "samples" without fetched samples.
  """
  if split not in SPLITS:
    raise errors.ConfigError(f"pose_clips: unknown split {split!r}; known: {SPLITS}")
  if source not in SOURCES:
    raise errors.ConfigError(f"data.pose_clips.source must be one of {SOURCES}, got "
                             f"{source!r}")
  bad_files.check_option(on_bad_file, "data.pose_clips")
  clips = None
  if source == "files":
    if not files or split not in files:
      raise errors.ConfigError(f"data.pose_clips.source='files' needs data.pose_clips.files "
                               f"with a list for split {split!r}, got {files!r}")
    clips = load_clip_files(files[split], bvh_units, up_axis, on_bad_file)
  elif source in ("auto", "samples"):
    clips = pose_samples.load(cache_dir)
    if clips is None and source == "samples":
      raise errors.ConfigError(
          f"data.pose_clips.source='samples' but {pose_samples.task_dir(cache_dir)} holds "
          "no fetched samples: run python tools/fetch_samples.py pose")
  if source == "files":
    pass
  elif clips is not None:
    clips = pose_samples.split(clips, split)
  else:
    count = embedded_clips[SPLITS.index(split)]
    clips = procedural.generate_clips(count, embedded_frames, seed=_EMBEDDED_SEEDS[split])
  out = {}
  for name, poses in clips.items():
    if any(name.startswith(prefix) for prefix in exclude):
      continue
    poses = skeleton.check_poses(poses, name)
    out[name] = skeleton.normalise_scale(skeleton.root_relative(poses))[0][::stride]
  if not out:
    raise errors.ConfigError(f"pose_clips: split {split!r} has no clips left "
                             f"(exclude={exclude})")
  return out


def load_clip_files(patterns, bvh_units="cm", up_axis="y", on_bad_file="raise"):
  """Reads the user's mocap files: dict clip name -> `[T, 17, 3]` (metres, y up).

  By extension: `.bvh` (joint names detected, `bvh_units`, `up_axis`); `.amc` with the
  skeleton `<subject>.asf` beside it (CMU naming `<subject>_<trial>.amc`) or the only .asf in
  its folder; `.npz` VideoPose3D `data_3d_h36m.npz` (one clip per subject/action; append
  `:S1,S5` to pick subjects); `.txt` DeepMimic motions. With `on_bad_file="skip"`, a file
  that cannot be used (malformed, non-finite values, unknown extension) is left out and
  counted in one logged warning.

  Raises:
    errors.DataError: a pattern matches nothing; with "raise", a bad file or an unknown
      extension (named); with "skip", no usable file at all.
  """
  bad_files.check_option(on_bad_file, "data.pose_clips")
  clips, skipped, count = {}, [], 0
  for pattern in patterns:
    subjects = ""
    if ".npz:" in pattern:
      pattern, subjects = pattern.rsplit(":", 1)
    paths = sorted(glob.glob(os.path.expanduser(pattern)))
    if not paths:
      raise errors.DataError(f"data.pose_clips.files: {pattern!r} matches no file")
    for path in paths:
      count += 1
      try:
        clips.update(_load_clip_file(path, subjects, bvh_units, up_axis))
      except errors.DataError as e:
        if on_bad_file == "raise":
          raise
        skipped.append(str(e))
  if skipped and not clips:
    raise errors.DataError(f"data.pose_clips.files: no usable clip in the {count} files "
                           f"matched by {list(patterns)} ({len(skipped)} skipped; first: "
                           f"{skipped[0]})")
  bad_files.log_skipped(f"data.pose_clips.files {list(patterns)}", skipped)
  return clips


def _load_clip_file(path, subjects, bvh_units, up_axis):
  """The clips of one mocap file (see `load_clip_files`): dict name -> `[T, 17, 3]`."""
  stem, extension = os.path.splitext(os.path.basename(path))
  extension = extension.lower()
  if extension == ".bvh":
    return {stem: bvh.load_bvh_poses(path, bvh_units, up_axis)}
  if extension == ".amc":
    folder = os.path.dirname(path)
    asf = os.path.join(folder, stem.split("_")[0] + ".asf")
    if not os.path.isfile(asf):
      candidates = glob.glob(os.path.join(folder, "*.asf"))
      if len(candidates) != 1:
        raise errors.DataError(f"{path}: no matching .asf skeleton ({asf} or a single "
                               f".asf in {folder})")
      asf = candidates[0]
    return {stem: asf_amc.load_asf_amc(asf, path, up_axis=up_axis)}
  if extension == ".npz":
    chosen = subjects.split(",") if subjects else None
    return {f"{stem}/{name}": poses for name, poses in h36m.load_h36m_3d(path, chosen).items()}
  if extension == ".txt":
    return {stem: deepmimic.load_deepmimic(path)}
  raise errors.DataError(f"{path}: unknown mocap extension {extension!r} (.bvh, .amc, "
                         ".npz, .txt)")


@gin.configurable(module="data")
class CameraSampler:
  """Random cameras looking at a person (angles in degrees, distances in metres).

  The camera is at `distance` from the pelvis, at `elevation` above it (looking down),
  `azimuth` around it (0: in front of a person facing +z), rolled by `roll`; the pelvis
  projects to a uniformly drawn offset from the image centre in normalised coordinates.
  Camera rotation (world y-up -> camera y-down): R = Rz(roll) Rx(180 + elevation)
  Ry(-azimuth).
  """

  def __init__(self, azimuth_range=(-180.0, 180.0), elevation_range=(-10.0, 30.0),
               roll_std=3.0, distance_range=(3.5, 7.0), offset_range=0.25,
               focal_range=(800.0, 1600.0)):
    self.azimuth_range = tuple(azimuth_range)
    self.elevation_range = tuple(elevation_range)
    self.roll_std = float(roll_std)
    self.distance_range = tuple(distance_range)
    self.offset_range = float(offset_range)
    self.focal_range = tuple(focal_range)
    if self.distance_range[0] <= 1.0:
      raise errors.ConfigError("CameraSampler.distance_range must stay above 1 m, got "
                               f"{self.distance_range}")

  def sample(self, count, rng):
    """Returns dict: rotation `[N, 3, 3]`, distance `[N]`, offset `[N, 2]`, focal `[N]`."""
    azimuth = np.radians(rng.uniform(*self.azimuth_range, size=count))
    elevation = np.radians(rng.uniform(*self.elevation_range, size=count))
    roll = np.radians(rng.normal(0.0, self.roll_std, size=count))
    rotation = (kinematics.axis_rotation("Z", roll) @
                kinematics.axis_rotation("X", np.pi + elevation) @
                kinematics.axis_rotation("Y", -azimuth))
    return {"rotation": rotation,
            "distance": rng.uniform(*self.distance_range, size=count),
            "offset": rng.uniform(-self.offset_range, self.offset_range, size=(count, 2)),
            "focal": rng.uniform(*self.focal_range, size=count)}


def stack_clips(clips):
  """dict name -> `[T, 17, 3]` -> (poses `[N, 17, 3]`, clip index `[N]`, names)."""
  names = sorted(clips)
  if not names:
    raise errors.DataError("no pose clips")
  poses = np.concatenate([clips[n] for n in names]).astype(np.float32)
  index = np.concatenate([np.full(len(clips[n]), i) for i, n in enumerate(names)])
  return poses, index, names


def observe(poses, cameras, rng, noise_px=0.0, dropout=0.0):
  """Views root-relative world poses `[N, 17, 3]` through sampled cameras.

  Returns a dict of NumPy arrays, one row per pose (module doc keys, flattened: "observation",
  "root_2d", "scale_2d", "confidence", "target", "canonical", plus "keypoints_2d", the
  normalised camera coordinates before root-centring).
  """
  poses = np.asarray(poses, np.float64)
  camera_joints = np.einsum("nij,nkj->nki", cameras["rotation"], poses)
  # Place the pelvis at `distance` on the ray through `offset`.
  ray = np.concatenate([cameras["offset"], np.ones((len(poses), 1))], axis=1)
  ray /= np.linalg.norm(ray, axis=1, keepdims=True)
  root = ray * cameras["distance"][:, None]
  points = camera_joints + root[:, None, :]
  depth = np.maximum(points[..., 2:], 1e-3)
  keypoints = points[..., :2] / depth
  if noise_px > 0:
    keypoints = keypoints + rng.normal(size=keypoints.shape) * (
        noise_px / cameras["focal"])[:, None, None]
  confidence = np.ones(keypoints.shape[:2], np.float32)
  if dropout > 0:
    drop = rng.random(keypoints.shape[:2]) < dropout
    drop[:, skeleton.ROOT] = False
    confidence[drop] = 0.0
    keypoints = np.where(drop[..., None], keypoints[:, skeleton.ROOT:skeleton.ROOT + 1],
                         keypoints)
  normalised = normalise_keypoints(keypoints)
  return {**normalised, "keypoints_2d": keypoints.astype(np.float32),
          "confidence": confidence,
          "target": camera_joints.astype(np.float32),
          "canonical": skeleton.canonicalise(poses)}


def normalise_keypoints(keypoints):
  """Root-centres and scale-normalises `[N, 17, 2]` keypoints (NumPy).

  s is the RMS distance from the pelvis over the other joints, leaving out those lying
  exactly on it (missing joints are placed there); `aign_tf.tasks.pose_export.normalise` is
  the same in TensorFlow.

  Returns dict "observation" `[N, 17, 2]`, "root_2d" `[N, 2]`, "scale_2d" `[N, 1]`.

  Raises:
    errors.DataError: non-finite keypoints, or a pose whose joints all coincide.
  """
  keypoints = np.asarray(keypoints, np.float64)
  skeleton.check_poses(keypoints, "keypoints_2d", dims=2)
  root = keypoints[:, skeleton.ROOT]
  centred = keypoints - root[:, None]
  squared = np.sum(np.square(centred), axis=-1)
  # Joints exactly on the pelvis are missing ones (see `observe`): they do not count.
  present = np.maximum(np.sum(squared > 0, axis=-1, keepdims=True), 1)
  scale = np.sqrt(np.sum(squared, axis=-1, keepdims=True) / present)
  if np.any(scale <= 1e-9):
    raise errors.DataError(f"keypoints_2d: pose {int(np.argmin(scale))} has all joints at "
                           "one point")
  return {"observation": (centred / scale[:, :, None]).astype(np.float32),
          "root_2d": root.astype(np.float32), "scale_2d": scale.astype(np.float32)}


def memory_poses(poses, frame, cameras=None):
  """Memory samples from world poses: canonical, or rotated into sampled camera frames."""
  if frame == CANONICAL:
    return skeleton.canonicalise(poses)
  if frame == "camera":
    return np.einsum("nij,nkj->nki", cameras["rotation"],
                     skeleton.root_relative(poses)).astype(np.float32)
  raise errors.ConfigError(f"memory frame must be 'canonical' or 'camera', got {frame!r}")


def sequence_views(clips, camera_sampler, rng, segment_frames=64, noise_px=0.0, dropout=0.0,
                   offset=0):
  """Views clips as videos: one camera per segment of consecutive frames (issue 17).

  `observe` gives every pose its own camera; here each clip is cut into segments of
  `segment_frames` frames (boundaries shifted by `offset` frames; a clip's first and last
  segments may be shorter) and each segment is seen by one sampled camera, with pixel noise
  and joint dropout drawn independently per frame (a detector's frame-to-frame noise).

  Args:
    clips: dict name -> `[T, 17, 3]` world poses.
    camera_sampler: a `CameraSampler`.
    rng: a NumPy `Generator`.
    segment_frames: frames per camera.
    noise_px, dropout: as in `observe`.
    offset: shifts the segment boundaries (several passes over the same clips).

  Returns:
    (views, names): `observe`'s dict plus "clip" `[N]` (index into `names`) and "segment"
    `[N]` (runs of consecutive frames, numbered in order), frames in clip order.
  """
  if segment_frames < 1:
    raise errors.ConfigError(f"segment_frames must be >= 1, got {segment_frames}")
  poses, clip_index, names = stack_clips(clips)
  position = np.concatenate([np.arange(len(clips[n])) for n in names])
  key = clip_index.astype(np.int64) * (len(poses) + segment_frames + 1) + (
      (position + int(offset) % segment_frames) // segment_frames)
  _, segment = np.unique(key, return_inverse=True)
  segment = segment.reshape(-1)
  cameras = camera_sampler.sample(int(segment.max()) + 1, rng)
  views = observe(poses, {k: v[segment] for k, v in cameras.items()}, rng, noise_px, dropout)
  views["clip"] = clip_index.astype(np.int32)
  views["segment"] = segment.astype(np.int32)
  return views, names


def clip_windows(frames, segment, width):
  """Windows of consecutive frames centred on every frame, within its segment.

  Frame t's window is frames t - h ... t + h (h = (width - 1) / 2) of its own segment, the
  segment's first or last frame repeated past its ends (VideoPose3D's edge padding, Pavllo
  et al. 2019).

  Args:
    frames: `[N, ...]` per-frame arrays, segments as runs of consecutive rows.
    segment: `[N]` segment ids.
    width: odd window length.

  Returns:
    `[N, width, ...]`.

  Raises:
    errors.ConfigError: an even or non-positive width.
    errors.DataError: lengths differ, or a segment's frames are not consecutive.
  """
  width = int(width)
  if width < 1 or width % 2 == 0:
    raise errors.ConfigError(f"clip window width must be odd and positive, got {width}")
  frames = np.asarray(frames)
  if len(frames) != len(segment):
    raise errors.DataError(f"clip_windows: {len(frames)} frames but {len(segment)} segment "
                           "ids")
  first = np.empty(len(frames), np.int64)
  last = np.empty(len(frames), np.int64)
  for start, stop in temporal.segment_runs(segment):
    first[start:stop], last[start:stop] = start, stop - 1
  half = width // 2
  index = np.arange(len(frames))[:, None] + np.arange(-half, half + 1)[None, :]
  return frames[np.clip(index, first[:, None], last[:, None])]


def window_views(clips, camera_sampler, rng, width, noise_px=0.0, dropout=0.0):
  """Windows of `width` frames centred on every frame, each window seen by its own camera.

  Training examples for a temporal lifter: as many cameras as windows (one camera per
  video segment, `sequence_views`, would give a few dozen per clip). Windows are
  edge-padded at the ends of a clip (`clip_windows`); pixel noise and dropout are drawn
  per frame.

  Returns:
    (views, names): `observe`'s dict with every array `[N, width, ...]` (one row per frame
    of the clips, in clip order), plus "clip" `[N]`.
  """
  poses, clip_index, names = stack_clips(clips)
  windows = clip_windows(poses, clip_index, width)
  cameras = camera_sampler.sample(len(windows), rng)
  flat = observe(windows.reshape((-1,) + windows.shape[2:]),
                 {k: np.repeat(v, width, axis=0) for k, v in cameras.items()}, rng,
                 noise_px, dropout)
  views = {k: v.reshape((len(windows), width) + v.shape[1:]) for k, v in flat.items()}
  views["clip"] = clip_index.astype(np.int32)
  return views, names
