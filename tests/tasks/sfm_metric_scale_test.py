"""sfm metric scale (opt-in): a per-image scale in the generator, a discriminator that sees
scale, unscaled metrics and a rescaled memory."""

import math

import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.models import sfm_networks
from aign_tf.tasks import sfm
from aign_tf.tasks import sfm_metrics


class MetricScaleTest(testing.TestCase):

  def test_unscaled_metrics_of_a_doubled_depth(self):
    true = np.exp(np.random.default_rng(0).normal(1.5, 0.4, (2, 8, 8, 1)))
    out = sfm.unscaled_depth_metrics(true, 2.0 * true)
    self.assertAllClose(out["scale_ratio"], [2.0, 2.0])
    self.assertAllClose(out["scale_error"], [math.log(2.0)] * 2)
    self.assertAllClose(out["abs_rel_unscaled"], [1.0, 1.0])
    self.assertAllClose(out["delta_1.25_unscaled"], [0.0, 0.0])
    self.assertAllClose(out["scale_within_10pct"], [0.0, 0.0])
    close = sfm.unscaled_depth_metrics(true, true * np.array([1.05, 0.8])[:, None, None, None])
    self.assertAllClose(close["scale_within_10pct"], [1.0, 0.0])

  def test_metrics_are_opt_in(self):
    true = np.full((1, 8, 8, 1), 3.0)
    batch = {"target": true}
    self.assertNotIn("scale_ratio", sfm.SfmTask().metrics(batch, {"depth": true}))
    task = sfm.SfmTask(metric_scale=True, height=16, width=32, num_memory=2, cache_dir=None)
    self.assertIn("scale_ratio", task.metrics(batch, {"depth": true}))
    # A scale-normalised model's metrics without median scaling (the ablation asks for them).
    task = sfm.SfmTask(unscaled_metrics=True, height=16, width=32, num_memory=2,
                       cache_dir=None)
    out = task.metrics(batch, {"depth": 2.0 * true})
    self.assertAllClose(out["abs_rel_unscaled"], [1.0])
    self.assertIn("abs_rel_memory_median", out)
    self.assertAllClose(out["abs_rel"], [0.0])
    self.assertNotIn("scale_ratio", sfm.SfmTask(metric_scale=True, unscaled_metrics=False,
                                                cache_dir=None).metrics(batch, {"depth": true}))

  def test_memory_median_baseline_rescales_to_the_memory(self):
    # A prediction right up to scale: scaled to the memory's median it is off by exactly
    # memory median / true median, whatever its own scale was.
    task = sfm.SfmTask(metric_scale=True, height=16, width=32, num_memory=2, cache_dir=None)
    memory = task._memory(0)  # pylint: disable=protected-access
    median = float(np.median(memory[memory > 0]))
    true = np.exp(np.random.default_rng(1).normal(1.0, 0.3, (2, 16, 32, 1)))
    out = task.metrics({"target": true}, {"depth": 7.0 * true})
    expected = median / np.median(true.reshape(2, -1), axis=1)
    self.assertAllClose(out["scale_ratio_memory_median"], expected)
    self.assertAllClose(out["abs_rel_memory_median"], np.abs(expected - 1.0))
    self.assertAllClose(out["scale_ratio"], [7.0, 7.0])
    doubled = sfm.SfmTask(metric_scale=True, height=16, width=32, num_memory=2,
                          cache_dir=None, memory_scale=2.0)
    self.assertAllClose(doubled.metrics({"target": true}, {"depth": true})[
        "scale_ratio_memory_median"], 2.0 * expected)

  def test_memory_mean_baseline_fixes_each_maps_mean(self):
    # Scaled to the memory maps' median mean depth, a prediction right up to scale is off by
    # that constant / its own true mean (up to the median-vs-mean of one map), whatever its
    # own scale; a map that is the true one at another scale is scored as the true one
    # scaled, so a map whose mean equals the constant is exact.
    task = sfm.SfmTask(metric_scale=True, height=16, width=32, num_memory=3, cache_dir=None)
    memory = task._memory(0).reshape(3, -1).astype(np.float64)  # pylint: disable=protected-access
    constant = float(np.median([m[m > 0].mean() for m in memory]))
    true = np.exp(np.random.default_rng(2).normal(1.0, 0.3, (2, 16, 32, 1)))
    true[1] *= constant / true[1].mean()
    out = task.metrics({"target": true}, {"depth": 3.0 * true})
    expected = constant / true.reshape(2, -1).mean(axis=1)
    self.assertAllClose(out["scale_ratio_memory_mean"], expected)
    self.assertAllClose(out["abs_rel_memory_mean"], np.abs(expected - 1.0))
    self.assertAllClose(out["abs_rel_memory_mean"][1], 0.0, atol=1e-9)
    self.assertEqual(out["scale_within_10pct_memory_mean"][1], 1.0)
    with self.assertRaisesRegex(ValueError, "to_median or to_mean"):
      sfm.unscaled_depth_metrics(true, true, to_median=1.0, to_mean=1.0)

  def test_unscaled_translation_and_ate(self):
    true = np.array([[0.1, 0.0, 1.0, 0.0, 0.0, 0.0]] * 4)
    half = true * [0.5, 0.5, 0.5, 1, 1, 1]
    scaled = sfm_metrics.egomotion_metrics(true, half, unscaled=True)
    self.assertAllClose(scaled["translation_error"], [0.0] * 4, atol=1e-9)
    self.assertAllClose(scaled["translation_error_unscaled"],
                        [0.5 * np.linalg.norm(true[0, :3])] * 4)
    self.assertNotIn("translation_error_unscaled", sfm_metrics.egomotion_metrics(true, half))
    aligned = sfm_metrics.snippet_ate(true, half, reduction="mean")
    unaligned = sfm_metrics.snippet_ate(true, half, reduction="mean", align_scale=False)
    self.assertAllClose(aligned, 0.0, atol=1e-9)
    self.assertGreater(unaligned, 0.5)

  @testing.parameterized.parameters((True, True), (False, False))
  def test_discriminator_sees_scale_only_when_asked(self, scale_invariant, same):
    discriminator = sfm_networks.DepthDiscriminator(base_filters=4,
                                                    scale_invariant=scale_invariant)
    depth = tf.exp(tf.random.stateless_normal([2, 16, 32, 1], [1, 2]))
    close = np.allclose(discriminator(depth), discriminator(3.0 * depth), atol=1e-5)
    self.assertEqual(close, same)

  def test_generator_scale_head_starts_at_one_and_rescales(self):
    net = sfm_networks.DepthEgomotionNet(base_filters=4, num_levels=2, mean_depth=5.0,
                                         metric_scale=True)
    frames = tf.random.stateless_uniform([2, 16, 32, 6], [3, 4])
    harmonic = lambda d: 1.0 / np.mean(1.0 / np.asarray(d), axis=(1, 2, 3))
    self.assertAllClose(harmonic(net(frames)["depth"]), [5.0, 5.0], rtol=1e-4)
    net.metric_scale.bias.assign([math.log(2.0)])
    expected = 5.0 * math.exp(3.0 * math.tanh(math.log(2.0) / 3.0))
    self.assertAllClose(harmonic(net(frames)["depth"]), [expected] * 2, rtol=1e-4)

  def test_global_scale_is_one_weight_for_every_image(self):
    net = sfm_networks.DepthEgomotionNet(base_filters=4, num_levels=2, mean_depth=5.0,
                                         metric_scale="global")
    frames = tf.random.stateless_uniform([3, 16, 32, 6], [5, 6])
    harmonic = lambda d: 1.0 / np.mean(1.0 / np.asarray(d), axis=(1, 2, 3))
    self.assertAllClose(harmonic(net(frames)["depth"]), [5.0] * 3, rtol=1e-4)
    self.assertIsNone(net.metric_scale)
    self.assertIn(net.global_log_scale.ref(), {w.ref() for w in net.trainable_weights})
    net.global_log_scale.assign([[math.log(2.0)]])
    expected = 5.0 * math.exp(3.0 * math.tanh(math.log(2.0) / 3.0))
    self.assertAllClose(harmonic(net(frames)["depth"]), [expected] * 3, rtol=1e-4)
    # The scale gets a gradient (from a loss that sees it) and is the same for every image.
    with tf.GradientTape() as tape:
      depth = net(frames)["depth"]
      loss = tf.reduce_mean(tf.math.log(depth))
    self.assertGreater(abs(float(tape.gradient(loss, net.global_log_scale)[0, 0])), 0.1)

  def test_scale_statistic_mean_fixes_the_arithmetic_mean(self):
    net = sfm_networks.DepthEgomotionNet(base_filters=4, num_levels=2, mean_depth=5.0,
                                         metric_scale="global", scale_statistic="mean")
    frames = tf.random.stateless_uniform([2, 16, 32, 6], [7, 8])
    net(frames)  # Builds the layers.
    net.disparity.bias.assign([0.5])  # Any output: only the normalisation is tested.
    net.disparity.kernel.assign(tf.random.stateless_normal(net.disparity.kernel.shape, [1, 1]))
    depth = np.asarray(net(frames)["depth"])
    self.assertAllClose(depth.mean(axis=(1, 2, 3)), [5.0, 5.0], rtol=1e-4)
    self.assertGreater(np.std(np.log(depth)), 0.01)  # Not a constant map.
    net.global_log_scale.assign([[math.log(2.0)]])
    expected = 5.0 * math.exp(3.0 * math.tanh(math.log(2.0) / 3.0))
    self.assertAllClose(np.asarray(net(frames)["depth"]).mean(axis=(1, 2, 3)), [expected] * 2,
                        rtol=1e-4)
    with self.assertRaisesRegex(ValueError, "scale_statistic must be"):
      sfm_networks.DepthEgomotionNet(mean_depth=5.0, scale_statistic="geometric")

  def test_scale_statistic_median_fixes_the_median(self):
    net = sfm_networks.DepthEgomotionNet(base_filters=4, num_levels=2, mean_depth=5.0,
                                         metric_scale="global", scale_statistic="median")
    frames = tf.random.stateless_uniform([2, 16, 32, 6], [7, 8])
    net(frames)
    net.disparity.kernel.assign(tf.random.stateless_normal(net.disparity.kernel.shape, [2, 1]))
    with tf.GradientTape() as tape:
      depth = net(frames)["depth"]
      loss = tf.reduce_mean(depth[:, :8])
    depth = np.asarray(depth)
    self.assertAllClose(np.median(depth.reshape(2, -1), axis=1), [5.0, 5.0], rtol=1e-4)
    self.assertGreater(np.std(np.log(depth)), 0.01)
    # Gradients flow through the sort to the network.
    self.assertGreater(float(tf.norm(tape.gradient(loss, net.disparity.kernel))), 0.0)
    self.assertAllClose(np.asarray(sfm_networks._median_per_example(  # pylint: disable=protected-access
        tf.constant([[[[1.0], [4.0]], [[2.0], [9.0]]]]))), [[[[3.0]]]])

  def test_metric_scale_modes(self):
    per_image = sfm_networks.DepthEgomotionNet(base_filters=4, num_levels=2, mean_depth=5.0,
                                               metric_scale="per_image")
    self.assertIsNotNone(per_image.metric_scale)
    self.assertIsNone(per_image.global_log_scale)
    with self.assertRaisesRegex(ValueError, "metric_scale must be .*'global', got 'globl'"):
      sfm_networks.DepthEgomotionNet(mean_depth=5.0, metric_scale="globl")

  def test_metric_scale_needs_mean_depth(self):
    with self.assertRaisesRegex(ValueError, "metric_scale needs mean_depth"):
      sfm_networks.DepthEgomotionNet(metric_scale=True)

  def test_memory_scale(self):
    task = sfm.SfmTask(height=16, width=32, num_memory=2, cache_dir=None)
    doubled = sfm.SfmTask(height=16, width=32, num_memory=2, cache_dir=None, memory_scale=2.0)
    self.assertAllClose(doubled._memory(0), 2.0 * task._memory(0))  # pylint: disable=protected-access
    with self.assertRaisesRegex(errors.ConfigError, "memory_scale"):
      sfm.SfmTask(memory_scale=0)


if __name__ == "__main__":
  tf.test.main()
