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


def _bicubic_matrix(size, factor):
  """`[factor * size, size]` weights of `tf.image.resize(..., "bicubic")` along one axis
  (Keys cubic, half-pixel centres, out-of-image taps dropped and the rest renormalised),
  obtained by resizing the identity, so they equal TensorFlow's by construction."""
  with tf.init_scope():
    identity = tf.eye(size, dtype=tf.float32)[tf.newaxis, :, tf.newaxis, :]  # [1, n, 1, n]
    return tf.image.resize(identity, [size * factor, 1], method="bicubic")[0, :, 0, :]


def bicubic_upsample(images, factor):
  """`tf.image.resize(images, factor * size, "bicubic")` as two constant matrix products.

  TFLite has no builtin bicubic resize (it would need the Select TF ops, which LiteRT.js
  and the mobile demo do not have); matmul, reshape and transpose are builtins everywhere.
  Needs static height and width; falls back to `tf.image.resize` without them.

  Args:
    images: `[B, H, W, C]` float.
    factor: integer upscale factor.

  Returns:
    `[B, factor * H, factor * W, C]`, equal to the resize up to float rounding.
  """
  images = tf.convert_to_tensor(images)
  height, width, channels = images.shape[1:]
  factor = int(factor)
  if height is None or width is None or channels is None:
    size = tf.shape(images)[1:3] * factor
    return tf.cast(tf.image.resize(images, size, method="bicubic"), images.dtype)
  rows = tf.cast(_bicubic_matrix(height, factor), images.dtype)  # [kH, H]
  cols = tf.cast(_bicubic_matrix(width, factor), images.dtype)  # [kW, W]
  # Along the width: [B, C, H, W] -> [B*C*H, W] @ [W, kW].
  x = tf.reshape(tf.transpose(images, [0, 3, 1, 2]), [-1, width])
  x = tf.matmul(x, cols, transpose_b=True)
  # Along the height: [B, C, kW, H] -> [B*C*kW, H] @ [H, kH].
  x = tf.transpose(tf.reshape(x, [-1, channels, height, factor * width]), [0, 1, 3, 2])
  x = tf.matmul(tf.reshape(x, [-1, height]), rows, transpose_b=True)
  x = tf.reshape(x, [-1, channels, factor * width, factor * height])
  return tf.transpose(x, [0, 3, 2, 1])
