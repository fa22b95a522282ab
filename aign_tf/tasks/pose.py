"""The pose task: lift 2D keypoints to 3D joints and a camera (Tung et al. 2017, Sec. 4.1).

G maps root-centred, scale-normalised 2D keypoints to root-relative 3D joints in the camera
frame and a camera (renderers/projection.py states the conventions); the renderer projects
them back; the discriminator compares the predicted poses with an unpaired memory of real
(or, by default without fetched samples, procedural) motion capture from other clips.

Metrics (per example, millimetres; averaged over a split by `tools/evaluate.py`):
  mpjpe_mm    mean per-joint position error of the root-relative joints;
  n_mpjpe_mm  after the least-squares scale s = <P, T> / <P, P> (Rhodin et al. 2018);
  p_mpjpe_mm  after Procrustes alignment (rotation, scale, translation);
  pck3d_150   percentage of joints within 150 mm.
Splits: "eval" (the held-out clips), "train" (training inputs), "clip:<name>" (one eval clip).

Export (2D keypoints in normalised camera coordinates -> 3D joints in metres and the
camera): `aign_tf.tasks.pose_export`.
"""

import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf.core import keys
from aign_tf.core import skeleton
from aign_tf.data import pipeline
from aign_tf.data import pose as pose_data
from aign_tf.models import pose_networks
from aign_tf.renderers import projection
from aign_tf.tasks import base
from aign_tf.tasks import pose_pictures

CLIP = "clip"
CANONICAL = "canonical"
KEYPOINTS_2D = "keypoints_2d"


@base.register_task
class PoseTask(base.Task):
  """2D keypoints -> 3D pose + camera, with a mocap memory (module doc)."""

  name = "pose"

  def __init__(self, memory_frame=pose_data.CANONICAL, paired_fraction=0.0, views_per_pose=2,
               noise_px=1.0, dropout=0.0, eval_dropout=0.0, max_train=None, max_memory=None,
               max_eval=2048, camera_sampler=None, seed=0):
    """Builds the task (data is made lazily, once).

    Args:
      memory_frame: "canonical" (memory poses face +z; pair with `canonical=True`
        generators) or "camera" (memory poses seen by sampled cameras).
      paired_fraction: fraction of training inputs whose 3D ground truth is used
        (`target_mask` = 1), for the supervised term.
      views_per_pose: cameras sampled per training pose.
      noise_px: std of Gaussian 2D noise in pixels (train and eval inputs).
      dropout: probability of dropping a (non-root) joint in training inputs.
      eval_dropout: same for evaluation inputs.
      max_train, max_memory, max_eval: caps on the number of examples (evenly subsampled).
      camera_sampler: a `data.CameraSampler` (default ranges when None).
      seed: seeds the cameras, noise, dropout and the paired subset.
    """
    if not 0.0 <= paired_fraction <= 1.0:
      raise errors.ConfigError(f"PoseTask.paired_fraction must be in [0, 1], got "
                               f"{paired_fraction}")
    if memory_frame not in (pose_data.CANONICAL, "camera"):
      raise errors.ConfigError(f"PoseTask.memory_frame must be 'canonical' or 'camera', got "
                               f"{memory_frame!r}")
    for arg, value in (("dropout", dropout), ("eval_dropout", eval_dropout)):
      if not 0.0 <= value < 1.0:
        raise errors.ConfigError(f"PoseTask.{arg} must be in [0, 1), got {value}")
    self.memory_frame = memory_frame
    self.paired_fraction = float(paired_fraction)
    self.views_per_pose = int(views_per_pose)
    self.noise_px = float(noise_px)
    self.dropout = float(dropout)
    self.eval_dropout = float(eval_dropout)
    self.max_train, self.max_memory, self.max_eval = max_train, max_memory, max_eval
    self.camera_sampler = camera_sampler or pose_data.CameraSampler()
    self.seed = int(seed)
    self._cache = {}

  # Data ------------------------------------------------------------------------------------

  def clips(self, split):
    if split not in self._cache:
      self._cache[split] = pose_data.pose_clips(split)
    return self._cache[split]

  @staticmethod
  def _subsample(arrays, limit):
    count = len(next(iter(arrays.values())))
    if limit is None or count <= limit:
      return arrays
    index = np.linspace(0, count - 1, int(limit)).astype(np.int64)
    return {k: v[index] for k, v in arrays.items()}

  def _examples(self, split, views, dropout, limit, seed):
    poses, clip_index, names = pose_data.stack_clips(self.clips(split))
    poses = np.repeat(poses, views, axis=0)
    clip_index = np.repeat(clip_index, views)
    rng = np.random.default_rng(seed)
    cameras = self.camera_sampler.sample(len(poses), rng)
    views = pose_data.observe(poses, cameras, rng, self.noise_px, dropout)
    views[CLIP] = clip_index.astype(np.int32)
    return self._subsample(views, limit), names

  def _batch_dict(self, examples, paired_fraction, seed):
    mask = np.random.default_rng(seed).random(len(examples["observation"])) < paired_fraction
    return {keys.OBSERVATION: examples["observation"],
            keys.CONTEXT: {projection.ROOT_2D: examples["root_2d"],
                           projection.SCALE_2D: examples["scale_2d"]},
            keys.RECONSTRUCTION_WEIGHTS: examples["confidence"][..., None],
            keys.TARGET: examples["target"],
            keys.TARGET_MASK: mask.astype(np.float32),
            CANONICAL: examples["canonical"],
            KEYPOINTS_2D: examples["keypoints_2d"],
            CLIP: examples[CLIP]}

  def memory(self, seed=0):
    """Memory poses `[N, 17, 3]` in `memory_frame`."""
    poses, _, _ = pose_data.stack_clips(self.clips("memory"))
    cameras = self.camera_sampler.sample(len(poses), np.random.default_rng(self.seed + seed + 7))
    memory = pose_data.memory_poses(poses, self.memory_frame, cameras)
    return self._subsample({"m": memory}, self.max_memory)["m"]

  def train_dataset(self, batch_size, seed=0, with_memory=True):
    examples, _ = self._examples("train", self.views_per_pose, self.dropout, self.max_train,
                                 self.seed + seed + 11)
    batch = self._batch_dict(examples, self.paired_fraction, self.seed + 13)
    return pipeline.training_stream(
        tf.data.Dataset.from_tensor_slices(batch), len(examples["observation"]), batch_size,
        seed, memory=(lambda: base.memory_samples(self.memory(seed))) if with_memory else None,
        memory_seed=seed + 1)

  def eval_examples(self, split="eval"):
    """The evaluation examples of a split as a NumPy batch dict (and the clip names)."""
    if split == "train":
      examples, names = self._examples("train", 1, self.eval_dropout, self.max_eval,
                                       self.seed + 17)
    elif split == "eval" or split.startswith("clip:"):
      examples, names = self._examples("eval", 1, self.eval_dropout, None, self.seed + 19)
      if split.startswith("clip:"):
        clip = split[len("clip:"):]
        if clip not in names:
          raise errors.ConfigError(f"PoseTask: no eval clip {clip!r}; eval clips: {names}")
        keep = examples[CLIP] == names.index(clip)
        examples = {k: v[keep] for k, v in examples.items()}
      examples = self._subsample(examples, self.max_eval)
    else:
      raise errors.ConfigError(f"PoseTask has splits 'eval', 'train' and 'clip:<name>', not "
                               f"{split!r}")
    return self._batch_dict(examples, 1.0, 0), names

  def eval_dataset(self, batch_size, split="eval"):
    batch, _ = self.eval_examples(split)
    return tf.data.Dataset.from_tensor_slices(batch).batch(batch_size)

  # Metrics and pictures --------------------------------------------------------------------

  def metrics(self, batch, prediction):
    return pose_metrics(np.asarray(prediction[pose_networks.JOINTS_3D]),
                        np.asarray(batch[keys.TARGET]))

  def images(self, batch, prediction):
    count = min(4, len(batch[keys.OBSERVATION]))
    return {"pose_skeletons": pose_pictures.plot_poses(
        batch[keys.OBSERVATION][:count], prediction[pose_networks.JOINTS_3D][:count],
        batch[keys.TARGET][:count])}


