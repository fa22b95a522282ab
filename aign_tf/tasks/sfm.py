"""The structure-from-motion task: frame pair -> target depth + egomotion (AIGN Sec. 3.3).

G sees the target and source frames, predicts the target frame's depth and the camera motion
from target to source; the view-synthesis renderer warps the source frame into the target
view with them, and the (validity-masked) photometric error against the target frame trains
G without labels. The discriminator compares predicted depth maps (scale-normalised) with an
unpaired memory of real depth maps from other scenes.

Batch layout (keys from `aign_tf.core.keys`):
  observation            {"frames": `[B, H, W, 6]` float in [0, 1], target RGB then source
                         RGB; "intrinsics": `[B, 4]`} (the direct pose solver needs them).
  context                {"source": `[B, H, W, 3]` source frame, "intrinsics": `[B, 4]`
                         (f_x, f_y, c_x, c_y) pixels}.
  reconstruction_target  `[B, H, W, 3]` the target frame.
  target, target_mask    `[B, H, W, 1]` true target depth and `[B]` where it may be used
                         (procedural data only; `paired_fraction` of the training examples).
  egomotion              `[B, 6]` true egomotion (evaluation, when known).
  memory                 `[B, H, W, 1]` depth maps of other scenes (training).
Conventions (camera axes, pixels, egomotion) are those of
`aign_tf.renderers.view_synthesis`. The pairs come from a source (`aign_tf.tasks.sfm_sources`:
procedural corridors by default, KITTI, an SfMLearner dump, a video; the task's arguments
that moved there are in `sfm_moved`); export is `aign_tf.tasks.sfm_export`.

Metrics follow Zhou et al. 2017 / Eigen et al. 2014: depth abs-rel, sq-rel, RMSE, log-RMSE
and delta < 1.25 after scaling each predicted map by median(true) / median(predicted) (a
monocular depth is known up to scale); egomotion translation error after the least-squares
scale per example, and the rotation error angle in degrees.
"""

import os

from absl import logging
import gin
import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf.core import files
from aign_tf.core import imaging
from aign_tf.core import keys
from aign_tf.data import pipeline
from aign_tf.data import samples
from aign_tf.data import sfm as sfm_data
from aign_tf.models import direct_pose
from aign_tf.models import sfm_networks
from aign_tf.renderers import view_synthesis
from aign_tf.tasks import base
from aign_tf.tasks import sfm_metrics
from aign_tf.tasks import sfm_sources

EGOMOTION = sfm_sources.EGOMOTION
# Training health (`health`): a batch whose depth maps have a median per-map spread (std of
# log depth) below this is "flat" (procedural corridors: ~0.5; a constant depth: 0).
MIN_DEPTH_SPREAD = 0.02
# A memory whose median depth differs from the inputs' by more than this factor is said to
# be in other units.
MAX_SCALE_RATIO = 10.0
_NO_PARALLAX = ("below ~1% there is no parallax to learn depth from (a standing or panning "
                "camera, scene cuts): use a clip where the camera travels, or a larger "
                "sfm_sources.Frames.frame_step")
_OVERRULED = ("the photometric term was overruled: lower models.AIGN.regularizer_weights"
              "['smoothness'] or models.AIGN.adversarial_weight (a discriminator winning "
              "against a memory of other scenes flattens depth too)")


@gin.configurable(module="tasks")
def sfm_prior_weight(weight=0.01):
  """`models.AIGN.adversarial_weight` for the sfm task: `weight` when the depth memory suits
  the inputs, 0 (no discriminator, with a WARNING) when it does not.

  The memory suits the inputs with the procedural source (its memory shows other
  corridors) or with `tasks.SfmTask.memory_file` bound. A real source (a video, KITTI, an
  SfMLearner dump) without `memory_file` would be judged against procedural corridors, and
  a discriminator would push a street scene's depth toward a corridor's, so it trains
  without one (photometric + smoothness). Reads the gin bindings of `tasks.SfmTask`.
  """
  memory_file = _bound("tasks.SfmTask.memory_file", None)
  if memory_file or not weight:
    return weight
  # Read from the bindings, not built: building a source may read files.
  source = sfm_sources.source_class(_bound("tasks.SfmTask.source", "procedural"))
  if source is None or source.matches_builtin_memory:
    return weight
  logging.warning(
      "SfmTask: source=%r (%s) and no depth memory of similar scenes "
      "(tasks.SfmTask.memory_file is unset; the built-in memory shows procedural "
      "corridors): training without the depth discriminator (adversarial weight 0 instead "
      "of %g). To use a depth prior, bind tasks.SfmTask.memory_file to a .npy of depth maps "
      "of the same kind of scenes [N, H, W], in the same units.", source.name,
      _bound(f"sfm_sources.{source.__name__}.data_dir", "?"), weight)
  return 0.0


