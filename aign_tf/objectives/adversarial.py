"""Adversarial loss pairs and the gradient penalty.

Each objective comes as a named pair `xxx_generator_loss(fake_logits)` /
`xxx_discriminator_loss(real_logits, fake_logits)`. Logits may carry extra axes (e.g. a
patch discriminator's `[B, H, W, 1]`); they are averaged so every loss is per example, `[B]`.
Reduction over the batch happens once, in `AIGN.train_step`.

With D the discriminator logit and s the sigmoid:
  non-saturating (Goodfellow et al. 2014): L_D = -log s(D(real)) - log(1 - s(D(fake))),
                                           L_G = -log s(D(fake)).
  least squares (Mao et al. 2017):         L_D = ((D(real) - 1)^2 + D(fake)^2) / 2,
                                           L_G = (D(fake) - 1)^2 / 2.
  hinge (Lim & Ye 2017):                   L_D = relu(1 - D(real)) + relu(1 + D(fake)),
                                           L_G = -D(fake).
  Wasserstein (Arjovsky et al. 2017):      L_D = D(fake) - D(real), L_G = -D(fake); use with
                                           `gradient_penalty` (Gulrajani et al. 2017).
"""

import gin
import tensorflow as tf


def per_example(logits):
  """Averages all axes but the first: `[B, ...]` -> `[B]`."""
  logits = tf.convert_to_tensor(logits)
  if logits.shape.rank is not None and logits.shape.rank <= 1:
    return logits
  return tf.reduce_mean(logits, axis=tf.range(1, tf.rank(logits)))


@gin.configurable(module="objectives")
def non_saturating_generator_loss(fake_logits):
  return per_example(tf.nn.softplus(-fake_logits))


@gin.configurable(module="objectives")
def non_saturating_discriminator_loss(real_logits, fake_logits):
  return (per_example(tf.nn.softplus(-real_logits)) +
          per_example(tf.nn.softplus(fake_logits)))


@gin.configurable(module="objectives")
def least_squares_generator_loss(fake_logits):
  return per_example(0.5 * tf.square(fake_logits - 1.0))


@gin.configurable(module="objectives")
def least_squares_discriminator_loss(real_logits, fake_logits):
  return (per_example(0.5 * tf.square(real_logits - 1.0)) +
          per_example(0.5 * tf.square(fake_logits)))


@gin.configurable(module="objectives")
def hinge_generator_loss(fake_logits):
  return per_example(-fake_logits)


@gin.configurable(module="objectives")
def hinge_discriminator_loss(real_logits, fake_logits):
  return (per_example(tf.nn.relu(1.0 - real_logits)) +
          per_example(tf.nn.relu(1.0 + fake_logits)))


@gin.configurable(module="objectives")
def wasserstein_generator_loss(fake_logits):
  return per_example(-fake_logits)


@gin.configurable(module="objectives")
def wasserstein_discriminator_loss(real_logits, fake_logits):
  return per_example(fake_logits) - per_example(real_logits)


def gradient_penalty(discriminator, real, fake, target_norm=1.0, seed=None):
  """Per-example gradient penalty on random interpolates (Gulrajani et al. 2017).

  x_hat = real + u * (fake - real) with u ~ U[0, 1] drawn per example;
  penalty = (||dD(x_hat)/dx_hat||_2 - target_norm)^2.

  Args:
    discriminator: callable taking `[B, ...]` and returning logits `[B, ...]`.
    real: memory samples `[B, ...]`.
    fake: generated samples of the same shape (gradients are not taken through them).
    target_norm: the gradient norm the penalty pulls towards.
    seed: optional op seed for the interpolation weights.

  Returns:
    `[B]` penalties.
  """
  real = tf.convert_to_tensor(real)
  fake = tf.stop_gradient(tf.convert_to_tensor(fake))
  batch = tf.shape(real)[0]
  u_shape = tf.concat([[batch], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0)
  u = tf.random.uniform(u_shape, 0.0, 1.0, dtype=real.dtype, seed=seed)
  interpolates = real + u * (fake - real)
  with tf.GradientTape() as tape:
    tape.watch(interpolates)
    total = tf.reduce_sum(discriminator(interpolates, training=True))
  grads = tape.gradient(total, interpolates)
  grads = tf.reshape(grads, [batch, -1])
  norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)
  return tf.square(norm - target_norm)
