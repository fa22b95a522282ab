"""Where the sfm task's frame pairs come from: one gin-configurable class per data source.

`tasks.SfmTask.source` takes a source object, `@sfm_sources.Frames()`, or its short name,
"frames" (the class built with its own gin bindings, e.g. `sfm_sources.Frames.data_dir`):

  "procedural"   `Procedural`: the embedded default (no download): corridors ray-cast with
                 exact depth and motion (`aign_tf.data.sfm`), and the ATE snippets.
  "kitti_raw"    `KittiRaw`: KITTI raw date folders; the last `eval_fraction` of the pairs
                 evaluate; `poses_file` adds true egomotion.
  "kitti_eigen"  `KittiEigen`: KITTI raw with velodyne scans; evaluation is the Eigen test
                 split with sparse velodyne depth, training every drive not in it.
  "sfmlearner"   `SfmLearner`: an SfMLearner dump (train.txt / val.txt).
  "frames"       `Frames`: a folder of images or a video file, with given or assumed
                 calibration; the last `eval_fraction` of the pairs evaluate.

What every source shares (the image size, the number of evaluation pairs, the depth memory,
the paired fraction, the batch layout) stays with `aign_tf.tasks.sfm.SfmTask`, which asks a
source for `pairs(split, ...)`: a dict of NumPy arrays
  target_frame, source_frame  uint8 `[N, H, W, 3]` (target = frame i, source = frame i - 1)
  intrinsics                  `[N, 4]` (f_x, f_y, c_x, c_y) in pixels of these frames
  depth                       `[N, H, W, 1]` true target depth, when known (0 = unknown)
  egomotion                   `[N, 6]` true egomotion, when known.
The task owns the cache: `cached(key, compute, disk_name=None)` computes once per task and,
with a `disk_name`, once per machine (the task's `cache_dir`).
"""

import os

import gin

from aign_tf import errors
from aign_tf.data import frames as frames_data
from aign_tf.data import kitti
from aign_tf.data import sfm as sfm_data

# Bumped whenever the procedural generator changes, so stale cache files are not used.
PROCEDURAL_VERSION = "v3"
# The key of the true egomotion in the pairs (and in the task's batches).
EGOMOTION = "egomotion"


class Source:
  """Base class of the sfm sources (the contract is in the module docstring).

  Attributes:
    name: the short name `tasks.SfmTask.source` accepts for the class.
    matches_builtin_memory: the built-in depth memory (procedural corridors) shows the same
      kind of scenes as this source, so a depth discriminator may use it
      (`aign_tf.tasks.sfm.sfm_prior_weight`).
  """

  name = "source"
  matches_builtin_memory = False
  # Extra evaluation splits beyond "train" and "eval" (`SfmTask.eval_dataset`).
  extra_splits = ()

  def pairs(self, split, height, width, cached, seed=0, num_eval=64):
    """The pairs of `split` ("train" or "eval") at `height` x `width` (module docstring).

    Args:
      split: "train" or "eval".
      height, width: the frames' size.
      cached: the task's cache, `cached(key, compute, disk_name=None)`.
      seed: the training seed (sources that generate their data use it).
      num_eval: the number of evaluation pairs (sources that generate their data use it).
    """
    raise NotImplementedError(f"sfm source {self.name!r} must implement pairs")

  def snippets(self, height, width, cached):
    """Test snippets for the ATE (`sfm_data.generate_snippets`'s layout), or None."""
    del height, width, cached
    return None

  def describe(self):
    """The inputs in a few words, for health messages ("the frames of clip.mp4")."""
    return self.name


