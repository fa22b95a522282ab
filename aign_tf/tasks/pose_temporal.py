"""The pose task on videos: windows of 2D frames -> the centre frame's 3D pose (issue 17).

Same clips, memory, renderer and metrics as `aign_tf.tasks.pose`, but the 2D inputs are
videos. An example is the window of `window` normalised frames centred on a frame, with the
pixel noise and joint dropout drawn per frame. Training windows are each seen by their own
sampled camera (`pose_data.window_views`: as many cameras as examples, like the per-frame
task). Evaluation splits are videos: every clip is cut into segments of `segment_frames`
consecutive frames, each seen by one sampled camera (`pose_data.sequence_views`), and the
windows are cut within a segment (`pose_data.clip_windows`, edge-padded); the
renderer projects the centre frame, whose 2D root and scale are the context, and the
discriminator judges the centre pose (`generators.TemporalPoseLifter`).

Batch keys beyond `PoseTask`'s: `observation` `[B, window, 17, 2]`,
`reconstruction_target` `[B, 17, 2]` (the centre frame), `frame_observation` `[B, 17, 2]`
(the same, for per-frame lifters), `segment` `[B]` (eval splits: frames in order, so a
split's segments are runs of consecutive rows).

Metrics: `PoseTask`'s per frame; `extra_metrics` (`tools/evaluate.py`) adds the jitter
(mean joint acceleration, mm / frame^2, `aign_tf.data.mocap.temporal.jitter_mm`) of the
predictions and of the ground truth, and the acceleration error, over the split's segments.

Export (`keypoints_2d` `[B, window, 17, 2]` -> `PoseTask`'s outputs for the centre frames):
`aign_tf.tasks.pose_export`.
"""

import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf.core import keys
from aign_tf.data import pipeline
from aign_tf.data import pose as pose_data
from aign_tf.data.mocap import temporal
from aign_tf.models import pose_networks
from aign_tf.tasks import base
from aign_tf.tasks import pose

SEGMENT = "segment"
FRAME_OBSERVATION = "frame_observation"