# Metrics ---------------------------------------------------------------------------------

def procrustes_align(prediction, target):
  """Aligns `[N, J, 3]` predictions to targets with a similarity transform (per example)."""
  p = prediction - prediction.mean(axis=1, keepdims=True)
  t = target - target.mean(axis=1, keepdims=True)
  u, s, vt = np.linalg.svd(np.einsum("nji,njk->nik", p, t))
  # Rotation R = U diag(1, 1, d) V^T with d fixing reflections; p R maps onto t.
  d = np.sign(np.linalg.det(u @ vt))
  flip = np.ones_like(s)
  flip[:, -1] = d
  rotation = u @ (flip[:, :, None] * vt)
  scale = (s * flip).sum(axis=1) / np.maximum((p ** 2).sum(axis=(1, 2)), 1e-12)
  return scale[:, None, None] * p @ rotation + target.mean(axis=1, keepdims=True)


def pose_metrics(prediction, target, threshold_mm=150.0):
  """Per-example MPJPE, N-MPJPE, P-MPJPE (mm) and PCK3D (%) of `[N, J, 3]` metres."""
  prediction = np.asarray(prediction, np.float64)
  target = np.asarray(target, np.float64)
  if prediction.shape != target.shape or prediction.shape[-1] != 3:
    raise errors.DataError(f"pose metrics: prediction {prediction.shape} vs target "
                           f"{target.shape}")
  prediction = skeleton.root_relative(prediction)
  target = skeleton.root_relative(target)
  errors_mm = 1000.0 * np.linalg.norm(prediction - target, axis=-1)
  scale = (np.sum(prediction * target, axis=(1, 2)) /
           np.maximum(np.sum(prediction ** 2, axis=(1, 2)), 1e-12))
  scaled = 1000.0 * np.linalg.norm(scale[:, None, None] * prediction - target, axis=-1)
  aligned = 1000.0 * np.linalg.norm(procrustes_align(prediction, target) - target, axis=-1)
  return {"mpjpe_mm": errors_mm.mean(axis=1), "n_mpjpe_mm": scaled.mean(axis=1),
          "p_mpjpe_mm": aligned.mean(axis=1),
          "pck3d_150": 100.0 * (errors_mm < threshold_mm).mean(axis=1)}