def log_depth_spread(depth):
  """Each depth map's spread `[B]`: the std of log depth over its pixels (0 for a constant
  map; ~0.55 for the procedural test scenes). The training health check's "flat depth"."""
  log_depth = np.log(np.maximum(np.asarray(depth, np.float64), 1e-9))
  return log_depth.reshape(len(log_depth), -1).std(axis=1)


# Metrics of predictions scaled to the memory's median depth, or so that each map's
# arithmetic mean is the median of the memory maps' means (`unscaled_depth_metrics`).
MEMORY_MEDIAN_SUFFIX = "_memory_median"
MEMORY_MEAN_SUFFIX = "_memory_mean"


def unscaled_depth_metrics(true_depth, predicted_depth, min_depth=1e-3, to_median=None,
                           to_mean=None, suffix="_unscaled"):
  """Per-example `[B]` depth errors WITHOUT scaling by the true depth (abs_rel, rmse,
  delta < 1.25, as `sfm_metrics.depth_metrics`, names + `suffix`), the scale ratio
  median(predicted) / median(true), the scale error |log ratio| and whether the ratio is
  within 10% (|log ratio| < log 1.1, 1 or 0: its mean over images is the share within 10%,
  and the median scale error is under 10% when that share exceeds one half) (names + the
  suffix after "scale", e.g. "scale_ratio"), over pixels with true depth > `min_depth`.

  With `to_median`, each prediction is first scaled so that its median is `to_median`:
  the memory's median depth gives the baseline a model without a scale of its own can
  reach (one constant for every image, known without any label). With `to_mean`, each
  prediction is scaled so that its arithmetic mean (over all its pixels, as the memory's
  maps were measured) is `to_mean`: of the per-map statistics one constant can hold fixed,
  the mean is the one whose value varies least across the procedural scenes' true depth
  (`experiments/sfm_scale_statistics.py`); on predicted depth the median did better (a
  map's mean rests on its far pixels, the least accurate; README, "Metric scale")."""
  if to_median is not None and to_mean is not None:
    raise ValueError("unscaled_depth_metrics: give to_median or to_mean, not both")
  true_depth = np.asarray(true_depth, np.float64).reshape(len(true_depth), -1)
  predicted = np.asarray(predicted_depth, np.float64).reshape(len(true_depth), -1)
  scale_suffix = "" if suffix == "_unscaled" else suffix
  names = (f"abs_rel{suffix}", f"rmse{suffix}", f"delta_1.25{suffix}",
           f"scale_ratio{scale_suffix}", f"scale_error{scale_suffix}",
           f"scale_within_10pct{scale_suffix}")
  out = {name: np.full(len(true_depth), np.nan) for name in names}
  for i, (gt, pred) in enumerate(zip(true_depth, predicted)):
    valid = np.isfinite(gt) & (gt > min_depth)
    if not valid.any():
      continue
    if to_mean is not None:
      pred = pred * (to_mean / np.mean(np.maximum(pred, min_depth)))
    gt, pred = gt[valid], np.maximum(pred[valid], min_depth)
    if to_median is not None:
      pred = pred * (to_median / np.median(pred))
    ratio = np.median(pred) / np.median(gt)
    for name, value in zip(names, (
        np.mean(np.abs(gt - pred) / gt), np.sqrt(np.mean((gt - pred) ** 2)),
        np.mean(np.maximum(gt / pred, pred / gt) < 1.25), ratio, abs(np.log(ratio)),
        float(abs(np.log(ratio)) < np.log(1.1)))):
      out[name][i] = value
  return out


def _bound(name, default):
  try:
    return gin.query_parameter(name)
  except ValueError:
    return default


