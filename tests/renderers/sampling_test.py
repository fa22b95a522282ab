"""Tests of bilinear sampling at float pixel coordinates."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.renderers import sampling


class BilinearSampleTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    # One 2 x 3 single-channel image: I[y, x].
    self.image = tf.constant([[[[1.0], [2.0], [4.0]],
                               [[8.0], [16.0], [32.0]]]])

  def test_sample_preset(self):
    points = tf.constant([[[[0.5, 0.5], [1.25, 0.0], [2.0, 1.0], [0.0, 0.75]]]])
    samples, valid = sampling.bilinear_sample(self.image, points)
    expected = [(1 + 2 + 8 + 16) / 4.0,      # centre of the four top-left pixels
                0.75 * 2 + 0.25 * 4,         # between (1, 0) and (2, 0)
                32.0,                        # the bottom-right pixel centre exactly
                0.25 * 1 + 0.75 * 8]         # between (0, 0) and (0, 1)
    self.assertAllClose(samples[0, 0, :, 0], expected)
    self.assertAllEqual(valid[0, 0, :, 0], [1.0, 1.0, 1.0, 1.0])

  def test_sample_out_of_bounds_is_invalid_and_finite(self):
    points = tf.constant([[[[-1.0, 0.0], [0.0, -0.5], [2.5, 1.0], [1.0, 7.0], [1.0, 1.0]]]])
    samples, valid = sampling.bilinear_sample(self.image, points)
    self.assertAllEqual(valid[0, 0, :, 0], [0.0, 0.0, 0.0, 0.0, 1.0])
    self.assert_finite(samples)
    self.assertAllClose(samples[0, 0, 4, 0], 16.0)

  def test_sample_any_batch_shape(self):
    image = tf.random.uniform([2, 3, 4, 5, 2])
    points = tf.random.uniform([2, 3, 6, 7, 2], 0.0, 3.0)
    samples, valid = sampling.bilinear_sample(image, points)
    self.assertEqual(samples.shape, (2, 3, 6, 7, 2))
    self.assertEqual(valid.shape, (2, 3, 6, 7, 1))
    flat, _ = sampling.bilinear_sample(tf.reshape(image, [6, 4, 5, 2]),
                                       tf.reshape(points, [6, 6, 7, 2]))
    self.assertAllClose(tf.reshape(samples, [6, 6, 7, 2]), flat)

  def test_sample_jacobian_random(self):
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(1, 4, 5, 2))
    # Keep points away from integer coordinates, where bilinear weights have kinks.
    points = (rng.integers(0, 3, size=(1, 3, 3, 2)) + rng.uniform(0.2, 0.8, (1, 3, 3, 2)))

    def by_image(image):
      return sampling.bilinear_sample(image, tf.constant(points))[0]

    def by_points(points):
      return sampling.bilinear_sample(tf.constant(image), points)[0]

    for fn, value in ((by_image, image), (by_points, points)):
      theoretical, numerical = tf.test.compute_gradient(fn, [tf.constant(value)], delta=1e-4)
      self.assert_finite(theoretical[0])
      self.assertGreater(np.abs(theoretical[0]).max(), 0.0)
      self.assertAllClose(theoretical[0], numerical[0], atol=1e-6)

  def test_sample_gradient_finite_out_of_bounds(self):
    points = tf.Variable([[[[-3.0, 0.5], [1.5, 9.0]]]])
    with tf.GradientTape() as tape:
      samples, _ = sampling.bilinear_sample(self.image, points)
      loss = tf.reduce_sum(samples)
    self.assert_finite(tape.gradient(loss, points))

  def test_sample_exception_raised(self):
    with self.assertRaisesRegex(ValueError, "coordinates must be"):
      sampling.bilinear_sample(self.image, tf.zeros([1, 2, 2, 3]))
    with self.assertRaisesRegex(ValueError, "image must be"):
      sampling.bilinear_sample(tf.zeros([4, 4]), tf.zeros([4, 2]))
    with self.assertRaisesRegex(ValueError, "batch shapes differ"):
      sampling.bilinear_sample(tf.zeros([2, 4, 4, 1]), tf.zeros([3, 4, 4, 2]))


if __name__ == "__main__":
  tf.test.main()