@base.register_task
class PoseTemporalTask(pose.PoseTask):
  """2D keypoint windows -> the centre frame's 3D pose (module doc)."""

  name = "pose_temporal"

  def __init__(self, window=9, segment_frames=64, memory_frame="camera", paired_fraction=0.0,
               views_per_pose=2, noise_px=1.0, dropout=0.0, eval_dropout=0.0,
               max_train=None, max_memory=None, max_eval=None, camera_sampler=None, seed=0):
    """Args as `PoseTask`'s, plus `window` (odd, frames per example) and `segment_frames`
    (frames per camera in the evaluation videos). `views_per_pose` passes over the
    training clips, each with new cameras. `max_eval` keeps the first frames of a split
    (segments stay consecutive)."""
    super().__init__(memory_frame=memory_frame, paired_fraction=paired_fraction,
                     views_per_pose=views_per_pose, noise_px=noise_px, dropout=dropout,
                     eval_dropout=eval_dropout, max_train=max_train, max_memory=max_memory,
                     max_eval=max_eval, camera_sampler=camera_sampler, seed=seed)
    if int(window) < 1 or int(window) % 2 == 0:
      raise errors.ConfigError(f"PoseTemporalTask.window must be odd, got {window}")
    if int(segment_frames) < 3:
      raise errors.ConfigError(f"PoseTemporalTask.segment_frames must be >= 3, got "
                               f"{segment_frames}")
    self.window = int(window)
    self.segment_frames = int(segment_frames)

  # Data ------------------------------------------------------------------------------------

  def sequence_examples(self, split, seed, dropout):
    """A split's clips as videos (`pose_data.sequence_views`): NumPy dict, clip names."""
    return pose_data.sequence_views(self.clips(split), self.camera_sampler,
                                    np.random.default_rng(seed), self.segment_frames,
                                    self.noise_px, dropout)

  def _window_batch(self, views, paired_fraction, seed):
    batch = self._batch_dict(views, paired_fraction, seed)
    batch[FRAME_OBSERVATION] = batch[keys.OBSERVATION]
    batch[keys.RECONSTRUCTION_TARGET] = batch[keys.OBSERVATION]
    batch[keys.OBSERVATION] = pose_data.clip_windows(batch[FRAME_OBSERVATION],
                                                     views["segment"], self.window)
    batch[SEGMENT] = views["segment"].astype(np.int32)
    return batch

  def train_dataset(self, batch_size, seed=0, with_memory=True):
    # One camera per window (`pose_data.window_views`), `views_per_pose` passes.
    rng = np.random.default_rng(self.seed + seed + 11)
    passes = [pose_data.window_views(self.clips("train"), self.camera_sampler, rng,
                                     self.window, self.noise_px, self.dropout)[0]
              for _ in range(self.views_per_pose)]
    views = {k: np.concatenate([p[k] for p in passes]) for k in passes[0]}
    centre = {k: v[:, self.window // 2] if v.ndim > 1 else v for k, v in views.items()}
    batch = self._batch_dict(centre, self.paired_fraction, self.seed + 13)
    batch[keys.RECONSTRUCTION_TARGET] = batch[keys.OBSERVATION]
    batch[keys.OBSERVATION] = views["observation"]
    if self.max_train is not None and len(views["clip"]) > self.max_train:
      index = np.linspace(0, len(views["clip"]) - 1, int(self.max_train)).astype(np.int64)
      batch = _take(batch, index)
    count = len(batch[pose.CLIP])
    return pipeline.training_stream(
        tf.data.Dataset.from_tensor_slices(batch), count, batch_size, seed,
        memory=(lambda: base.memory_samples(self.memory(seed))) if with_memory else None,
        memory_seed=seed + 1)

  def eval_examples(self, split="eval"):
    """A split as a NumPy batch dict, frames in order (and the clip names). Splits:
    "eval", "train", "clip:<name>" (one eval clip)."""
    if split == "train":
      views, names = self.sequence_examples("train", self.seed + 17, self.eval_dropout)
    elif split == "eval" or split.startswith("clip:"):
      views, names = self.sequence_examples("eval", self.seed + 19, self.eval_dropout)
    else:
      raise errors.ConfigError(f"PoseTemporalTask has splits 'eval', 'train' and "
                               f"'clip:<name>', not {split!r}")
    batch = self._window_batch(views, 1.0, 0)
    if split.startswith("clip:"):
      clip = split[len("clip:"):]
      if clip not in names:
        raise errors.ConfigError(f"PoseTemporalTask: no eval clip {clip!r}; eval clips: "
                                 f"{names}")
      batch = _take(batch, np.flatnonzero(batch[pose.CLIP] == names.index(clip)))
    if self.max_eval is not None:
      batch = _take(batch, np.arange(min(int(self.max_eval), len(batch[SEGMENT]))))
    return batch, names

  def extra_metrics(self, generator, split):
    """Jitter of the predictions and of the ground truth, and the acceleration error, over
    the split's segments (mm / frame^2)."""
    batch, _ = self.eval_examples(split)
    joints = predict_joints(generator, batch[keys.OBSERVATION])
    target, segment = batch[keys.TARGET], batch[SEGMENT]
    return {"jitter_mm": temporal.jitter_mm(joints, segment),
            "jitter_true_mm": temporal.jitter_mm(target, segment),
            "accel_error_mm": temporal.acceleration_error_mm(joints, target, segment)}

  def images(self, batch, prediction):
    # The pictures of the per-frame task, drawn from the centre frames.
    return super().images({**batch, keys.OBSERVATION: batch[FRAME_OBSERVATION]}, prediction)


def _take(batch, index):
  return {k: _take(v, index) if isinstance(v, dict) else v[index] for k, v in batch.items()}


def predict_joints(generator, observations, batch_size=1024):
  """Runs a pose generator over `[N, ...]` observations in batches -> joints `[N, 17, 3]`."""
  out = [np.asarray(generator(observations[i:i + batch_size],
                              training=False)[pose_networks.JOINTS_3D])
         for i in range(0, len(observations), batch_size)]
  return np.concatenate(out).astype(np.float64)
