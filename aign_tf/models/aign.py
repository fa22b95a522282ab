"""The Adversarial Inverse Graphics Network (Tung, Harley, Seto, Fragkiadaki, ICCV 2017).

A generator G maps an observation x to latent factors y = G(x). A fixed, parameter-free
renderer R maps y back to observation space. The generator minimises

  L_G = w_rec * L_rec(x', R(G(x))) + w_adv * L_adv^G(D(G(x))) + w_sup * L_sup(y*, G(x))
        + sum_r w_r * L_r(G(x)),

where x' is the reconstruction target (x itself unless the batch names another), y* paired
ground truth available for some examples only, and L_r optional regularisers. A
discriminator D, trained with L_adv^D on the *unpaired* memory (samples of real factors) versus
G(x), makes predictions match the memory's distribution where the renderer is ambiguous.

Batch layout (a dict; `aign_tf.core.keys` names the keys):
  observation            `[B, ...]` input of G (required).
  context                dict of extra tensors for the renderer (intrinsics, source frame, ...).
  reconstruction_target  what R(G(x)) must match; defaults to `observation`.
  reconstruction_weights per-element weights of the reconstruction loss (visibility mask,
                         joint confidence); broadcast against the error.
  target                 paired ground-truth factors `[B, ...]` (only where w_sup > 0).
  target_mask            `[B]` 1.0 where `target` is valid, 0.0 elsewhere.
  memory                 `[B, ...]` unpaired real factors for D (only where w_adv > 0).

All losses are per example `[B]`. They are reduced once, with `tf.nn.compute_average_loss`,
which divides by the global batch size, so gradients summed across replicas by a
`tf.distribute` strategy equal those of a single-device run. The supervised term is averaged
over the labelled examples of the global batch instead.
"""

import contextlib
import inspect

import gin
import tensorflow as tf
import tf_keras as keras

from aign_tf.core import keys
from aign_tf.models import precision
from aign_tf.objectives import adversarial
from aign_tf.objectives import reconstruction
from aign_tf.renderers import base as renderers_base


def select(prediction, key):
  """Returns `prediction[key]` for dict predictions, the prediction itself otherwise."""
  if key is None:
    if isinstance(prediction, dict):
      raise ValueError("the generator returns a dict with keys "
                       f"{sorted(prediction)}: bind which one to use (AIGN."
                       "discriminator_input_key / AIGN.supervised_key)")
    return prediction
  if not isinstance(prediction, dict) or key not in prediction:
    available = sorted(prediction) if isinstance(prediction, dict) else "a single tensor"
    raise ValueError(f"generator output has no key {key!r} (it has {available})")
  return prediction[key]


