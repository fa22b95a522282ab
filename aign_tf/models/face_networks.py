"""Networks of the face tasks: an SRResNet-style upsampler, an inpainting encoder-decoder
and a convolutional face discriminator. Images are float `[B, H, W, 3]` in [0, 1].

SRResNet (Ledig et al. 2017) as used by the AIGN face experiments (Tung et al. 2017): a
wide first convolution, `num_blocks` residual blocks (conv-act-conv + skip) at the input
resolution, a long skip, then log2(k) x2 upsampling stages and an output convolution.
Upsampling is sub-pixel (a conv to 4C channels + depth_to_space, Shi et al. 2016) or
resize-convolution (nearest x2 + conv; the authors' face scripts use 5x5 convs with 256
channels). With `input_skip` the output is sigmoid(net + logit(up(x))), up = a bilinear or
bicubic upsampling, so the network only learns the residual over it, which trains much
faster on a CPU; the output is still a sigmoid image in (0, 1).
"""

import math

import gin
import tensorflow as tf
import tf_keras as keras

from aign_tf.models import layers

_EPS = 1e-3


def _activation(kind):
  if kind == "prelu":
    return keras.layers.PReLU(shared_axes=[1, 2])
  if kind == "relu":
    return keras.layers.ReLU()
  if kind == "leaky_relu":
    return keras.layers.LeakyReLU(0.2)
  raise ValueError(f"unknown activation {kind!r}; use 'prelu', 'relu' or 'leaky_relu'")


def _logit(images):
  images = tf.clip_by_value(images, _EPS, 1.0 - _EPS)
  return tf.math.log(images) - tf.math.log1p(-images)


class _ResidualBlock(keras.layers.Layer):
  """conv3x3 - act - conv3x3, plus the input (scaled by `residual_scale`)."""

  def __init__(self, filters, activation, residual_scale=1.0, **kwargs):
    super().__init__(**kwargs)
    self.conv1 = keras.layers.Conv2D(filters, 3, padding="same")
    self.act = _activation(activation)
    self.conv2 = keras.layers.Conv2D(filters, 3, padding="same")
    self.residual_scale = residual_scale

  def call(self, inputs):
    return inputs + self.residual_scale * self.conv2(self.act(self.conv1(inputs)))


@gin.configurable(module="generators")
class SRResNet(keras.Model):
  """Super-resolution generator `[B, H, W, 3] -> [B, kH, kW, 3]` (k = `scale`, a power of 2).

  Args:
    scale: upscale factor k (2, 4, 8, ...).
    filters: channels of the residual trunk.
    num_blocks: residual blocks.
    upsample: "subpixel" (conv to 4C + depth_to_space) or "resize_conv" (nearest + conv).
    upsample_filters: channels of the resize-convolutions (ignored for sub-pixel).
    upsample_kernel: kernel size of the upsampling convolutions.
    first_kernel / last_kernel: kernel sizes of the input and output convolutions.
    activation: "prelu", "relu" or "leaky_relu".
    output: "sigmoid" (images in (0, 1)) or "tanh" (mapped to (0, 1) as (tanh + 1) / 2).
    input_skip: add the network output to the logit of an upsampling of the input:
      "bilinear" (or True), "bicubic", or None/False for no skip.
  """

  def __init__(self, scale=4, filters=64, num_blocks=8, upsample="subpixel",
               upsample_filters=256, upsample_kernel=3, first_kernel=9, last_kernel=3,
               activation="prelu", output="sigmoid", input_skip=True, name="srresnet",
               **kwargs):
    # autocast=False: the input stays float32 under mixed precision for the skip; the
    # first convolution casts it to the compute dtype itself.
    kwargs.setdefault("autocast", False)
    super().__init__(name=name, **kwargs)
    stages = math.log2(scale) if scale >= 1 else -1
    if stages < 0 or stages != int(stages):
      raise ValueError(f"generators.SRResNet.scale must be a power of 2, got {scale}")
    if upsample not in ("subpixel", "resize_conv"):
      raise ValueError(f"generators.SRResNet.upsample must be 'subpixel' or 'resize_conv', "
                       f"got {upsample!r}")
    if output not in ("sigmoid", "tanh"):
      raise ValueError(f"generators.SRResNet.output must be 'sigmoid' or 'tanh', got "
                       f"{output!r}")
    self.scale = int(scale)
    self.upsample = upsample
    self.output_kind = output
    if input_skip is True:
      input_skip = "bilinear"
    if input_skip not in (None, False, "bilinear", "bicubic"):
      raise ValueError(f"generators.SRResNet.input_skip must be 'bilinear', 'bicubic', True "
                       f"or None, got {input_skip!r}")
    self.input_skip = input_skip or None
    self.head = keras.layers.Conv2D(filters, first_kernel, padding="same")
    self.head_act = _activation(activation)
    self.blocks = [_ResidualBlock(filters, activation, name=f"block_{i}")
                   for i in range(num_blocks)]
    self.trunk_out = keras.layers.Conv2D(filters, 3, padding="same")
    self.up_convs, self.up_acts = [], []
    for _ in range(int(stages)):
      channels = 4 * filters if upsample == "subpixel" else upsample_filters
      self.up_convs.append(keras.layers.Conv2D(channels, upsample_kernel, padding="same"))
      self.up_acts.append(_activation(activation))
    self.tail = keras.layers.Conv2D(3, last_kernel, padding="same",
                                    kernel_initializer=keras.initializers.RandomNormal(
                                        stddev=1e-3))

  def call(self, inputs, training=False):
    x = tf.convert_to_tensor(inputs)
    features = self.head_act(self.head(x))
    trunk = features
    for block in self.blocks:
      trunk = block(trunk)
    y = features + self.trunk_out(trunk)
    for conv, act in zip(self.up_convs, self.up_acts):
      if self.upsample == "subpixel":
        y = act(tf.nn.depth_to_space(conv(y), 2))
      else:
        size = tf.shape(y)[1:3] * 2
        y = act(conv(tf.image.resize(y, size, method="nearest")))
    # The skip and the output non-linearity run in float32 under mixed precision.
    y = tf.cast(self.tail(y), tf.float32)
    if self.input_skip:
      x = tf.cast(x, tf.float32)
      if self.input_skip == "bicubic":  # as matmuls: TFLite has no builtin bicubic resize
        base = _logit(layers.bicubic_upsample(x, self.scale))
      else:
        base = _logit(tf.image.resize(x, tf.shape(x)[1:3] * self.scale, method="bilinear"))
      y = y + (base if self.output_kind == "sigmoid" else base / 2.0)
    if self.output_kind == "sigmoid":
      return tf.sigmoid(y)
    return (tf.tanh(y) + 1.0) / 2.0


