"""Discriminators D: latent factors -> logits (real memory sample vs generator output)."""

import gin
import tf_keras as keras

from aign_tf.models import layers


@gin.configurable(module="discriminators")
class MLP(keras.Model):
  """A fully connected discriminator `[B, ...] -> [B, 1]` logits (LeakyReLU hidden layers)."""

  def __init__(self, hidden_units=64, num_layers=2, spectral_norm=False, name="mlp_d",
               **kwargs):
    super().__init__(name=name, **kwargs)
    def dense(units):
      layer = keras.layers.Dense(units)
      return layers.SpectralNormalization(layer) if spectral_norm else layer
    self.hidden = [dense(hidden_units) for _ in range(num_layers)]
    self.out = dense(1)

  def call(self, inputs, training=False):
    x = keras.layers.Flatten()(inputs) if inputs.shape.rank > 2 else inputs
    for layer in self.hidden:
      x = keras.layers.LeakyReLU(0.2)(layer(x, training=training))
    return self.out(x, training=training)
