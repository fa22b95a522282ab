"""Generators G: observation -> latent factors. Task-specific networks live beside these."""

import gin
import tf_keras as keras


@gin.configurable(module="generators")
class MLP(keras.Model):
  """A fully connected network `[B, D_in] -> [B, output_dim]` (ReLU, linear output)."""

  def __init__(self, output_dim=gin.REQUIRED, hidden_units=64, num_layers=2, name="mlp",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.output_dim = int(output_dim)
    self.hidden = [keras.layers.Dense(hidden_units, activation="relu")
                   for _ in range(num_layers)]
    self.out = keras.layers.Dense(self.output_dim)

  def call(self, inputs, training=False):
    x = keras.layers.Flatten()(inputs) if inputs.shape.rank > 2 else inputs
    for layer in self.hidden:
      x = layer(x)
    return self.out(x)