@gin.configurable(module="sfm_sources")
class Procedural(Source):
  """Procedural corridors textured with photographs (or value noise), ray-cast with exact
  depth and motion; no download.

  `num_train` training pairs textured with the training photos; the task's `num_eval` test
  pairs textured with other photos (`texture="photos"`; or "procedural" value noise), from
  their own seed, and as many again per scene condition (`sfm_data.CONDITIONS`: splits
  "textureless", "repeated", "occlusions", made when first asked for). `num_snippets`
  5-frame test snippets (0: none) give the ATE of Zhou et al. 2017 in `tools/evaluate.py`
  (`SfmTask.extra_metrics`). All are ray-cast once per machine and kept in the task's cache.
  """

  name = "procedural"
  matches_builtin_memory = True
  # Per-condition test splits (`sfm_data.CONDITIONS`): `num_eval` test-photo pairs each,
  # from their own seeds; the "eval" split stays the standard corridors.
  extra_splits = sfm_data.CONDITIONS
  SNIPPET_LENGTH = 5  # Frames per ATE snippet, as Zhou et al. 2017.

  def __init__(self, num_train=1000, texture="photos", num_snippets=32):
    self.num_train = num_train
    self.texture = texture
    self.num_snippets = int(num_snippets)

  def pairs(self, split, height, width, cached, seed=0, num_eval=64):
    size = f"{height}x{width}"
    if split == "train":
      return cached(("train", seed), lambda: sfm_data.generate_pairs(
          self.num_train, height, width, seed=seed, texture=self.texture, split="train"),
                    f"{PROCEDURAL_VERSION}_train_{self.texture}_{size}_{self.num_train}_{seed}")
    # Evaluation scenes come from their own seed and the test photos: disjoint from
    # training and memory scenes, and no training texture appears in them.
    if split in self.extra_splits:
      condition_seed = 11_000 + 1_000 * self.extra_splits.index(split)
      return cached((split,), lambda: sfm_data.generate_pairs(
          num_eval, height, width, seed=condition_seed, texture=self.texture, split="test",
          condition=split),
                    f"{PROCEDURAL_VERSION}_test_{split}_{self.texture}_{size}_{num_eval}")
    return cached(("eval",), lambda: sfm_data.generate_pairs(
        num_eval, height, width, seed=10_000, texture=self.texture, split="test"),
                  f"{PROCEDURAL_VERSION}_test_{self.texture}_{size}_{num_eval}")

  def snippets(self, height, width, cached):
    """The ATE snippets: test photos, their own seed (scenes unlike the training, memory and
    evaluation-pair ones); None when `num_snippets` is 0."""
    if self.num_snippets <= 0:
      return None
    size = f"{height}x{width}"
    return cached(("snippets",), lambda: sfm_data.generate_snippets(
        self.num_snippets, self.SNIPPET_LENGTH, height, width, seed=20_000,
        texture=self.texture, split="test"),
                  f"{PROCEDURAL_VERSION}_snippets{self.SNIPPET_LENGTH}_{self.texture}_{size}_"
                  f"{self.num_snippets}")

  def describe(self):
    return "procedural corridors"


class _Recorded(Source):
  """A source read from `data_dir` (real frames)."""

  def __init__(self, data_dir):
    if not data_dir:
      cls = type(self).__name__
      raise errors.ConfigError(f"sfm_sources.{cls} (tasks.SfmTask.source={self.name!r}) "
                               f"needs a data_dir: bind sfm_sources.{cls}.data_dir")
    self.data_dir = data_dir


def _last_fraction(pairs, split, eval_fraction, where):
  """The first pairs ("train") or the last `eval_fraction` of them (at least one)."""
  count = len(pairs["target_frame"])
  num_eval = max(1, int(round(eval_fraction * count)))
  if count < 2:
    raise errors.DataError(f"{where}: needs at least 2 pairs to split off an evaluation set")
  part = slice(0, count - num_eval) if split == "train" else slice(count - num_eval, count)
  return {k: v[part] for k, v in pairs.items()}


def _kitti_pairs(data_dir, height, width, exclude=(), poses_file=None):
  """KITTI raw pairs of the drives not in `exclude`, with egomotion from `poses_file`."""
  pairs = kitti.load_kitti_raw(data_dir, height, width, exclude_drives=exclude)
  if poses_file:
    drives = sorted(set(pairs["drive"]))
    if len(drives) != 1:
      raise errors.DataError(f"{poses_file}: a pose file needs exactly one drive in "
                             f"{data_dir}, found {len(drives)}")
    poses = sfm_data.load_poses(poses_file)
    if len(poses) != len(pairs["target_frame"]) + 1:
      raise errors.DataError(f"{poses_file}: {len(poses)} poses for "
                             f"{len(pairs['target_frame']) + 1} frames")
    pairs[EGOMOTION] = sfm_data.consecutive_egomotion(poses)
  del pairs["drive"]
  return pairs


@gin.configurable(module="sfm_sources")
class KittiRaw(_Recorded):
  """KITTI raw: `data_dir` holds date folders (`calib_cam_to_cam.txt` + drives); the last
  `eval_fraction` of the pairs evaluate; `poses_file` (TUM or KITTI 3x4, one pose per frame
  of a single drive) adds true egomotion."""

  name = "kitti_raw"

  def __init__(self, data_dir=None, poses_file=None, eval_fraction=0.1):
    super().__init__(data_dir)
    self.poses_file = poses_file
    self.eval_fraction = eval_fraction

  def pairs(self, split, height, width, cached, seed=0, num_eval=64):
    pairs = cached("kitti", lambda: _kitti_pairs(self.data_dir, height, width,
                                                 poses_file=self.poses_file))
    return _last_fraction(pairs, split, self.eval_fraction, self.data_dir)

  def describe(self):
    return f"the KITTI drives in {self.data_dir}"