@gin.configurable(module="generators")
class InpaintingNet(keras.Model):
  """Encoder-decoder `[B, H, W, 4] (masked RGB, visibility) -> [B, H, W, 3]` in (0, 1).

  `num_downsamples` stride-2 convolutions (doubling the channels from `base_filters`),
  `num_dilated` dilated 3x3 convolutions at the bottleneck to widen the receptive field,
  then nearest-x2 + conv stages with U-Net skips from the encoder, and a sigmoid output.
  H and W must be divisible by 2^num_downsamples.
  """

  def __init__(self, base_filters=32, num_downsamples=3, num_dilated=2, max_filters=256,
               name="inpainting_net", **kwargs):
    super().__init__(name=name, **kwargs)
    self.head = keras.layers.Conv2D(base_filters, 5, padding="same", activation="elu")
    self.down, self.up = [], []
    filters = base_filters
    for _ in range(num_downsamples):
      filters = min(2 * filters, max_filters)
      self.down.append(keras.layers.Conv2D(filters, 4, strides=2, padding="same",
                                           activation="elu"))
    self.dilated = [keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=2 ** (i + 1),
                                        activation="elu") for i in range(num_dilated)]
    for i in range(num_downsamples):
      filters = min(base_filters * 2 ** (num_downsamples - 1 - i), max_filters)
      self.up.append(keras.layers.Conv2D(filters, 3, padding="same", activation="elu"))
    self.tail = keras.layers.Conv2D(3, 3, padding="same")

  def call(self, inputs, training=False):
    x = tf.convert_to_tensor(inputs)
    skips = [self.head(x)]
    y = skips[0]
    for conv in self.down:
      y = conv(y)
      skips.append(y)
    for conv in self.dilated:
      y = y + conv(y)
    for conv, skip in zip(self.up, reversed(skips[:-1])):
      y = tf.image.resize(y, tf.shape(skip)[1:3], method="nearest")
      y = conv(tf.concat([y, skip], axis=-1))
    return tf.sigmoid(self.tail(y))


@gin.configurable(module="discriminators")
class FaceDiscriminator(keras.Model):
  """Convolutional discriminator `[B, H, W, 3] -> [B, 1]` logits.

  `num_layers` stride-2 4x4 convolutions (channels doubling from `base_filters`, capped at
  `max_filters`), LeakyReLU(0.2), then a dense logit; optional spectral normalisation
  (tf-keras `SpectralNormalization`) on every layer. Inputs are mapped from [0, 1] to
  [-1, 1] first.

  With `detail_factor` = k, D sees only the detail component y - box_up(pool_k(y)), the part
  of a super-resolved face that the k x k pooling renderer cannot see (scaled by 4 to unit-ish
  range). The low-resolution content is fixed by the input, so a full-image D can tell the
  memory apart by it (e.g. another person's background) in a way no generator can act on
  without breaking consistency; a detail D judges only what the generator is free to choose.
  """

  def __init__(self, base_filters=32, num_layers=4, max_filters=256, spectral_norm=True,
               detail_factor=None, name="face_discriminator", **kwargs):
    super().__init__(name=name, **kwargs)
    self.detail_factor = int(detail_factor) if detail_factor else None

    def wrap(layer):
      return layers.SpectralNormalization(layer) if spectral_norm else layer

    self.convs = [wrap(keras.layers.Conv2D(min(base_filters * 2 ** i, max_filters), 4,
                                           strides=2, padding="same"))
                  for i in range(num_layers)]
    self.flatten = keras.layers.Flatten()
    self.out = wrap(keras.layers.Dense(1))

  def call(self, inputs, training=False):
    x = tf.convert_to_tensor(inputs)
    if self.detail_factor:
      k = self.detail_factor
      pooled = tf.nn.avg_pool2d(x, k, k, "VALID")
      x = 4.0 * (x - tf.repeat(tf.repeat(pooled, k, axis=1), k, axis=2))
    else:
      x = x * 2.0 - 1.0
    for conv in self.convs:
      x = tf.nn.leaky_relu(conv(x, training=training), 0.2)
    return self.out(self.flatten(x), training=training)
