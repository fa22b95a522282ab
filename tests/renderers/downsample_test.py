"""Tests of the super-resolution renderer (k x k average pooling, optional luma)."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.renderers import downsample


class DownsampleTest(testing.TestCase):

  def test_render_preset(self):
    # One 4x4 single-channel image, 2x2 blocks averaged by hand.
    image = np.array([[1, 3, 0, 0],
                      [5, 7, 0, 4],
                      [2, 2, 9, 1],
                      [2, 2, 3, 3]], np.float32)[None, :, :, None]
    expected = np.array([[4.0, 1.0], [2.0, 4.0]], np.float32)[None, :, :, None]
    self.assertAllClose(downsample.Downsample(2)(image), expected)
    self.assertAllClose(downsample.Downsample(4)(image), [[[[44.0 / 16.0]]]])

  def test_grayscale_preset(self):
    image = np.zeros([1, 2, 2, 3], np.float32)
    image[0, 0, 0] = [1.0, 0.0, 0.0]
    image[0, 1, 1] = [0.0, 1.0, 1.0]
    rendered = downsample.Downsample(2, grayscale=True)(image)
    self.assertEqual(rendered.shape, (1, 1, 1, 1))
    self.assertAllClose(rendered[0, 0, 0, 0], (0.299 + 0.587 + 0.114) / 4.0)

  def test_box_upsampled_image_renders_back_exactly(self):
    low = tf.random.uniform([2, 5, 3, 3], seed=1)
    for factor in (2, 4):
      high = downsample.box_upsample(low, factor)
      self.assertAllEqual(downsample.Downsample(factor)(high), low)

  def test_any_batch_shape(self):
    images = tf.ones([2, 3, 8, 8, 3])
    self.assertEqual(downsample.average_pool(images, 4).shape, (2, 3, 2, 2, 3))

  def test_renderer_has_no_weights(self):
    renderer = downsample.Downsample(2)
    renderer(tf.ones([1, 4, 4, 3]))
    self.assertEmpty(renderer.weights)
    self.assertFalse(renderer.trainable)

  def test_render_jacobian(self):
    image = tf.random.normal([1, 4, 4, 1], dtype=tf.float64)
    theoretical, numerical = tf.test.compute_gradient(downsample.Downsample(2), [image])
    self.assertAllClose(theoretical, numerical)
    # Each output depends on its own 2x2 block with weight 1/4.
    self.assertAllClose(np.sum(theoretical[0], axis=1), np.ones(4))
    self.assertAllClose(np.count_nonzero(theoretical[0], axis=1), np.full(4, 4))

  def test_grayscale_jacobian(self):
    image = tf.random.normal([1, 2, 2, 3], dtype=tf.float64)
    renderer = downsample.Downsample(2, grayscale=True)
    # `render` directly: calling the Keras layer would cast float64 inputs to float32.
    theoretical, numerical = tf.test.compute_gradient(lambda y: renderer.render(y, {}),
                                                      [image])
    self.assertAllClose(theoretical, numerical)

  def test_inversion_by_gradient_descent(self):
    renderer = downsample.Downsample(2)
    observed = renderer(tf.random.uniform([1, 8, 8, 3], seed=2))
    y = tf.Variable(tf.zeros([1, 8, 8, 3]))
    initial = float(tf.reduce_sum(tf.square(renderer(y) - observed)))
    for _ in range(30):
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(renderer(y) - observed))
      y.assign_sub(1.0 * tape.gradient(loss, y))
    self.assertLess(float(loss), 0.5 * initial)

  def test_indivisible_size_raises(self):
    with self.assertRaisesRegex(ValueError, "height 6 is not divisible by the scale factor 4"):
      downsample.Downsample(4)(tf.ones([1, 6, 8, 3]))

  def test_bad_factor_raises(self):
    with self.assertRaisesRegex(ValueError, "factor must be >= 1"):
      downsample.Downsample(0)

  def test_grayscale_needs_rgb(self):
    with self.assertRaisesRegex(ValueError, "3 channels"):
      downsample.Downsample(2, grayscale=True)(tf.ones([1, 4, 4, 4]))


if __name__ == "__main__":
  tf.test.main()
