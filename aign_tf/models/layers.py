"""Layers shared by the networks."""

import tensorflow as tf
import tf_keras as keras


class SpectralNormalization(keras.layers.SpectralNormalization):
  """tf_keras' spectral normalisation (Miyato et al. 2018) with a `build` that works on TF 2.21.

  tf_keras 2.21's `SpectralNormalization.build` sets `input_spec` from `tf.keras`, which is
  Keras 3 there, and fails ("Layer input_spec must be an instance of InputSpec"). This
  subclass builds the same state with tf_keras' own `InputSpec`; the normalisation itself
  (one power iteration per `call(training=True)`) is inherited unchanged.
  """

  def build(self, input_shape):
    keras.layers.Wrapper.build(self, input_shape)
    input_shape = tf.TensorShape(input_shape)
    self.input_spec = keras.layers.InputSpec(shape=[None] + input_shape[1:])
    self.kernel = self.layer.kernel
    self.kernel_shape = self.kernel.shape.as_list()
    self.vector_u = self.add_weight(
        shape=(1, self.kernel_shape[-1]),
        initializer=keras.initializers.TruncatedNormal(stddev=0.02), trainable=False,
        name="vector_u", dtype=self.kernel.dtype)
