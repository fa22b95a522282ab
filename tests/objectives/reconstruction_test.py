"""Tests of the reconstruction losses."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.objectives import reconstruction


class ReconstructionLossTest(testing.TestCase):

  def test_l2_and_l1_per_example(self):
    target = tf.zeros([2, 2, 2])
    prediction = tf.constant([[[1.0, 1.0], [1.0, 1.0]], [[2.0, 0.0], [0.0, 0.0]]])
    self.assertAllClose(reconstruction.l2_loss(target, prediction), [1.0, 1.0])
    self.assertAllClose(reconstruction.l1_loss(target, prediction), [1.0, 0.5])

  def test_weights_average_over_visible_elements_only(self):
    target = tf.zeros([2, 4])
    prediction = tf.constant([[1.0, 1.0, 5.0, 5.0], [2.0, 2.0, 2.0, 2.0]])
    weights = tf.constant([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    self.assertAllClose(reconstruction.masked_l2_loss(target, prediction, weights),
                        [1.0, 4.0])
    self.assertAllClose(reconstruction.masked_l1_loss(target, prediction, weights),
                        [1.0, 2.0])

  def test_weights_broadcast(self):
    target = tf.zeros([1, 3, 2])
    prediction = tf.constant([[[1.0, 1.0], [3.0, 3.0], [9.0, 9.0]]])
    confidence = tf.constant([[[1.0], [1.0], [0.0]]])  # Per-joint weights.
    self.assertAllClose(reconstruction.l1_loss(target, prediction, confidence), [2.0])

  def test_fully_masked_example_is_zero_not_nan(self):
    loss = reconstruction.l2_loss(tf.zeros([1, 3]), tf.ones([1, 3]), tf.zeros([1, 3]))
    self.assertAllClose(loss, [0.0])

  def test_shape_mismatch_names_shapes(self):
    with self.assertRaisesRegex(ValueError, r"\(2, 3\).*\(2, 4\)"):
      reconstruction.l2_loss(tf.zeros([2, 3]), tf.zeros([2, 4]))


if __name__ == "__main__":
  tf.test.main()


class PhotometricLossTest(testing.TestCase):

  def _image(self, seed, shape=(2, 8, 10, 3)):
    return tf.random.stateless_uniform(shape, seed=(seed, 0))

  def test_identical_images_score_zero(self):
    image = self._image(0)
    self.assertAllClose(reconstruction.photometric_loss(image, image), [0.0, 0.0], atol=1e-6)

  def test_pure_l1_matches_l1_loss(self):
    a, b = self._image(0), self._image(1)
    self.assertAllClose(reconstruction.photometric_loss(a, b, ssim_weight=0.0),
                        reconstruction.l1_loss(a, b))

  def test_ssim_tolerates_brightness_more_than_structure(self):
    image = self._image(0)
    brighter = image * 0.8 + 0.1  # Same structure, other brightness/contrast.
    scrambled = tf.reverse(image, axis=[2])  # Same values, other structure.
    ssim_only = lambda b: reconstruction.photometric_loss(image, b, ssim_weight=1.0)
    self.assertTrue(np.all(ssim_only(brighter).numpy() < 0.1))
    self.assertTrue(np.all(ssim_only(scrambled).numpy() > 0.3))

  def test_ssim_dissimilarity_per_pixel_by_hand(self):
    # A constant image against another constant: mu_x = a, mu_y = b, no variance, so
    # SSIM = (2ab + c1) / (a^2 + b^2 + c1) everywhere.
    a, b, c1 = 0.2, 0.6, 0.01 ** 2
    x = tf.fill([1, 4, 5, 1], a)
    y = tf.fill([1, 4, 5, 1], b)
    ssim = (2 * a * b + c1) / (a * a + b * b + c1)
    self.assertAllClose(reconstruction.ssim_dissimilarity(x, y),
                        tf.fill([1, 4, 5, 1], (1.0 - ssim) / 2.0), atol=1e-4)

  def test_invalid_pixels_do_not_count(self):
    target = tf.zeros([1, 4, 4, 3])
    prediction = tf.concat([tf.zeros([1, 4, 2, 3]), tf.ones([1, 4, 2, 3])], axis=2)
    weights = tf.concat([tf.ones([1, 4, 2, 1]), tf.zeros([1, 4, 2, 1])], axis=2)
    # L1 part only: the bad half is masked out. (SSIM windows straddle the seam, so only
    # the L1 part is exactly zero.)
    self.assertAllClose(reconstruction.photometric_loss(target, prediction, weights,
                                                        ssim_weight=0.0), [0.0])
    self.assertAllClose(reconstruction.photometric_loss(target, prediction,
                                                        ssim_weight=0.0), [0.5])

  def test_gradient_finite(self):
    a, b = self._image(0), self._image(1)
    with tf.GradientTape() as tape:
      tape.watch(b)
      loss = tf.reduce_sum(reconstruction.photometric_loss(a, b))
    self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(tape.gradient(loss, b)))))

  def test_auto_mask_scores_the_better_of_prediction_and_baseline(self):
    target = tf.zeros([1, 2, 4, 1])
    # Left half: the prediction is better than the baseline; right half: worse.
    prediction = tf.constant([[[[0.1], [0.1], [0.9], [0.9]]] * 2])
    baseline = tf.constant([[[[0.5], [0.5], [0.5], [0.5]]] * 2])
    with tf.GradientTape() as tape:
      tape.watch(prediction)
      loss = reconstruction.photometric_loss(target, prediction, ssim_weight=0.0,
                                             baseline=baseline)
    self.assertAllClose(loss, [(0.1 + 0.5) / 2])
    gradient = tape.gradient(loss, prediction).numpy()[0, :, :, 0]
    self.assertTrue(np.all(gradient[:, :2] > 0))   # Pixels the prediction wins: trained.
    self.assertAllEqual(gradient[:, 2:], np.zeros((2, 2)))  # The baseline wins: ignored.
    unmasked = reconstruction.photometric_loss(target, prediction, ssim_weight=0.0,
                                               baseline=baseline, auto_mask=False)
    self.assertAllClose(unmasked, [0.5])

  def test_exception_raised(self):
    with self.assertRaisesRegex(ValueError, "images"):
      reconstruction.photometric_loss(tf.zeros([2, 3]), tf.zeros([2, 3]))
    with self.assertRaisesRegex(ValueError, "shape"):
      reconstruction.photometric_loss(tf.zeros([1, 4, 4, 3]), tf.zeros([1, 4, 5, 3]))
