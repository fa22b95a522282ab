"""Tests of the adversarial loss pairs and the gradient penalty."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.objectives import adversarial


class AdversarialLossTest(testing.TestCase):

  @testing.parameterized.named_parameters(
      ("non_saturating", adversarial.non_saturating_generator_loss,
       adversarial.non_saturating_discriminator_loss),
      ("least_squares", adversarial.least_squares_generator_loss,
       adversarial.least_squares_discriminator_loss),
      ("hinge", adversarial.hinge_generator_loss, adversarial.hinge_discriminator_loss),
      ("wasserstein", adversarial.wasserstein_generator_loss,
       adversarial.wasserstein_discriminator_loss))
  def test_pair_is_per_example_and_ordered(self, g_loss, d_loss):
    real = tf.constant([[2.0], [2.0], [2.0]])
    fake = tf.constant([[0.1], [0.5], [0.9]])
    self.assertEqual(g_loss(fake).shape, (3,))
    self.assertEqual(d_loss(real, fake).shape, (3,))
    # The generator's loss falls as D rates its samples more real...
    g = g_loss(fake).numpy()
    self.assertTrue(np.all(np.diff(g) < 0), g)
    # ...and the discriminator's rises.
    d = d_loss(real, fake).numpy()
    self.assertTrue(np.all(np.diff(d) > 0), d)

  def test_non_saturating_values(self):
    real, fake = tf.constant([0.0]), tf.constant([0.0])
    self.assertAllClose(adversarial.non_saturating_discriminator_loss(real, fake),
                        [2 * np.log(2.0)])
    self.assertAllClose(adversarial.non_saturating_generator_loss(tf.constant([3.0])),
                        [np.log1p(np.exp(-3.0))])

  def test_least_squares_and_hinge_values(self):
    self.assertAllClose(adversarial.least_squares_discriminator_loss(
        tf.constant([1.0, 0.0]), tf.constant([0.0, 1.0])), [0.0, 1.0])
    self.assertAllClose(adversarial.hinge_discriminator_loss(
        tf.constant([0.5]), tf.constant([-0.5])), [1.0])

  def test_patch_logits_are_averaged_per_example(self):
    logits = tf.reshape(tf.range(8, dtype=tf.float32), [2, 2, 2, 1])
    self.assertAllClose(adversarial.wasserstein_generator_loss(logits), [-1.5, -5.5])


class GradientPenaltyTest(testing.TestCase):

  def test_linear_discriminator_penalty(self):
    w = tf.constant([[3.0], [4.0]])  # ||w|| = 5 everywhere.
    penalty = adversarial.gradient_penalty(lambda x, training=None: tf.matmul(x, w),
                                           tf.random.normal([6, 2]), tf.random.normal([6, 2]))
    self.assertAllClose(penalty, np.full(6, 16.0))

  def test_interpolates_uniformly_between_real_and_fake(self):
    # D(x) = x^2 / 2 has gradient x, so with real = 0 and fake = 1 the penalty is
    # (|u| - 1)^2 and reveals u: it must lie in [0, 1] and cover it (U[0, 1], not N(0, 1)).
    n = 4000
    penalty = adversarial.gradient_penalty(lambda x, training=None: 0.5 * tf.square(x),
                                           tf.zeros([n, 1]), tf.ones([n, 1]), seed=1)
    u = 1.0 - np.sqrt(penalty.numpy())
    self.assertGreaterEqual(u.min(), -1e-5)
    self.assertLessEqual(u.max(), 1.0 + 1e-5)
    self.assertNear(u.mean(), 0.5, 0.03)
    self.assertNear(u.var(), 1.0 / 12.0, 0.01)


if __name__ == "__main__":
  tf.test.main()