@gin.configurable(module="sfm_sources")
class KittiEigen(_Recorded):
  """KITTI raw with velodyne scans, the Eigen split: evaluation is the test list
  (`eigen_list`, default `<data_dir>/test_files_eigen.txt`) with sparse velodyne depth (0 =
  unknown, ignored by the metrics; Garg crop, < 80 m); training uses every drive not in that
  list (`aign_tf.data.kitti`)."""

  name = "kitti_eigen"

  def __init__(self, data_dir=None, eigen_list=None):
    super().__init__(data_dir)
    self.eigen_list = eigen_list or os.path.join(data_dir, "test_files_eigen.txt")

  def pairs(self, split, height, width, cached, seed=0, num_eval=64):
    if split == "train":  # Train on the other drives, evaluate on the list.
      return cached("kitti", lambda: _kitti_pairs(
          self.data_dir, height, width, exclude=kitti.eigen_test_drives(self.eigen_list)))
    return cached("eigen", lambda: self._eigen_pairs(height, width))

  def _eigen_pairs(self, height, width):
    """Eigen test frames with sparse velodyne depth as "depth" (0 where unknown)."""
    pairs = kitti.load_eigen_test(self.data_dir, self.eigen_list, height, width)
    del pairs["drive"], pairs["frame"]
    return pairs

  def describe(self):
    return f"the KITTI drives in {self.data_dir}"


@gin.configurable(module="sfm_sources")
class SfmLearner(_Recorded):
  """An SfMLearner dump: `data_dir` holds train.txt / val.txt and the 3-frame strips."""

  name = "sfmlearner"

  def __init__(self, data_dir=None):
    super().__init__(data_dir)

  def pairs(self, split, height, width, cached, seed=0, num_eval=64):
    return sfm_data.load_sfmlearner(self.data_dir, "train" if split == "train" else "val",
                                    height, width)

  def describe(self):
    return f"the SfMLearner dump {self.data_dir}"


@gin.configurable(module="sfm_sources")
class Frames(_Recorded):
  """A folder of images or a video file (`aign_tf.data.frames`): consecutive frames (every
  `frame_step`-th) make pairs, the last `eval_fraction` of them evaluate (no depth or
  egomotion).

  Calibration: `intrinsics` (f_x, f_y, c_x, c_y in pixels of the original frames, or a file
  of them or of K) or `fov_degrees` (horizontal field of view; square pixels, centred
  principal point); `crop="center"` crops frames to the height / width aspect ratio before
  resizing.
  """

  name = "frames"

  def __init__(self, data_dir=None, intrinsics=None, fov_degrees=None, crop=None,
               frame_step=1, eval_fraction=0.1):
    super().__init__(data_dir)
    if (intrinsics is None) == (fov_degrees is None):
      raise errors.ConfigError("sfm_sources.Frames needs exactly one of "
                               "sfm_sources.Frames.intrinsics and "
                               "sfm_sources.Frames.fov_degrees")
    if intrinsics is not None and not isinstance(intrinsics, (str, os.PathLike)):
      intrinsics = tuple(frames_data.check_intrinsics(intrinsics,
                                                      "sfm_sources.Frames.intrinsics"))
    if fov_degrees is not None:
      frames_data.fov_intrinsics(1, 1, fov_degrees)  # Raises on a bad field of view.
    if crop not in frames_data.CROPS:
      raise errors.ConfigError(f"sfm_sources.Frames.crop must be one of {frames_data.CROPS}, "
                               f"got {crop!r}")
    self.intrinsics, self.fov_degrees, self.crop = intrinsics, fov_degrees, crop
    self.frame_step = frame_step
    self.eval_fraction = eval_fraction

  def pairs(self, split, height, width, cached, seed=0, num_eval=64):
    pairs = cached("frames", lambda: self._load(height, width))
    return _last_fraction(pairs, split, self.eval_fraction, self.data_dir)

  def _load(self, height, width):
    pairs = frames_data.load_frames(
        self.data_dir, height=height, width=width, intrinsics=self.intrinsics,
        fov_degrees=self.fov_degrees, crop=self.crop, step=self.frame_step)
    del pairs["name"]
    return pairs

  def describe(self):
    return f"the frames of {self.data_dir}"


SOURCES = {cls.name: cls for cls in (Procedural, KittiRaw, KittiEigen, SfmLearner, Frames)}


def source_class(bound):
  """The `Source` class `tasks.SfmTask.source` is bound to, without building a source (so no
  file is read and no gin reference in its bindings is evaluated): `bound` is a short name,
  a gin reference (`@sfm_sources.Frames()`), a `Source` class or object; None when it is
  none of them."""
  if isinstance(bound, gin.config.ConfigurableReference):
    bound = bound.configurable.wrapped
  if isinstance(bound, Source):
    return type(bound)
  if isinstance(bound, type) and issubclass(bound, Source):
    return bound
  return SOURCES.get(bound) if isinstance(bound, str) else None


def build(source):
  """A `Source` from what `tasks.SfmTask.source` is bound to: a short name ("frames": the
  class with its gin bindings), a `Source` class, or a `Source` object (returned as is).

  Raises:
    errors.ConfigError: an unknown name or something that is not a source.
  """
  if isinstance(source, Source):
    return source
  if isinstance(source, type) and issubclass(source, Source):
    return source()
  if isinstance(source, str) and source in SOURCES:
    return SOURCES[source]()
  raise errors.ConfigError(f"SfmTask.source must be one of {tuple(SOURCES)} or an "
                           f"sfm_sources object (@sfm_sources.Frames()), got {source!r}")