@base.register_task
class SfmTask(base.Task):
  """Depth and egomotion from frame pairs; see the module docstring for the batch layout.

  `source`: where the pairs come from, an `sfm_sources` object (`@sfm_sources.Frames()`)
    or its short name ("procedural", the default; "kitti_raw", "kitti_eigen", "sfmlearner",
    "frames": the class with its gin bindings, e.g. `sfm_sources.Frames.data_dir`).
  `height`, `width`: the frames' size (multiples of 16). `num_eval`: the procedural test
    pairs, and the pairs of the "train" evaluation split.
  The memory is `num_memory` procedural depth maps of other scenes unless `memory_file` (a
  .npy of `[N, H, W]` or `[N, H, W, 1]` depth maps, resized by nearest neighbour) is given.
  Procedural data (pairs, memory, ATE snippets) are ray-cast once per machine and kept in
  `cache_dir` (default `$AIGN_TF_CACHE/sfm/procedural`, `~/.cache/aign_tf/samples/...`
  without it; None keeps nothing on disk).
  `paired_fraction`: the fraction of training pairs whose true depth the paired term may use
  (exactly round(fraction * count) pairs, at least 1, chosen by the seed);
  `labelled_only` trains on those pairs alone (the paired-only baseline). `blur_levels`: see
  `to_batch`. `num_images`: rows of the picture grid.

  Metric scale (opt-in, `gin/sfm_metric_scale.gin`): `metric_scale=True` adds depth metrics
  without median scaling ("<metric>_unscaled"), the per-image scale ratio
  median(predicted) / median(true) ("scale_ratio"; "scale_error" = |log scale_ratio|),
  translation error and ATE without scale alignment ("translation_error_unscaled",
  "ate_unscaled_mean"), and the baseline of a model without a scale of its own: every
  prediction scaled to the memory's median depth ("<metric>_memory_median").
  `unscaled_metrics` (default: `metric_scale`) adds those metrics for any model, e.g. a
  scale-normalised one, whose "unscaled" depth has the normalisation's arbitrary scale and
  whose "_memory_median" metrics are what it reaches without labels (the ablation's "without
  median scaling"; `experiments/sfm_ablation.py` binds it).
  `memory_scale` multiplies every memory depth (a check that the predicted scale follows
  the memory's units: at 2, the scale ratio should go to 2).

  `flip_augmentation`: each training pair is mirrored left-right with probability 1/2 (both
  frames, the true depth, and the principal point: c_x -> W - 1 - c_x), drawn statelessly
  per batch (`pipeline.training_stream`'s `augment_fn`). A mirrored rigid scene seen by a
  mirrored camera motion is again a valid pair, so this doubles the scenes the depth network
  sees without changing what it must learn.
  """

  name = "sfm"

  def __init__(self, source="procedural", height=sfm_data.HEIGHT, width=sfm_data.WIDTH,
               num_eval=64, num_memory=1000, memory_file=None, memory_scale=1.0,
               paired_fraction=0.0, labelled_only=False, blur_levels=0, cache_dir="",
               metric_scale=False, flip_augmentation=False, num_images=4,
               unscaled_metrics=None):
    self.source = sfm_sources.build(source)
    if not 0.0 <= paired_fraction <= 1.0:
      raise errors.ConfigError(f"SfmTask.paired_fraction must be in [0, 1], got "
                               f"{paired_fraction}")
    if height % 16 or width % 16:
      raise errors.ConfigError(f"SfmTask: height and width must be multiples of 16 (the "
                               f"depth network halves them 4 times), got {height}x{width}")
    self.height, self.width = int(height), int(width)
    self.num_memory, self.num_eval = num_memory, num_eval
    self.paired_fraction = paired_fraction
    self.memory_file = memory_file
    self.num_images = num_images
    self.cache_dir = (os.path.join(samples.default_cache_dir(), "sfm", "procedural")
                      if cache_dir == "" else cache_dir)
    self.blur_levels = int(blur_levels)
    self.labelled_only = bool(labelled_only)
    self.metric_scale = bool(metric_scale)
    self.unscaled_metrics = (self.metric_scale if unscaled_metrics is None
                             else bool(unscaled_metrics))
    self.flip_augmentation = bool(flip_augmentation)
    if not (isinstance(memory_scale, (int, float)) and memory_scale > 0):
      raise errors.ConfigError(f"SfmTask.memory_scale must be a number > 0, got "
                               f"{memory_scale!r}")
    self.memory_scale = float(memory_scale)
    self._cache = {}

  # Data -----------------------------------------------------------------------------------

  def _cached(self, key, fn, disk_name=None):
    """`fn()` computed once per task object and, with `disk_name`, once per machine: kept
    as `<cache_dir>/<disk_name>.npz` (written atomically; `cache_dir=None` disables it)."""
    if key not in self._cache:
      if disk_name and self.cache_dir:
        self._cache[key] = files.cached_arrays(
            os.path.join(self.cache_dir, f"{disk_name}.npz"), fn)
      else:
        self._cache[key] = fn()
    return self._cache[key]

  def _pairs(self, split, seed=0):
    """The source's pairs of `split` at the task's size (`sfm_sources.Source.pairs`)."""
    return self.source.pairs(split, self.height, self.width, self._cached, seed=seed,
                             num_eval=self.num_eval)

  def training_camera(self):
    """The training pairs' median intrinsics `[4]` (f_x, f_y, c_x, c_y) in pixels of the
    task's `height x width`, before any mirroring: the camera a depth memory of other scenes
    should be rendered with (e.g. `data.road_depth_memory.intrinsics`), so that its horizon
    and field of view are the inputs'."""
    intrinsics = np.asarray(self._pairs("train")["intrinsics"], np.float64)
    return np.median(intrinsics, axis=0).astype(np.float32)

  def _memory(self, seed):
    depth = self._checked_memory(seed)
    return depth if self.memory_scale == 1.0 else depth * np.float32(self.memory_scale)

  def _checked_memory(self, seed):
    if self.memory_file:
      return self._cached("memory_file", lambda: sfm_data.load_depth_memory(
          self.memory_file, self.height, self.width))
    # Other scenes than the training inputs (another random stream).
    name = (f"{sfm_sources.PROCEDURAL_VERSION}_memory_{self.height}x{self.width}_"
            f"{self.num_memory}_{seed}")
    depth = self._cached(("memory", seed), lambda: {"depth": sfm_data.generate_depth_memory(
        self.num_memory, self.height, self.width, seed=seed + 5_000)}, name)["depth"]
    where = f"procedural depth memory (sfm.generate_depth_memory, seed {seed + 5_000})"
    if self.cache_dir:
      where += (f", cached in {os.path.join(self.cache_dir, name + '.npz')}: delete that "
                "file to ray-cast it again")
    return sfm_data.check_depth_memory(depth, where)

  def _memory_median(self):
    """The median depth of the memory the run trains with (the memory of `train.seed`'s
    stream when it is procedural), cached."""
    def median():
      depth = self._memory(int(_bound("train.seed", 0)))
      return float(np.median(depth[depth > 0]))
    return self._cached("memory_median", median)

  def _memory_mean(self):
    """The median over the memory's maps of each map's arithmetic mean depth (its valid
    pixels), cached: the constant of the "_memory_mean" metrics."""
    def mean():
      depth = self._memory(int(_bound("train.seed", 0))).astype(np.float64)
      depth = depth.reshape(len(depth), -1)
      valid = depth > 0
      return float(np.median((depth * valid).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)))
    return self._cached("memory_mean", mean)

  def _describe_memory(self):
    return (f"the depth maps in {self.memory_file}" if self.memory_file else
            "procedural corridor depth maps")

  def _describe_inputs(self):
    return self.source.describe()

  @staticmethod
  def _examples(pairs, mask=None):
    examples = {"target_frame": pairs["target_frame"], "source_frame": pairs["source_frame"],
                "intrinsics": pairs["intrinsics"].astype(np.float32)}
    if "depth" in pairs:
      examples[keys.TARGET] = pairs["depth"]
      examples[keys.TARGET_MASK] = (np.ones(len(pairs["depth"]), np.float32) if mask is None
                                    else mask)
    if EGOMOTION in pairs:
      examples[EGOMOTION] = pairs[EGOMOTION]
    return examples

  def to_batch(self, examples):
    """uint8 frames -> the AIGN batch dict (done per batch, after batching).

    With `blur_levels` = n > 0 the renderer's source and the reconstruction target carry n
    blurred copies of the frames after the 3 colour channels (Gaussian, sigma 1, 2, 4, ...
    pixels): the warp samples all channels at the same points, and the photometric error on
    the blurred copies has gradients that reach farther than one pixel, so large early
    errors in depth and motion still get a useful direction.
    """
    target = tf.cast(examples["target_frame"], tf.float32) / 255.0
    source = tf.cast(examples["source_frame"], tf.float32) / 255.0
    observation = {sfm_networks.FRAMES: tf.concat([target, source], axis=-1),
                   sfm_networks.INTRINSICS: tf.cast(examples["intrinsics"], tf.float32)}
    if self.blur_levels:
      target = tf.concat([target] + [direct_pose.gaussian_blur(target, 2.0 ** k)
                                     for k in range(self.blur_levels)], axis=-1)
      source = tf.concat([source] + [direct_pose.gaussian_blur(source, 2.0 ** k)
                                     for k in range(self.blur_levels)], axis=-1)
    batch = {keys.OBSERVATION: observation,
             keys.CONTEXT: {view_synthesis.SOURCE: source,
                            view_synthesis.INTRINSICS: examples["intrinsics"]},
             keys.RECONSTRUCTION_TARGET: target}
    for key in (keys.TARGET, keys.TARGET_MASK, EGOMOTION):
      if key in examples:
        batch[key] = examples[key]
    return batch

  def flip_pairs(self, examples, seed):
    """Mirrors each example of a batch of `_examples` left-right with probability 1/2, drawn
    from the stateless `seed` (`[2]` ints): frames and true depth along the width, and the
    principal point c_x -> W - 1 - c_x (pixel centres are integers)."""
    frames = examples["target_frame"]
    flip = tf.random.stateless_uniform(tf.shape(frames)[:1], seed) < 0.5
    out = dict(examples)
    for key in ("target_frame", "source_frame", keys.TARGET):
      if key in examples:
        out[key] = tf.where(flip[:, None, None, None], tf.reverse(examples[key], [2]),
                            examples[key])
    intrinsics = examples["intrinsics"]
    width = tf.cast(tf.shape(frames)[2], intrinsics.dtype)
    flipped_cx = width - 1.0 - intrinsics[:, 2]
    out["intrinsics"] = tf.stack([intrinsics[:, 0], intrinsics[:, 1],
                                  tf.where(flip, flipped_cx, intrinsics[:, 2]),
                                  intrinsics[:, 3]], axis=1)
    return out

  def train_dataset(self, batch_size, seed=0, with_memory=True):
    pairs = self._pairs("train", seed)
    count = len(pairs["target_frame"])
    # Exactly round(paired_fraction * count) labelled pairs (at least one if the fraction
    # is positive), chosen by the seed.
    labelled = int(round(self.paired_fraction * count))
    if self.paired_fraction > 0:
      labelled = max(1, labelled)
    mask = np.zeros(count, np.float32)
    mask[np.random.default_rng(seed + 2).permutation(count)[:labelled]] = 1.0
    examples = self._examples(pairs, mask)
    examples.pop(EGOMOTION, None)
    if self.labelled_only:
      if keys.TARGET not in examples or not mask.any():
        raise errors.ConfigError(
            f"SfmTask.labelled_only=True but no training pair has depth (paired_fraction="
            f"{self.paired_fraction}, {count} pairs, source {self.source.name!r})")
      examples = {k: v[mask > 0] for k, v in examples.items()}
      count = len(examples[keys.TARGET])
    return pipeline.training_stream(
        tf.data.Dataset.from_tensor_slices(examples), count, batch_size, seed,
        memory=(lambda: base.memory_samples(self._memory(seed))) if with_memory else None,
        memory_seed=seed + 3, batch_fn=self.to_batch,
        augment_fn=self.flip_pairs if self.flip_augmentation else None)

  def eval_dataset(self, batch_size, split="eval"):
    """The "eval" (test) or "train" pairs, or a source's extra split (procedural: one per
    scene condition, "textureless", "repeated", "occlusions"; `sfm_data.CONDITIONS`)."""
    splits = ("eval", "train") + tuple(self.source.extra_splits)
    if split not in splits:
      raise errors.ConfigError(f"SfmTask with source {self.source.name!r} has splits "
                               f"{', '.join(splits)}; not {split!r}")
    pairs = self._pairs(split)
    if split == "train":
      pairs = {k: v[:max(self.num_eval, 1)] for k, v in pairs.items()}
    return tf.data.Dataset.from_tensor_slices(self._examples(pairs)).batch(batch_size).map(
        self.to_batch)

  # Metrics and pictures -------------------------------------------------------------------

  def metrics(self, batch, prediction):
    out = {}
    if keys.TARGET in batch:
      out.update(sfm_metrics.depth_metrics(batch[keys.TARGET], prediction["depth"]))
      if self.unscaled_metrics:
        out.update(unscaled_depth_metrics(batch[keys.TARGET], prediction["depth"]))
        out.update(unscaled_depth_metrics(batch[keys.TARGET], prediction["depth"],
                                          to_median=self._memory_median(),
                                          suffix=MEMORY_MEDIAN_SUFFIX))
        out.update(unscaled_depth_metrics(batch[keys.TARGET], prediction["depth"],
                                          to_mean=self._memory_mean(),
                                          suffix=MEMORY_MEAN_SUFFIX))
    if EGOMOTION in batch:
      out.update(sfm_metrics.egomotion_metrics(batch[EGOMOTION], prediction["egomotion"],
                                               unscaled=self.unscaled_metrics))
    return out

  # Training health (`aign_tf.train.health`) ------------------------------------------------

  def health(self, batch, prediction):
    """Flat depth maps, and a memory in other units than the inputs.

    "flat_depth": the median over the batch of each map's spread (std of log depth) is
    below `MIN_DEPTH_SPREAD`: the depth stopped varying (smoothness or the discriminator
    won over the photometric term, or the output saturated).
    "memory_units": the memory's median depth differs by more than `MAX_SCALE_RATIO` from
    the data's known scale (the batch's true depth, procedural and KITTI data) or, without
    one, its harmonic mean from the predictions' (which
    `generators.DepthEgomotionNet.mean_depth` fixes).
    """
    problems = {}
    spread = float(np.median(log_depth_spread(prediction["depth"])))
    if spread < MIN_DEPTH_SPREAD:
      # Parallax: the camera's translation relative to the scene's depth.
      depth = np.maximum(np.asarray(prediction["depth"], np.float64), 1e-9)
      motion = np.linalg.norm(np.asarray(prediction["egomotion"], np.float64)[:, :3], axis=1)
      parallax = float(np.median(motion / np.median(depth.reshape(len(depth), -1), axis=1)))
      problems["flat_depth"] = (
          f"the predicted depth stopped varying: per-map spread (std of log depth) "
          f"{spread:.4f} < {MIN_DEPTH_SPREAD} on a fixed training batch of "
          f"{self._describe_inputs()}; the camera moves {100 * parallax:.2g}% of the median "
          "depth between the frames. Remedy: " + (_NO_PARALLAX + "; else " + _OVERRULED
                                                  if parallax < 0.01 else
                                                  _OVERRULED + "; " + _NO_PARALLAX))
    if keys.MEMORY in batch:
      problems.update(self._memory_scale_problem(batch, prediction))
    return problems

  def _memory_scale_problem(self, batch, prediction):
    memory = np.asarray(batch[keys.MEMORY], np.float64)
    memory = memory[memory > 0]
    if keys.TARGET in batch and np.any(np.asarray(batch[keys.TARGET]) > 0):
      reference = np.asarray(batch[keys.TARGET], np.float64)
      what = "true depth of the training inputs"
      statistic, name = np.median, "median depth"
    else:
      reference = np.asarray(prediction["depth"], np.float64)
      what = "predicted depth"
      # The statistic the generator's normalisation fixes (`mean_depth`: the harmonic mean
      # of each map), which far regions hardly move: a road memory in metres with its sky at
      # 300 has a median ~11x the normalised predictions' but a harmonic mean ~4x.
      statistic, name = (lambda d: 1.0 / np.mean(1.0 / d)), "harmonic mean depth"
    memory_value = float(statistic(memory))
    reference_value = float(statistic(reference[reference > 0]))
    ratio = memory_value / max(reference_value, 1e-12)
    if 1.0 / MAX_SCALE_RATIO <= ratio <= MAX_SCALE_RATIO:
      return {}
    return {"memory_units": (
        f"the depth memory ({self._describe_memory()}) has {name} {memory_value:.4g}, "
        f"{ratio:.3g}x the {what}'s {reference_value:.4g}: it is probably in other units "
        "(millimetres vs metres?) or not depth (disparity?). Remedy: rescale tasks.SfmTask."
        "memory_file to the inputs' units. (DepthDiscriminator compares scale-normalised log "
        "depth, so only the memory's shape reaches it; a discriminator that sees scale would "
        "be misled)")}

  def memory_remedy(self):
    return (f"the memory is {self._describe_memory()} and the inputs {self._describe_inputs()}"
            ": bind tasks.SfmTask.memory_file to depth maps of similar scenes (a .npy "
            "[N, H, W], same units) seen through the inputs' camera (field of view and "
            "horizon row: SfmTask.training_camera() gives the pairs' intrinsics, e.g. for "
            "data.road_depth_memory.intrinsics), or train without the discriminator: "
            "models.AIGN.adversarial_weight = 0")

  def _snippets(self):
    """The source's ATE snippets at the task's size (procedural: `sfm_data.generate_snippets`,
    cached on disk), or None."""
    return self.source.snippets(self.height, self.width, self._cached)

  def extra_metrics(self, generator, split, batch_size=32):
    """ATE on the source's 5-frame snippets (Zhou et al. 2017, `sfm_metrics.ate_metrics`):
    {"ate_mean", "ate_std"}, in scene units after the least-squares scale per snippet.

    Each snippet's consecutive frames make the pairs (target frame i, source frame i - 1),
    fed to `generator` in the layout of `to_batch`; the predicted egomotions are chained
    into a trajectory. Procedural source (`sfm_sources.Procedural.num_snippets`) and the
    "eval" split only (the snippets use the test photos); {} otherwise.
    """
    snippets = self._snippets() if split == "eval" else None
    if snippets is None:
      return {}
    frames = snippets["frames"]
    count, length = frames.shape[:2]
    pairs = {"target_frame": frames[:, 1:].reshape((-1,) + frames.shape[2:]),
             "source_frame": frames[:, :-1].reshape((-1,) + frames.shape[2:]),
             "intrinsics": np.repeat(snippets["intrinsics"].astype(np.float32), length - 1,
                                     axis=0)}
    predicted = []
    for start in range(0, len(pairs["target_frame"]), batch_size):
      batch = self.to_batch({k: v[start:start + batch_size] for k, v in pairs.items()})
      prediction = generator(batch[keys.OBSERVATION], training=False)
      predicted.append(np.asarray(prediction["egomotion"], np.float64))
    predicted = np.concatenate(predicted).reshape(count, length - 1, 6)
    ate = sfm_metrics.ate_metrics(snippets["poses"], predicted)
    out = {"ate_mean": ate["ate_mean"], "ate_std": ate["ate_std"]}
    if self.unscaled_metrics:
      ate = sfm_metrics.ate_metrics(snippets["poses"], predicted, align_scale=False)
      out.update({"ate_unscaled_mean": ate["ate_mean"], "ate_unscaled_std": ate["ate_std"]})
    return out

  def images(self, batch, prediction):
    count = min(self.num_images, len(batch[keys.OBSERVATION][sfm_networks.FRAMES]))
    context = batch[keys.CONTEXT]
    warped, valid, _ = view_synthesis.warp(
        context[view_synthesis.SOURCE][:count], prediction["depth"][:count],
        prediction["egomotion"][:count], context[view_synthesis.INTRINSICS][:count])
    warped = np.asarray(warped) * np.asarray(valid)
    rows = []
    for i in range(count):
      frames = batch[keys.OBSERVATION][sfm_networks.FRAMES][i]
      row = [frames[..., :3], frames[..., 3:], imaging.depth_to_colour(prediction["depth"][i])]
      if keys.TARGET in batch:
        row.append(imaging.depth_to_colour(batch[keys.TARGET][i]))
      row.append(warped[i, ..., :3])
      rows.append(row)
    # Columns: target | source | predicted depth | true depth (if known) | warped source.
    return {"sfm": imaging.grid(rows)}
