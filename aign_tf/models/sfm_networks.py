"""Networks of the structure-from-motion task: a depth + egomotion generator and a depth
discriminator (AIGN, Tung et al. 2017, Sec. 3.3).

Generator: an observation {"frames": `[B, H, W, 6]` (target then source RGB, floats in
[0, 1]), "intrinsics": `[B, 4]`} (or the frames tensor alone, without the direct solver) ->
{"depth": `[B, H, W, 1]` > 0, "egomotion": `[B, 6]`}. H and W must be divisible by
2^num_levels.

Depth: a small U-Net sees both frames. Two output forms:
- `mean_depth` unset: disparity d = d_min + (d_max - d_min) sigmoid(x), depth = 1 / d in
  [min_depth, max_depth] (Zhou et al. 2017).
- `mean_depth` set (the default configuration): d = exp(4 tanh((x - mean x) / 4)) divided
  by `mean_depth` times its per-image mean, so the harmonic mean of each depth map is
  `mean_depth`. The per-image mean of x is removed first (`center_log_disparity`): the
  normalisation makes a common offset of x invisible to every loss, so nothing held it,
  and in a full run (seed 1) x drifted to ~1800 +- 800 within 300 steps, where tanh is flat:
  the depth went constant and passed no gradient again (the discriminator then won).
  View synthesis only sees depth / |t|; fixing the depth's scale moves it into the
  translation, and the depth can no longer drift onto a bound of its range (Wang et al.
  2018). A sigmoid output pinned every pixel at one bound within a few hundred steps here,
  where it stopped passing gradients; exp(tanh) of centred logits has no such bound in
  practice.
- `metric_scale` (opt-in, with `mean_depth`): the normalised map times a scale
  exp(3 tanh(s / 3)). `"per_image"` (or True): s regressed per image from the pooled
  bottleneck. `"global"`: s is one trainable number, the same for every image. View
  synthesis cannot see that scale (the direct solver's translation follows it); only a
  discriminator that sees scale (`DepthDiscriminator(scale_invariant=False)`) can teach it,
  from the memory's units ("metric scale from an unpaired depth memory"). A discriminator
  on single depth maps matches the distribution of scales, not each image's: a per-image
  scale can spread as widely as the memory's scenes without following the image, and at
  10000 steps it was further from the truth (median 23%) than one constant (9%); the
  global scale can only learn the constant.
- `scale_statistic`: what `mean_depth` fixes per map before any scale: `"harmonic_mean"`
  (the default) or `"mean"` (the arithmetic mean of the depth). One constant scale is only
  as good as the statistic it holds fixed is constant across scenes: the true test depths,
  each normalised so the statistic equals one constant from the memory, have a median
  per-image scale error of 15% with the harmonic mean and 8% with the mean
  (`experiments/sfm_scale_statistics.py`). `"median"` (of the depth) is the statistic whose
  memory constant came closest on a trained model's predictions (54% of images within 10%,
  against 42% for the mean: a map's mean rests on its far pixels, the least accurate), and
  as the global scale's normalisation it reached a median per-image scale error of 9.2%
  (the mean: 12-17%), so `gin/sfm_metric_scale_global.gin` uses it (README, "The global
  scale with the median fixed").

Egomotion, `pose_solver`:
- "network": a head regresses 6 numbers from the pooled bottleneck (or, with
  `separate_pose_net`, from its own strided encoder on the frames); rotation times
  `pose_scale`, translation times `translation_scale`. Learned from scratch on 2 CPU cores
  it output nearly the same motion for every pair after 1000-2000 steps, and even given the
  true depth it did no better than a constant
  (`experiments/sfm_pose_from_true_depth.py`).
- "direct" (the default configuration): solved, not regressed: Gauss-Newton on the
  photometric error given the predicted depth (`direct_pose.solve_egomotion`, as the DDVO
  module of Wang et al. 2018), at 1 / `solver_downsample` resolution, coarse to fine over
  `solver_schedule`. With `solver_gradients=False` the motion is a constant for the
  optimiser and the depth learns through the renderer's warp alone. No trainable weights.

Discriminator: depth `[B, H, W, 1]` -> logits `[B, 1]` (strided convolutions, then a dense
layer on the flattened features, so the input size is fixed at the first call). It first
maps depth to log(depth) - mean(log depth) per example, so a global rescaling of the depth
(which view synthesis cannot observe) does not change its input: it judges shape, not scale.
With `scale_invariant=False` (opt-in) it sees log depth in the memory's units, shape and
scale together.
"""

