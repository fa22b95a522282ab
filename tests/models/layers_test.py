"""Tests of the shared layers."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from aign_tf import testing
from aign_tf.models import discriminators
from aign_tf.models import layers


class SpectralNormalizationTest(testing.TestCase):

  @testing.parameterized.parameters(
      (lambda: keras.layers.Dense(8), [4, 5]),
      (lambda: keras.layers.Conv2D(8, 3), [2, 6, 6, 3]))
  def test_builds_and_bounds_the_spectral_norm(self, make_layer, shape):
    layer = layers.SpectralNormalization(make_layer(), power_iterations=20)
    layer(tf.random.normal(shape), training=True)
    kernel = np.reshape(layer.layer.kernel.numpy(), [-1, layer.kernel_shape[-1]])
    self.assertNear(np.linalg.svd(kernel, compute_uv=False)[0], 1.0, 0.05)

  def test_mlp_discriminator_with_spectral_norm(self):
    logits = discriminators.MLP(hidden_units=8, spectral_norm=True)(tf.ones([3, 4]),
                                                                    training=True)
    self.assertEqual(logits.shape, (3, 1))


if __name__ == "__main__":
  tf.test.main()
