"""Tests of the renderer contract and the toy pooling renderer."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.renderers import base


class RendererContractTest(testing.TestCase):

  @testing.parameterized.parameters(base.IdentityRenderer, base.AveragePooling1D)
  def test_renderer_has_no_weights(self, cls):
    renderer = cls()
    renderer(tf.ones([2, 4]))
    self.assertEmpty(renderer.weights)
    self.assertFalse(renderer.trainable)

  def test_add_weight_raises(self):
    class Bad(base.Renderer):

      def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=[1])

      def render(self, prediction, context):
        return prediction * self.w

    with self.assertRaisesRegex(TypeError, "parameter-free"):
      Bad(name="bad")(tf.ones([1, 1]))


class AveragePooling1DTest(testing.TestCase):

  def test_render_preset(self):
    y = tf.constant([[1.0, 3.0, -2.0, 4.0]])
    self.assertAllClose(base.AveragePooling1D(2)(y), [[2.0, 1.0]])
    self.assertAllClose(base.AveragePooling1D(4)(y), [[1.5]])

  def test_render_any_batch_shape(self):
    y = tf.ones([2, 3, 6])
    self.assertEqual(base.AveragePooling1D(3)(y).shape, (2, 3, 2))

  def test_render_jacobian(self):
    y = tf.random.normal([1, 4], dtype=tf.float64)
    theoretical, numerical = tf.test.compute_gradient(base.AveragePooling1D(2), [y])
    self.assertAllClose(theoretical, numerical)
    self.assertAllClose(theoretical[0], np.kron(np.eye(2), [[0.5, 0.5]]))

  def test_inversion_by_gradient_descent(self):
    renderer = base.AveragePooling1D(2)
    observed = renderer(tf.constant([[1.0, 3.0, -2.0, 4.0]]))
    y = tf.Variable(tf.zeros([1, 4]))
    initial = float(tf.reduce_sum(tf.square(renderer(y) - observed)))
    for _ in range(50):
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(renderer(y) - observed))
      y.assign_sub(0.5 * tape.gradient(loss, y))
    self.assertLess(float(loss), 0.5 * initial)

  def test_indivisible_axis_raises(self):
    with self.assertRaisesRegex(ValueError, "not divisible"):
      base.AveragePooling1D(3)(tf.ones([1, 4]))


if __name__ == "__main__":
  tf.test.main()


class SoftFloorTest(testing.TestCase):

  def test_soft_floor_keeps_values_above_and_is_positive_below(self):
    values = tf.constant([-1.0, 0.0, 5e-4, 1e-3, 2e-3, 10.0])
    out = base.soft_floor(values, 1e-3).numpy()
    self.assertAllClose(out[3:], [1e-3, 2e-3, 10.0])
    self.assertTrue(np.all(out > 0))
    self.assertTrue(np.all(out[:3] < 1e-3))
    self.assertTrue(np.all(np.diff(out) > 0))  # Monotonic: order of depths is kept.

  def test_soft_floor_gradient_is_positive_and_finite_everywhere(self):
    values = tf.constant([-5.0, -1e-3, 0.0, 1e-3, 1.0, 1e6])
    with tf.GradientTape() as tape:
      tape.watch(values)
      out = base.soft_floor(values, 1e-3)
    gradient = tape.gradient(out, values).numpy()
    self.assert_finite(gradient)
    self.assertTrue(np.all(gradient > 0), gradient)
    self.assertAllClose(gradient[-2:], [1.0, 1.0])
