"""Mixed-precision training (`train.mixed_precision`).

Under a mixed policy the networks compute in bfloat16 or float16 while their variables,
the renderers, the losses and the optimizer updates stay in float32: `AIGN` casts the
generator's outputs and the discriminator's logits to float32 before anything else sees
them. The policy is set only while the model is built (each Keras layer keeps the policy it
was created under), so evaluation, export and TFLite conversion, which rebuild the
generator from the operative config, run in float32 with the same weights.

  "mixed_bfloat16"  bfloat16 compute, no loss scaling needed (same exponent range as
                    float32). On this machine's CPU (AVX512_BF16, oneDNN) the faces_sr step
                    runs faster; see benchmarks/README.md for the measured ratios.
  "mixed_float16"   float16 compute with dynamic loss scaling (each optimizer is wrapped in
                    `LossScaleOptimizer`): for GPUs with tensor cores. On a CPU it is
                    emulated and slow; it is tested here for correctness only.
"""

import contextlib

import tensorflow as tf
import tf_keras as keras

from aign_tf import errors

POLICIES = (None, "mixed_bfloat16", "mixed_float16")


def check(mixed_precision):
  """Raises `errors.ConfigError` unless `mixed_precision` names a supported policy."""
  if mixed_precision not in POLICIES:
    raise errors.ConfigError(
        f"train.mixed_precision must be None, 'mixed_bfloat16' or 'mixed_float16', got "
        f"{mixed_precision!r}")


@contextlib.contextmanager
def policy_scope(mixed_precision):
  """Sets the Keras global dtype policy inside the block (None: leave it alone)."""
  check(mixed_precision)
  if mixed_precision is None:
    yield
    return
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(mixed_precision)
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def wrap_optimizer(optimizer, mixed_precision):
  """Adds dynamic loss scaling for float16; returns other optimizers unchanged."""
  check(mixed_precision)
  if optimizer is None or mixed_precision != "mixed_float16":
    return optimizer
  return keras.mixed_precision.LossScaleOptimizer(optimizer)


def scale_loss(optimizer, loss):
  """The loss to differentiate: scaled up when `optimizer` does loss scaling."""
  if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
    return optimizer.get_scaled_loss(loss)
  return loss


def unscale_gradients(optimizer, gradients):
  """Undoes `scale_loss` on the gradients (None entries stay None)."""
  if isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer):
    return optimizer.get_unscaled_gradients(gradients)
  return gradients


def to_float32(structure):
  """Casts every floating tensor in a (nested) structure to float32."""
  def cast(value):
    if isinstance(value, (tf.Tensor, tf.Variable)) and value.dtype.is_floating and (
        value.dtype != tf.float32):
      return tf.cast(value, tf.float32)
    return value
  return tf.nest.map_structure(cast, structure)