import math

import gin
import tensorflow as tf
import tf_keras as keras

from aign_tf import errors
from aign_tf.models import direct_pose
from aign_tf.models import layers
from aign_tf.objectives import sfm as sfm_objectives

# Keys of a dict observation (the frames alone are also accepted without the direct solver).
FRAMES = sfm_objectives.FRAMES
INTRINSICS = "intrinsics"


def _conv(filters, kernel=3, strides=1, activation="relu"):
  return keras.layers.Conv2D(filters, kernel, strides=strides, padding="same",
                             activation=activation)


def _median_per_example(x):
  """The median of each example's values `[B, ...]` -> `[B, 1, 1, 1]` (for an even count, the
  mean of the two middle values); differentiable through the sort."""
  flat = tf.reshape(x, [tf.shape(x)[0], -1])
  count = flat.shape[1] if flat.shape[1] is not None else tf.shape(flat)[1]
  ordered = tf.sort(flat, axis=1)
  middle = 0.5 * (ordered[:, (count - 1) // 2] + ordered[:, count // 2])
  return tf.reshape(middle, [-1, 1, 1, 1])


@gin.configurable(module="generators")
class DepthEgomotionNet(keras.Model):
  """Target + source frames -> target depth and target-to-source egomotion."""

  def __init__(self, base_filters=16, num_levels=4, min_depth=0.5, max_depth=100.0,
               pose_scale=0.01, translation_scale=None, separate_pose_net=False,
               mean_depth=None, pose_solver="network", solver_downsample=2,
               solver_schedule=direct_pose.DEFAULT_SCHEDULE, solver_gradients=False,
               metric_scale=False, scale_statistic="harmonic_mean", center_log_disparity=True,
               name="depth_egomotion_net", **kwargs):
    # autocast=False: under mixed precision frames, intrinsics, depth and the pose solver
    # stay float32; only the convolutions compute in the policy's dtype.
    kwargs.setdefault("autocast", False)
    super().__init__(name=name, **kwargs)
    if not 0 < min_depth < max_depth:
      raise ValueError(f"DepthEgomotionNet needs 0 < min_depth < max_depth, got "
                       f"{min_depth}, {max_depth}")
    self.num_levels = int(num_levels)
    self.min_disparity = 1.0 / float(max_depth)
    self.max_disparity = 1.0 / float(min_depth)
    self.pose_scale = float(pose_scale)
    self.mean_depth = float(mean_depth) if mean_depth else None
    self.center_log_disparity = bool(center_log_disparity)
    if pose_solver not in ("network", "direct"):
      raise ValueError(f"DepthEgomotionNet.pose_solver must be 'network' or 'direct', got "
                       f"{pose_solver!r}")
    self.pose_solver = pose_solver
    self.solver_downsample = int(solver_downsample)
    self.solver_schedule = tuple(float(s) for s in solver_schedule)
    self.solver_gradients = bool(solver_gradients)
    self.translation_scale = float(pose_scale if translation_scale is None
                                   else translation_scale)
    filters = [base_filters * 2 ** i for i in range(self.num_levels)]
    self.stem = _conv(base_filters, 5)
    self.down = [(_conv(f, 3, 2), _conv(f)) for f in filters]
    self.up = [(_conv(f), _conv(f)) for f in reversed(filters[:-1])]
    self.up_last = (_conv(base_filters), _conv(base_filters))
    self.upsample = keras.layers.UpSampling2D(2, interpolation="bilinear")
    self.disparity = _conv(1, 3, activation=None)
    self.separate_pose_net = bool(separate_pose_net)
    # Opt-in (`metric_scale`, with `mean_depth`): a log-scale s, exp(3 tanh(s / 3)) in
    # [e^-3, e^3], starting at 1 (zero weights): per image from the pooled bottleneck, or
    # one number for all images ("global").
    if metric_scale is True:
      metric_scale = "per_image"
    if metric_scale not in (False, None, "per_image", "global"):
      raise ValueError(f"DepthEgomotionNet.metric_scale must be False, 'per_image' (or True) "
                       f"or 'global', got {metric_scale!r}")
    if metric_scale and not self.mean_depth:
      raise ValueError("DepthEgomotionNet.metric_scale needs mean_depth (the normalised "
                       "depth it rescales)")
    if scale_statistic not in ("harmonic_mean", "mean", "median"):
      raise ValueError(f"DepthEgomotionNet.scale_statistic must be 'harmonic_mean', 'mean' "
                       f"or 'median', got {scale_statistic!r}")
    self.scale_statistic = scale_statistic
    self.metric_scale = (keras.layers.Dense(1, kernel_initializer="zeros", name="log_scale")
                         if metric_scale == "per_image" else None)
    self.global_log_scale = (self.add_weight(name="global_log_scale", shape=(1, 1),
                                             initializer="zeros", trainable=True)
                             if metric_scale == "global" else None)
    if pose_solver == "direct":
      self.pose_convs, self.pose = [], None
    elif self.separate_pose_net:
      # Its own strided encoder on the frame pair (as SfMLearner's pose network): motion
      # features need not compete with depth features for the shared encoder.
      self.pose_convs = [_conv(min(base_filters * 2 ** i, 128), 3, 2)
                         for i in range(self.num_levels + 1)]
    else:
      self.pose_convs = [_conv(filters[-1], 3, 1), _conv(filters[-1], 3, 1)]
    if pose_solver != "direct":
      self.pose = keras.layers.Dense(6)

  def call(self, observation, training=False):
    if isinstance(observation, dict):
      frames = observation[FRAMES]
      intrinsics = observation.get(INTRINSICS)
    else:
      frames, intrinsics = observation, None
    shape = frames.shape
    factor = 2 ** self.num_levels
    if shape[1] is not None and (shape[1] % factor or shape[2] % factor):
      raise ValueError(f"DepthEgomotionNet with num_levels={self.num_levels}: height and "
                       f"width must be divisible by {factor}, got {shape[1]}x{shape[2]}")
    x = self.stem(frames)
    skips = [x]
    for down, conv in self.down:
      x = conv(down(x))
      skips.append(x)
    bottleneck = x
    # Decoder: upsample, concatenate the encoder feature of that scale, convolve.
    for (up, conv), skip in zip(self.up + [self.up_last], reversed(skips[:-1])):
      x = self.upsample(x)
      x = conv(tf.concat([up(x), skip], axis=-1))
    raw = tf.cast(self.disparity(x), tf.float32)
    if self.mean_depth:
      # Log-disparity, softly bounded to e^+-4 (tanh), so no pixel can saturate and stop
      # learning the way a sigmoid output does. Then fix the scale view synthesis cannot
      # see: disparity / its mean (Wang et al. 2018), so the depth cannot drift to a bound
      # of its range and die there; the translation carries the scale instead.
      if self.center_log_disparity:
        raw = raw - tf.reduce_mean(raw, axis=[1, 2, 3], keepdims=True)
      disparity = tf.exp(4.0 * tf.tanh(raw / 4.0))
      if self.scale_statistic == "mean":
        # The arithmetic mean of the depth is `mean_depth` (1 / disparity averaged).
        disparity = disparity * (tf.reduce_mean(1.0 / disparity, axis=[1, 2, 3],
                                                keepdims=True) / self.mean_depth)
      elif self.scale_statistic == "median":
        # The median depth is `mean_depth` (the median disparity's reciprocal).
        disparity = disparity / (self.mean_depth * _median_per_example(disparity))
      else:
        disparity = disparity / (self.mean_depth * tf.reduce_mean(
            disparity, axis=[1, 2, 3], keepdims=True))
      log_scale = None
      if self.metric_scale is not None:
        log_scale = tf.cast(self.metric_scale(tf.reduce_mean(bottleneck, axis=[1, 2])),
                            tf.float32)
      elif self.global_log_scale is not None:
        log_scale = tf.cast(self.global_log_scale, tf.float32)
      if log_scale is not None:
        disparity = disparity * tf.exp(-3.0 * tf.tanh(log_scale / 3.0))[:, :, None, None]
    else:
      disparity = self.min_disparity + (self.max_disparity - self.min_disparity) * tf.sigmoid(
          raw)
    depth = 1.0 / disparity
    if self.pose_solver == "direct":
      if intrinsics is None:
        raise ValueError("DepthEgomotionNet(pose_solver='direct') needs the observation "
                         "{'frames': [B, H, W, 6], 'intrinsics': [B, 4]}")
      return {"depth": depth, "egomotion": self._solve_pose(frames, depth, intrinsics)}
    y = frames if self.separate_pose_net else bottleneck
    for conv in self.pose_convs:
      y = conv(y)
    egomotion = tf.cast(self.pose(tf.reduce_mean(y, axis=[1, 2])), tf.float32)
    egomotion = tf.concat([self.translation_scale * egomotion[:, :3],
                           self.pose_scale * egomotion[:, 3:]], axis=-1)
    return {"depth": depth, "egomotion": egomotion}

  def _solve_pose(self, frames, depth, intrinsics):
    """Egomotion by direct Gauss-Newton (`direct_pose`), at 1 / `solver_downsample` of the
    resolution; without `solver_gradients` it is a constant for the optimiser (the depth
    still learns through the renderer's warp)."""
    factor = self.solver_downsample
    intrinsics = tf.cast(intrinsics, frames.dtype)
    if factor > 1:
      frames = tf.nn.avg_pool2d(frames, factor, factor, "VALID")
      depth = 1.0 / tf.nn.avg_pool2d(1.0 / depth, factor, factor, "VALID")
      intrinsics = tf.concat([intrinsics[:, :2] / factor,
                              (intrinsics[:, 2:] + 0.5) / factor - 0.5], axis=-1)
    if not self.solver_gradients:
      depth = tf.stop_gradient(depth)
      frames = tf.stop_gradient(frames)
    egomotion = direct_pose.solve_egomotion(frames[..., :3], frames[..., 3:], depth,
                                            intrinsics, schedule=self.solver_schedule)
    return egomotion if self.solver_gradients else tf.stop_gradient(egomotion)


def normalize_depth(depth, eps=1e-6):
  """log(depth) minus its per-example mean: invariant to a global scale of the depth."""
  log_depth = tf.math.log(tf.maximum(depth, eps))
  return log_depth - tf.reduce_mean(log_depth, axis=[1, 2, 3], keepdims=True)


@gin.configurable(module="discriminators")
class DepthDiscriminator(keras.Model):
  """Depth maps `[B, H, W, 1]` -> logits `[B, 1]`, on scale-normalised log depth.

  `instance_noise`: the standard deviation of Gaussian noise added to the (normalised) log
  depth of every map it judges while training, memory and predictions alike (instance noise,
  Sonderby et al. 2017): a memory that is told from the predictions by fine detail alone (a
  ray-cast sky exactly flat, a road without the texture ripples of a predicted one) then
  overlaps them, so the discriminator has to compare layouts and cannot win outright on
  detail. 0 (the default) adds nothing.
  """

  def __init__(self, base_filters=16, num_layers=4, spectral_norm=True,
               scale_invariant=True, instance_noise=0.0, name="depth_discriminator",
               **kwargs):
    kwargs.setdefault("autocast", False)  # log-depth normalisation in float32
    super().__init__(name=name, **kwargs)

    def wrap(layer):
      return layers.SpectralNormalization(layer) if spectral_norm else layer

    self.convs = [wrap(keras.layers.Conv2D(base_filters * 2 ** min(i, 3), 4, strides=2,
                                           padding="same"))
                  for i in range(int(num_layers))]
    self.flatten = keras.layers.Flatten()
    self.out = wrap(keras.layers.Dense(1))
    self.scale_invariant = bool(scale_invariant)
    if not (instance_noise >= 0 and math.isfinite(instance_noise)):
      raise errors.ConfigError("discriminators.DepthDiscriminator.instance_noise must be a "
                               f"finite number >= 0, got {instance_noise!r}")
    self.instance_noise = float(instance_noise)
    self.noise = (keras.layers.GaussianNoise(self.instance_noise) if self.instance_noise
                  else None)

  def call(self, depth, training=False):
    depth = tf.cast(depth, tf.float32)
    x = (normalize_depth(depth) if self.scale_invariant else
         tf.math.log(tf.maximum(depth, 1e-6)))
    if self.noise is not None:
      x = self.noise(x, training=training)
    for conv in self.convs:
      x = tf.nn.leaky_relu(conv(x, training=training), 0.2)
    # Flatten rather than pool: where depth is (floor below, far end ahead) matters.
    return self.out(self.flatten(x), training=training)