@gin.configurable(module="models")
class AIGN(keras.Model):
  """Generator + renderer + discriminator, trained with one optimizer per network.

  Ablations are switched by weights alone: `reconstruction_weight=0, adversarial_weight=0,
  supervised_weight>0` is paired-only; `adversarial_weight=0` is reconstruction-only (no D is
  trained or run); `supervised_weight=0` is unpaired AIGN; all three > 0 is AIGN with pairs.
  """

  def __init__(self,
               generator=gin.REQUIRED,
               renderer=gin.REQUIRED,
               discriminator=None,
               reconstruction_loss_fn=reconstruction.l2_loss,
               generator_adversarial_loss_fn=adversarial.non_saturating_generator_loss,
               discriminator_adversarial_loss_fn=(
                   adversarial.non_saturating_discriminator_loss),
               supervised_loss_fn=reconstruction.l2_loss,
               reconstruction_weight=1.0,
               adversarial_weight=1.0,
               supervised_weight=0.0,
               gradient_penalty_weight=0.0,
               discriminator_steps=1,
               discriminator_input_key=None,
               supervised_key=None,
               regularizers=None,
               regularizer_weights=None,
               weight_average_decay=0.0,
               name="aign",
               **kwargs):
    """Builds the model.

    Args:
      generator: `keras.Model` x -> y (a tensor or a dict of tensors).
      renderer: a weightless `aign_tf.renderers.Renderer`, called as `renderer(y, context)`.
      discriminator: `keras.Model` on memory-shaped tensors -> logits; may be None only if
        `adversarial_weight` is 0.
      reconstruction_loss_fn: `fn(target, rendered, weights) -> [B]`.
      generator_adversarial_loss_fn: `fn(fake_logits) -> [B]`.
      discriminator_adversarial_loss_fn: `fn(real_logits, fake_logits) -> [B]`.
      supervised_loss_fn: `fn(target, prediction) -> [B]` for the paired term.
      reconstruction_weight: w_rec.
      adversarial_weight: w_adv, the generator's adversarial term (0 disables D entirely).
      supervised_weight: w_sup, the paired term on examples with `target_mask` = 1.
      gradient_penalty_weight: weight of the discriminator's gradient penalty.
      discriminator_steps: discriminator updates per generator update (>= 1).
      discriminator_input_key: which generator output D judges, for dict outputs.
      supervised_key: which generator output the paired target supervises, for dict outputs.
      regularizers: dict name -> `fn(prediction, batch) -> [B]`.
      regularizer_weights: dict name -> weight (missing names weigh 1).
      weight_average_decay: 0 (off) or the decay d in [0, 1) of an exponential moving
        average of the generator's weights, a <- d' a + (1 - d') w after every generator
        update with d' = min(d, (1 + t) / (10 + t)) at update t (short runs are not
        dominated by the initial weights). Evaluation, export and TFLite use the average;
        training uses and continues the raw weights. See `build_average`.
      name: model name.
      **kwargs: passed to `keras.Model`.
    """
    super().__init__(name=name, **kwargs)
    for arg, value in (("reconstruction_weight", reconstruction_weight),
                       ("adversarial_weight", adversarial_weight),
                       ("supervised_weight", supervised_weight),
                       ("gradient_penalty_weight", gradient_penalty_weight)):
      if not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"AIGN.{arg} must be a number >= 0, got {value!r}")
    if not isinstance(weight_average_decay, (int, float)) or not (
        0 <= weight_average_decay < 1):
      raise ValueError("AIGN.weight_average_decay must be a number in [0, 1) (0: no "
                       f"averaging), got {weight_average_decay!r}")
    if int(discriminator_steps) < 1:
      raise ValueError(f"AIGN.discriminator_steps must be >= 1, got {discriminator_steps}")
    if adversarial_weight > 0 and discriminator is None:
      raise ValueError("AIGN.adversarial_weight > 0 needs AIGN.discriminator to be bound")
    if reconstruction_weight == adversarial_weight == supervised_weight == 0:
      raise ValueError("AIGN: reconstruction_weight, adversarial_weight and "
                       "supervised_weight are all 0; the generator would learn nothing")
    if renderer is not None and getattr(renderer, "trainable_weights", None):
      raise ValueError(f"AIGN.renderer {renderer.name!r} has trainable weights; renderers "
                       "must be parameter-free")
    self.generator = generator
    self.renderer = renderer
    self.discriminator = discriminator if adversarial_weight > 0 else None
    self.reconstruction_loss_fn = reconstruction_loss_fn
    self.generator_adversarial_loss_fn = generator_adversarial_loss_fn
    self.discriminator_adversarial_loss_fn = discriminator_adversarial_loss_fn
    self.supervised_loss_fn = supervised_loss_fn
    self._loss_takes_baseline = _accepts(reconstruction_loss_fn, "baseline")
    self.reconstruction_weight = float(reconstruction_weight)
    self.adversarial_weight = float(adversarial_weight)
    self.supervised_weight = float(supervised_weight)
    self.gradient_penalty_weight = float(gradient_penalty_weight)
    self.discriminator_steps = int(discriminator_steps)
    self.discriminator_input_key = discriminator_input_key
    self.supervised_key = supervised_key
    self.regularizers = dict(regularizers or {})
    self.regularizer_weights = dict(regularizer_weights or {})
    unknown = set(self.regularizer_weights) - set(self.regularizers)
    if unknown:
      raise ValueError(f"AIGN.regularizer_weights names {sorted(unknown)} which are not in "
                       f"AIGN.regularizers ({sorted(self.regularizers)})")

    tracked = ["generator_loss"]
    if self.reconstruction_weight > 0:
      tracked.append("reconstruction_loss")
    if self.uses_discriminator:
      tracked += ["adversarial_loss", "discriminator_loss", "real_logit", "fake_logit"]
      if self.gradient_penalty_weight > 0:
        tracked.append("gradient_penalty")
    if self.supervised_weight > 0:
      tracked.append("supervised_loss")
    tracked += [f"{name}_regularizer" for name in self.regularizers]
    self._trackers = {name: keras.metrics.Mean(name=name) for name in tracked}
    self.weight_average_decay = float(weight_average_decay)
    # A `tf.Module` whose `weights` average the generator's; made by `build_average`.
    self.generator_average = None
    # Set by `compile(skip_nonfinite=...)` (`train.on_nonfinite="skip"`).
    self.skip_nonfinite = False

  @property
  def uses_discriminator(self):
    return self.discriminator is not None

  @property
  def metrics(self):
    return list(self._trackers.values())

  def compile(self, generator_optimizer, discriminator_optimizer=None, skip_nonfinite=False,
              **kwargs):
    """Sets one optimizer per network (the discriminator's may be None without D).

    With `skip_nonfinite`, a step whose losses or gradients hold NaN/Inf applies no update
    (single replica only) instead of corrupting the weights.
    """
    super().compile(**kwargs)
    if self.uses_discriminator and discriminator_optimizer is None:
      raise ValueError("AIGN.compile: the model has a discriminator but no "
                       "discriminator_optimizer was given")
    self.generator_optimizer = generator_optimizer
    self.discriminator_optimizer = discriminator_optimizer
    self.skip_nonfinite = bool(skip_nonfinite)

  def call(self, observation, training=False):
    return self._generate(observation, training=training)

  # Networks, with float32 outputs whatever their compute dtype (`train.mixed_precision`).

  def _generate(self, observation, training):
    return precision.to_float32(self.generator(observation, training=training))

  def _discriminate(self, inputs, training):
    return precision.to_float32(self.discriminator(inputs, training=training))

  # Weight averaging (`weight_average_decay`) ------------------------------------------------

  def build_average(self):
    """Creates the averaged copy of the generator's weights, starting at their current
    values; call it once the generator is built (inside the strategy scope, if any). A
    no-op without averaging or when the copy exists."""
    if self.weight_average_decay == 0 or self.generator_average is not None:
      return
    if not self.generator.weights:
      raise ValueError("AIGN.build_average: build the generator first (call it once)")
    average = tf.Module(name="generator_average")
    # Every replica holds the same generator weights after an update, so the first
    # replica's new average is every replica's.
    average.weights = [
        tf.Variable(w, trainable=False, name=w.name.split(":")[0].replace("/", "_"),
                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        for w in self.generator.weights]
    self.generator_average = average

  def _update_average(self):
    if self.generator_average is None:
      return
    # The optimizer's counter is the number of generator updates, this one included.
    t = tf.cast(self.generator_optimizer.iterations, tf.float32)
    decay = tf.minimum(self.weight_average_decay, (1.0 + t) / (10.0 + t))
    for average, weight in zip(self.generator_average.weights, self.generator.weights):
      if average.dtype.is_floating:
        average.assign(decay * average + (1.0 - decay) * tf.cast(weight, average.dtype))
      else:
        average.assign(weight)

  def _average_weights(self):
    if self.generator_average is None:
      raise ValueError("AIGN: no weight average (weight_average_decay is 0 or "
                       "build_average() was not called)")
    return self.generator_average.weights

  def reset_average(self):
    """Restarts the average at the generator's current weights."""
    _assign(self._average_weights(), self.generator.weights)

  def load_average(self):
    """Replaces the generator's weights by their average (for inference after restore)."""
    _assign(self.generator.weights, self._average_weights())

  @contextlib.contextmanager
  def averaged_generator(self):
    """Within the block the generator holds the averaged weights; its own come back after
    (a no-op without averaging). Used for evaluations during training."""
    if self.generator_average is None:
      yield self.generator
      return
    saved = [tf.identity(w) for w in self.generator.weights]
    self.load_average()
    try:
      yield self.generator
    finally:
      _assign(self.generator.weights, saved)

  # Per-example losses -------------------------------------------------------------------

  def generator_losses(self, batch, prediction, fake_logits=None):
    """Per-example generator loss terms (unweighted), a dict of `[B]` tensors."""
    losses = {}
    if self.reconstruction_weight > 0:
      rendered = self.renderer(prediction, batch.get(keys.CONTEXT))
      weights = batch.get(keys.RECONSTRUCTION_WEIGHTS)
      extra = {}
      if isinstance(rendered, renderers_base.RenderOutput):
        # A renderer may also say where its output is valid (e.g. in-bounds warps), and
        # give a baseline rendering the loss may compare against.
        if rendered.weights is not None:
          weights = rendered.weights if weights is None else weights * rendered.weights
        if rendered.baseline is not None and self._loss_takes_baseline:
          extra["baseline"] = rendered.baseline
        rendered = rendered.rendered
      target = batch.get(keys.RECONSTRUCTION_TARGET, batch[keys.OBSERVATION])
      losses["reconstruction_loss"] = self.reconstruction_loss_fn(target, rendered, weights,
                                                                  **extra)
    if fake_logits is not None:
      losses["adversarial_loss"] = self.generator_adversarial_loss_fn(fake_logits)
    if self.supervised_weight > 0:
      if keys.TARGET not in batch:
        raise ValueError("AIGN.supervised_weight > 0 but the batch has no "
                         f"'{keys.TARGET}' (paired ground truth)")
      losses["supervised_loss"] = self.supervised_loss_fn(
          batch[keys.TARGET], select(prediction, self.supervised_key))
    for name, fn in self.regularizers.items():
      losses[f"{name}_regularizer"] = fn(prediction, batch)
    return losses

  def _weights(self):
    weights = {"reconstruction_loss": self.reconstruction_weight,
               "adversarial_loss": self.adversarial_weight,
               "supervised_loss": self.supervised_weight}
    for name in self.regularizers:
      weights[f"{name}_regularizer"] = float(self.regularizer_weights.get(name, 1.0))
    return weights

  def _reduce_generator_losses(self, batch, losses):
    """Weighted sum of the reduced terms; returns (total, dict of per-replica means).

    `means` also holds "generator_loss", the weighted sum of this replica's means.
    """
    weights = self._weights()
    total = 0.0
    means = {"generator_loss": 0.0}
    for name, per_example in losses.items():
      if name == "supervised_loss":
        mask = tf.cast(batch.get(keys.TARGET_MASK, tf.ones_like(per_example)),
                       per_example.dtype)
        replica = tf.distribute.get_replica_context()
        labelled = tf.reduce_sum(mask)
        global_labelled = (replica.all_reduce(tf.distribute.ReduceOp.SUM, labelled)
                           if replica is not None else labelled)
        reduced = tf.reduce_sum(mask * per_example) / tf.maximum(global_labelled, 1.0)
        means[name] = tf.math.divide_no_nan(tf.reduce_sum(mask * per_example), labelled)
      else:
        reduced = tf.nn.compute_average_loss(per_example)
        means[name] = tf.reduce_mean(per_example)
      total += weights[name] * reduced
      means["generator_loss"] += weights[name] * means[name]
    return total, means

  def discriminator_losses(self, real_logits, fake_logits, memory=None, fake=None):
    """Per-example discriminator loss (and gradient penalty when enabled)."""
    losses = {"discriminator_loss": self.discriminator_adversarial_loss_fn(
        real_logits, fake_logits)}
    if self.gradient_penalty_weight > 0:
      losses["gradient_penalty"] = adversarial.gradient_penalty(
          self._discriminate, memory, fake)
    return losses

  def _discriminator_total(self, losses):
    total = tf.nn.compute_average_loss(losses["discriminator_loss"])
    if "gradient_penalty" in losses:
      total += self.gradient_penalty_weight * tf.nn.compute_average_loss(
          losses["gradient_penalty"])
    return total

  def _memory(self, batch):
    if keys.MEMORY not in batch:
      raise ValueError("AIGN.adversarial_weight > 0 but the batch has no "
                       f"'{keys.MEMORY}' (the unpaired memory stream)")
    return batch[keys.MEMORY]

  def _discriminator_only_step(self, memory, fake):
    """One extra discriminator update against fixed generator outputs."""
    optimizer = self.discriminator_optimizer
    with tf.GradientTape() as tape:
      real_logits = self._discriminate(memory, training=True)
      fake_logits = self._discriminate(fake, training=True)
      total = self._discriminator_total(
          self.discriminator_losses(real_logits, fake_logits, memory, fake))
      scaled = precision.scale_loss(optimizer, total)
    grads = precision.unscale_gradients(
        optimizer, tape.gradient(scaled, self.discriminator.trainable_variables))
    optimizer.apply_gradients(
        zip(grads, self.discriminator.trainable_variables))

  # Keras steps --------------------------------------------------------------------------

  def train_step(self, batch):
    """One generator update and `discriminator_steps` discriminator updates.

    With `discriminator_steps == 1` the generator output and D(G(x)) are computed once and
    shared by both networks' losses: each tape differentiates only with respect to its own
    network's variables.
    """
    observation = batch[keys.OBSERVATION]
    memory = self._memory(batch) if self.uses_discriminator else None

    # Extra discriminator updates against the current generator.
    if self.uses_discriminator and self.discriminator_steps > 1:
      fake = tf.stop_gradient(select(self._generate(observation, training=True),
                                     self.discriminator_input_key))
      for _ in range(self.discriminator_steps - 1):
        self._discriminator_only_step(memory, fake)

    # Shared forward pass, one tape per network.
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
      prediction = self._generate(observation, training=True)
      fake_logits = d_losses = None
      if self.uses_discriminator:
        fake = select(prediction, self.discriminator_input_key)
        fake_logits = self._discriminate(fake, training=True)
        real_logits = self._discriminate(memory, training=True)
        d_losses = self.discriminator_losses(real_logits, fake_logits, memory, fake)
        d_total = self._discriminator_total(d_losses)
        d_scaled = precision.scale_loss(self.discriminator_optimizer, d_total)
      g_losses = self.generator_losses(batch, prediction, fake_logits)
      g_total, means = self._reduce_generator_losses(batch, g_losses)
      g_scaled = precision.scale_loss(self.generator_optimizer, g_total)

    g_vars = self.generator.trainable_variables
    updates = [(self.generator_optimizer, precision.unscale_gradients(
        self.generator_optimizer, g_tape.gradient(g_scaled, g_vars)), g_vars)]
    if self.uses_discriminator:
      d_vars = self.discriminator.trainable_variables
      updates.append((self.discriminator_optimizer, precision.unscale_gradients(
          self.discriminator_optimizer, d_tape.gradient(d_scaled, d_vars)), d_vars))
    finite = None
    if self.skip_nonfinite:
      # Apply no update at all when any loss or gradient is NaN/Inf (single replica only:
      # the trainer refuses this option under multi-replica strategies).
      values = [g_total] + ([d_total] if self.uses_discriminator else [])
      values += [g for _, grads, _ in updates for g in grads if g is not None]
      finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in values])

      def apply():
        for optimizer, grads, variables in updates:
          optimizer.apply_gradients(zip(grads, variables))
        self._update_average()
        return tf.constant(True)

      tf.cond(finite, apply, lambda: tf.constant(False))
    else:
      for optimizer, grads, variables in updates:
        optimizer.apply_gradients(zip(grads, variables))
      self._update_average()
    return self._update_trackers(means, d_losses, fake_logits,
                                 real_logits if self.uses_discriminator else None, finite)

  def _update_trackers(self, means, d_losses, fake_logits, real_logits, finite=None):
    """Updates the Mean trackers; returns this step's per-replica scalar values.

    With `finite` given (skip mode), a non-finite step leaves the trackers unchanged and
    the returned dict carries `skipped` = 1.
    """
    step = dict(means)
    if d_losses is not None:
      for name, per_example in d_losses.items():
        step[name] = tf.reduce_mean(per_example)
      step["real_logit"] = tf.reduce_mean(real_logits)
      step["fake_logit"] = tf.reduce_mean(fake_logits)
    for name, value in step.items():
      if finite is None:
        self._trackers[name].update_state(value)
      else:
        self._trackers[name].update_state(tf.where(finite, value, 0.0),
                                          sample_weight=tf.cast(finite, tf.float32))
    if finite is not None:
      step["skipped"] = 1.0 - tf.cast(finite, tf.float32)
    return step

  def test_step(self, batch):
    """Reports the same losses as `train_step`, without updating any variable."""
    prediction = self._generate(batch[keys.OBSERVATION], training=False)
    d_losses = fake_logits = real_logits = None
    if self.uses_discriminator and keys.MEMORY in batch:
      memory = batch[keys.MEMORY]
      fake = select(prediction, self.discriminator_input_key)
      fake_logits = self._discriminate(fake, training=False)
      real_logits = self._discriminate(memory, training=False)
      d_losses = {"discriminator_loss": self.discriminator_adversarial_loss_fn(
          real_logits, fake_logits)}
    g_losses = self.generator_losses(batch, prediction, fake_logits)
    g_total, means = self._reduce_generator_losses(batch, g_losses)
    return self._update_trackers(means, d_losses, fake_logits, real_logits)

  def evaluation_outputs(self, batch):
    """Predictions and per-example generator losses for evaluation, without D."""
    prediction = self._generate(batch[keys.OBSERVATION], training=False)
    return prediction, self.generator_losses(batch, prediction)


def _assign(variables, values):
  for variable, value in zip(variables, values):
    variable.assign(value)


def _accepts(fn, argument):
  """Whether `fn` (a gin configurable too) takes a keyword `argument`."""
  try:
    parameters = inspect.signature(fn).parameters
  except (TypeError, ValueError):
    return False
  return argument in parameters or any(
      p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values())
