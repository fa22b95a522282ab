"""Tests of the view-synthesis renderer (unproject, move, project, sample)."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from aign_tf import testing
from aign_tf.data import sfm as sfm_data
from aign_tf.renderers import view_synthesis as vs


def _intrinsics(batch, height, width, focal=10.0):
  return tf.constant([[focal, focal, (width - 1) / 2.0, (height - 1) / 2.0]] * batch)


class WarpTest(testing.TestCase):

  def test_warp_identity_reproduces_source(self):
    source = tf.random.uniform([2, 6, 8, 3])
    depth = tf.random.uniform([2, 6, 8, 1], 0.5, 20.0)
    warped, valid, coordinates = vs.warp(source, depth, tf.zeros([2, 6]),
                                         _intrinsics(2, 6, 8))
    self.assertAllClose(warped, source, atol=1e-5)
    self.assertAllEqual(valid, tf.ones([2, 6, 8, 1]))
    self.assertAllClose(coordinates[0], vs.pixel_grid(6, 8), atol=1e-4)

  def test_warp_translation_preset(self):
    # Depth 2 and focal 10: moving points +0.2 along x moves them 10 * 0.2 / 2 = 1 pixel.
    source = tf.random.uniform([1, 4, 5, 1])
    depth = tf.fill([1, 4, 5, 1], 2.0)
    egomotion = tf.constant([[0.2, 0.0, 0.0, 0.0, 0.0, 0.0]])
    warped, valid, _ = vs.warp(source, depth, egomotion, _intrinsics(1, 4, 5))
    self.assertAllClose(warped[:, :, :4], source[:, :, 1:], atol=1e-5)
    self.assertAllEqual(valid[0, :, :, 0], [[1, 1, 1, 1, 0]] * 4)

  def test_warp_forward_translation_preset(self):
    # Moving points 1 unit further away (t_z = 1) at depth 1 halves their offsets from the
    # principal point: pixel (c_x + 2, c_y) samples the source at (c_x + 1, c_y).
    source = tf.random.uniform([1, 5, 5, 1])
    depth = tf.ones([1, 5, 5, 1])
    egomotion = tf.constant([[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    _, _, coordinates = vs.warp(source, depth, egomotion, _intrinsics(1, 5, 5))
    self.assertAllClose(coordinates[0, 2, 4], [3.0, 2.0])
    self.assertAllClose(coordinates[0, 0, 0], [1.0, 1.0])

  def test_warp_rotation_preset(self):
    # A yaw of atan(1 / focal) moves the principal ray by one pixel horizontally.
    height, width, focal = 5, 7, 10.0
    source = tf.random.uniform([1, height, width, 1])
    egomotion = tf.constant([[0.0, 0.0, 0.0, 0.0, float(np.arctan(1.0 / focal)), 0.0]])
    _, _, coordinates = vs.warp(source, tf.fill([1, height, width, 1], 3.0), egomotion,
                                _intrinsics(1, height, width, focal))
    self.assertAllClose(coordinates[0, 2, 3], [4.0, 2.0], atol=1e-5)

  def test_warp_behind_camera_invalid_and_finite(self):
    source = tf.random.uniform([1, 3, 3, 1])
    depth = tf.ones([1, 3, 3, 1])
    egomotion = tf.Variable([[0.0, 0.0, -1.0, 0.0, 0.0, 0.0]])  # points land at z = 0.
    with tf.GradientTape() as tape:
      warped, valid, _ = vs.warp(source, depth, egomotion, _intrinsics(1, 3, 3))
      loss = tf.reduce_sum(warped)
    self.assertAllEqual(valid, tf.zeros_like(valid))
    self.assert_finite(warped)
    self.assert_finite(tape.gradient(loss, egomotion))

  def test_warp_jacobian_random(self):
    rng = np.random.default_rng(1)
    source = tf.constant(rng.uniform(size=(1, 5, 6, 2)))
    intrinsics = tf.constant([[6.0, 6.0, 2.3, 2.1]], tf.float64)
    depth = rng.uniform(2.0, 4.0, size=(1, 5, 6, 1))
    egomotion = np.array([[0.05, -0.03, 0.1, 0.01, 0.02, -0.015]])

    def by_depth(depth):
      return vs.warp(source, depth, tf.constant(egomotion), intrinsics)[0]

    def by_egomotion(egomotion):
      return vs.warp(source, tf.constant(depth), egomotion, intrinsics)[0]

    for fn, value in ((by_depth, depth), (by_egomotion, egomotion)):
      theoretical, numerical = tf.test.compute_gradient(fn, [tf.constant(value)], delta=1e-6)
      self.assert_finite(theoretical[0])
      self.assertGreater(np.abs(theoretical[0]).max(), 0.0)
      self.assertAllClose(theoretical[0], numerical[0], atol=1e-4)

  def test_warp_inversion_by_gradient_descent(self):
    # Fit depth and egomotion so that the warped source matches a rendered target.
    pair = sfm_data.generate_pairs(1, 32, 64, seed=3)
    source = tf.constant(pair["source_frame"], tf.float32) / 255.0
    intrinsics = tf.constant(pair["intrinsics"])
    target, valid_true, _ = vs.warp(source, pair["depth"], pair["egomotion"], intrinsics)
    log_depth = tf.Variable(tf.fill([1, 32, 64, 1], float(np.log(np.median(pair["depth"])))))
    egomotion = tf.Variable(tf.zeros([1, 6]))
    optimizer = keras.optimizers.Adam(0.02)

    def loss_fn():
      warped, valid, _ = vs.warp(source, tf.exp(log_depth), egomotion, intrinsics)
      weights = valid * valid_true
      return tf.reduce_sum(weights * tf.abs(warped - target)) / tf.reduce_sum(weights)

    initial = float(loss_fn())
    for _ in range(60):
      with tf.GradientTape() as tape:
        loss = loss_fn()
      grads = tape.gradient(loss, [log_depth, egomotion])
      optimizer.apply_gradients(zip(grads, [log_depth, egomotion]))
    final = float(loss_fn())
    self.assertLess(final, 0.5 * initial, f"loss {initial:.4f} -> {final:.4f}")


class ViewSynthesisRendererTest(testing.TestCase):

  def test_renderer_output_and_no_weights(self):
    renderer = vs.ViewSynthesis()
    source = tf.random.uniform([2, 4, 6, 3])
    out = renderer({"depth": tf.ones([2, 4, 6, 1]), "egomotion": tf.zeros([2, 6])},
                   {"source": source, "intrinsics": _intrinsics(2, 4, 6)})
    self.assertAllClose(out.rendered, source, atol=1e-5)
    self.assertEqual(out.weights.shape, (2, 4, 6, 1))
    self.assertAllEqual(out.baseline, source)  # The unwarped source.
    self.assertEmpty(renderer.weights)
    self.assertFalse(renderer.trainable)

  def test_renderer_exception_raised(self):
    renderer = vs.ViewSynthesis()
    with self.assertRaisesRegex(ValueError, "prediction dict"):
      renderer(tf.ones([1, 4, 6, 1]), {"source": tf.ones([1, 4, 6, 3])})
    with self.assertRaisesRegex(ValueError, "intrinsics"):
      renderer({"depth": tf.ones([1, 4, 6, 1]), "egomotion": tf.zeros([1, 6])},
               {"source": tf.ones([1, 4, 6, 3])})
    with self.assertRaisesRegex(ValueError, r"egomotion must be \[B, 6\]"):
      vs.warp(tf.ones([1, 4, 6, 3]), tf.ones([1, 4, 6, 1]), tf.zeros([1, 7]),
              _intrinsics(1, 4, 6))
    with self.assertRaisesRegex(ValueError, "depth must be"):
      vs.warp(tf.ones([1, 4, 6, 3]), tf.ones([1, 4, 6]), tf.zeros([1, 6]),
              _intrinsics(1, 4, 6))


if __name__ == "__main__":
  tf.test.main()
