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


class BicubicUpsampleTest(testing.TestCase):

  @testing.parameterized.parameters(((2, 8, 5, 3), 2), ((1, 6, 6, 1), 4), ((3, 4, 7, 2), 3))
  def test_equals_tensorflow_bicubic_resize(self, shape, factor):
    images = tf.random.uniform(shape, seed=3)
    expected = tf.image.resize(images, [shape[1] * factor, shape[2] * factor], "bicubic")
    self.assertAllClose(layers.bicubic_upsample(images, factor), expected, atol=1e-6)
    # Also inside a traced function with an unknown batch size (as in an export).
    traced = tf.function(lambda x: layers.bicubic_upsample(x, factor),
                         input_signature=[tf.TensorSpec([None] + list(shape[1:]))])
    self.assertAllClose(traced(images), expected, atol=1e-6)

  def test_unknown_spatial_size_falls_back_to_resize(self):
    traced = tf.function(lambda x: layers.bicubic_upsample(x, 2),
                         input_signature=[tf.TensorSpec([1, None, None, 3])])
    images = tf.random.uniform([1, 5, 4, 3], seed=4)
    self.assertAllClose(traced(images), tf.image.resize(images, [10, 8], "bicubic"),
                        atol=1e-6)

  def test_is_not_bilinear(self):
    images = tf.random.uniform([1, 6, 6, 3], seed=5)
    bilinear = tf.image.resize(images, [24, 24], "bilinear")
    self.assertGreater(float(tf.reduce_max(tf.abs(layers.bicubic_upsample(images, 4) -
                                                  bilinear))), 0.01)


if __name__ == "__main__":
  tf.test.main()
