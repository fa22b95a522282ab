"""Tests of the AIGN model on the toy problem (an ambiguous pair-averaging renderer)."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from aign_tf import testing
from aign_tf.core import keys
from aign_tf.models import aign as aign_lib
from aign_tf.models import discriminators
from aign_tf.models import generators
from aign_tf.renderers import base as renderers
from aign_tf.tasks import toy


class CountingRenderer(renderers.AveragePooling1D):
  """The toy renderer, counting its calls (eager mode)."""

  calls = 0

  def render(self, prediction, context):
    CountingRenderer.calls += 1
    return super().render(prediction, context)


make_model = testing.toy_model


def fit(model, task, steps, batch_size=64, eager=False):
  """Runs `steps` train steps; returns the per-step logs."""
  iterator = iter(task.train_dataset(batch_size, seed=0))
  step = model.train_step if eager else tf.function(model.train_step)
  return [{k: float(v) for k, v in step(next(iterator)).items()} for _ in range(steps)]


def predicted_offset(model, task):
  batch = next(iter(task.eval_dataset(256)))
  return float(np.mean(task.metrics(batch, model.generator(batch[keys.OBSERVATION]))[
      "predicted_offset"]))


class AIGNTrainingTest(testing.TestCase):

  def test_reconstruction_loss_falls(self):
    model = make_model(adversarial_weight=0.0)
    logs = fit(model, toy.ToyTask(), 300)
    first = np.mean([l["reconstruction_loss"] for l in logs[:10]])
    last = np.mean([l["reconstruction_loss"] for l in logs[-10:]])
    self.assertLess(last, 0.05 * first)

  @testing.parameterized.parameters(2.0, -2.0)
  def test_adversarial_term_follows_the_memory(self, memory_offset):
    # The renderer hides each pair's difference; only the memory says what it is. With
    # the adversarial term predictions take the memory's difference (whatever its sign);
    # without it they keep whatever the initialisation gave, far from the memory's.
    task = toy.ToyTask(offset=0.0, memory_offset=memory_offset)
    with_d = make_model(adversarial_weight=0.1)
    fit(with_d, task, 1200)
    keras.utils.set_random_seed(0)
    without_d = make_model(adversarial_weight=0.0)
    fit(without_d, task, 1200)
    self.assertNear(predicted_offset(with_d, task), memory_offset, 0.5)
    self.assertGreater(abs(predicted_offset(without_d, task) - memory_offset), 1.0)

  def test_paired_data_resolves_the_ambiguity(self):
    task = toy.ToyTask(offset=2.0, paired_fraction=1.0)
    model = make_model(reconstruction_weight=0.0, adversarial_weight=0.0,
                       supervised_weight=1.0)
    fit(model, task, 600)
    self.assertNear(predicted_offset(model, task), 2.0, 0.3)


class AIGNAblationTest(testing.TestCase):

  @testing.parameterized.named_parameters(
      ("paired_only", 0.0, 0.0, 1.0, False, False, {"supervised_loss"}),
      ("reconstruction_only", 1.0, 0.0, 0.0, False, True, {"reconstruction_loss"}),
      ("reconstruction_adversarial", 1.0, 0.1, 0.0, True, True,
       {"reconstruction_loss", "adversarial_loss", "discriminator_loss"}),
      ("all_three", 1.0, 0.1, 1.0, True, True,
       {"reconstruction_loss", "adversarial_loss", "discriminator_loss",
        "supervised_loss"}))
  def test_weights_switch_terms(self, w_rec, w_adv, w_sup, uses_d, renders, expected):
    CountingRenderer.calls = 0
    model = make_model(w_rec, w_adv, w_sup, renderer=CountingRenderer(2))
    logs = fit(model, toy.ToyTask(paired_fraction=0.5), 2, eager=True)
    self.assertEqual(model.uses_discriminator, uses_d)
    loss_names = {k for k in logs[-1] if k.endswith("_loss") and k != "generator_loss"}
    self.assertEqual(loss_names, expected)
    self.assertEqual(CountingRenderer.calls > 0, renders)
    self.assertEqual({m.name for m in model.metrics} >= expected, True)
    if uses_d:
      self.assertEqual(int(model.discriminator_optimizer.iterations), 2)

  def test_generator_loss_is_the_weighted_sum(self):
    model = make_model(1.0, 0.5, 2.0)
    log = fit(model, toy.ToyTask(paired_fraction=1.0), 1, eager=True)[0]
    self.assertAllClose(log["generator_loss"],
                        log["reconstruction_loss"] + 0.5 * log["adversarial_loss"] +
                        2.0 * log["supervised_loss"], rtol=1e-5)

  def test_unlabelled_targets_do_not_matter(self):
    model = make_model(0.0, 0.0, 1.0)
    batch = next(iter(toy.ToyTask(paired_fraction=0.5).train_dataset(32)))
    mask = batch[keys.TARGET_MASK]
    changed = dict(batch)
    changed[keys.TARGET] = tf.where(mask[:, None] > 0, batch[keys.TARGET], 1e6)
    losses = [model.test_step(b)["supervised_loss"] for b in (batch, changed)]
    self.assertAllClose(losses[0], losses[1])
    self.assertGreater(float(tf.reduce_sum(mask)), 0)

  def test_discriminator_steps(self):
    model = make_model(discriminator_steps=3)
    fit(model, toy.ToyTask(), 2)
    self.assertEqual(int(model.discriminator_optimizer.iterations), 6)
    self.assertEqual(int(model.generator_optimizer.iterations), 2)

  def test_one_generator_forward_per_step_when_sharing(self):
    model = make_model(discriminator_steps=1)
    calls = []
    original = model.generator.call
    model.generator.call = lambda *a, **k: calls.append(1) or original(*a, **k)
    fit(model, toy.ToyTask(), 1, eager=True)
    self.assertLen(calls, 1)

  def test_gradient_penalty_is_tracked(self):
    model = make_model(gradient_penalty_weight=10.0,
                       discriminator_adversarial_loss_fn=(
                           aign_lib.adversarial.wasserstein_discriminator_loss),
                       generator_adversarial_loss_fn=(
                           aign_lib.adversarial.wasserstein_generator_loss))
    log = fit(model, toy.ToyTask(), 2)[-1]
    self.assertIn("gradient_penalty", log)
    self.assert_finite(log["gradient_penalty"])

  def test_test_step_reports_the_train_losses(self):
    model = make_model(1.0, 0.1, 1.0)
    batch = next(iter(toy.ToyTask(paired_fraction=1.0).train_dataset(16)))
    train_keys = set(model.train_step(batch))
    self.assertEqual(set(model.test_step(batch)) - {"gradient_penalty"}, train_keys)


class AIGNConfigErrorTest(testing.TestCase):

  def test_adversarial_without_discriminator(self):
    with self.assertRaisesRegex(ValueError, "discriminator"):
      aign_lib.AIGN(generator=generators.MLP(output_dim=2),
                    renderer=renderers.IdentityRenderer(), discriminator=None)

  def test_all_weights_zero(self):
    with self.assertRaisesRegex(ValueError, "all 0"):
      aign_lib.AIGN(generator=generators.MLP(output_dim=2),
                    renderer=renderers.IdentityRenderer(), reconstruction_weight=0.0,
                    adversarial_weight=0.0)

  def test_negative_weight_names_argument(self):
    with self.assertRaisesRegex(ValueError, "supervised_weight"):
      aign_lib.AIGN(generator=generators.MLP(output_dim=2),
                    renderer=renderers.IdentityRenderer(), adversarial_weight=0.0,
                    supervised_weight=-1.0)

  def test_missing_memory_is_named(self):
    model = make_model()
    batch = next(iter(toy.ToyTask().train_dataset(8)))
    del batch[keys.MEMORY]
    with self.assertRaisesRegex(ValueError, "memory"):
      model.train_step(batch)

  def test_dict_output_needs_key(self):
    with self.assertRaisesRegex(ValueError, "depth"):
      aign_lib.select({"depth": tf.zeros([1]), "egomotion": tf.zeros([1])}, None)
    with self.assertRaisesRegex(ValueError, "no key 'pose'"):
      aign_lib.select({"depth": tf.zeros([1])}, "pose")


class WeightAverageTest(testing.TestCase):

  def averaged_model(self, decay, **kwargs):
    model = make_model(weight_average_decay=decay, **kwargs)
    batch = next(iter(toy.ToyTask().train_dataset(8, seed=0)))
    model.generator(batch[keys.OBSERVATION])
    model.build_average()
    return model

  def test_average_follows_the_update_rule(self):
    decay = 0.5
    model = self.averaged_model(decay)
    expected = model.generator.get_weights()
    # The averages are not trained: the model's trainable weights are the networks'.
    self.assertLen(model.trainable_weights, len(model.generator.trainable_weights)
                   + len(model.discriminator.trainable_weights))
    iterator = iter(toy.ToyTask().train_dataset(16, seed=0))
    step = tf.function(model.train_step)
    for t in range(1, 6):
      step(next(iterator))
      d = min(decay, (1 + t) / (10 + t))
      expected = [d * a + (1 - d) * w for a, w in zip(expected, model.generator.get_weights())]
      for a, e in zip(model.generator_average.weights, expected):
        self.assertAllClose(a.numpy(), e, rtol=1e-5, atol=1e-6)
    # After five updates the average is not the raw weights.
    self.assertGreater(max(float(np.abs(a.numpy() - w).max()) for a, w in zip(
        model.generator_average.weights, model.generator.get_weights())), 1e-4)

  def test_averaged_generator_swaps_weights_in_and_back(self):
    model = self.averaged_model(0.9)
    iterator = iter(toy.ToyTask().train_dataset(16, seed=0))
    for _ in range(5):
      model.train_step(next(iterator))
    raw = model.generator.get_weights()
    average = [a.numpy() for a in model.generator_average.weights]
    observation = next(iterator)[keys.OBSERVATION]
    with model.averaged_generator() as generator:
      for w, a in zip(generator.get_weights(), average):
        self.assertAllEqual(w, a)
      inside = model(observation).numpy()
    for w, r in zip(model.generator.get_weights(), raw):
      self.assertAllEqual(w, r)
    self.assertNotAllClose(inside, model(observation).numpy())
    model.load_average()
    self.assertAllClose(model(observation).numpy(), inside)

  def test_without_averaging_nothing_is_kept(self):
    model = self.averaged_model(0.0)
    self.assertIsNone(model.generator_average)
    raw = model.generator.get_weights()
    with model.averaged_generator():
      for w, r in zip(model.generator.get_weights(), raw):
        self.assertAllEqual(w, r)
    with self.assertRaisesRegex(ValueError, "no weight average"):
      model.load_average()

  def test_skipped_step_leaves_the_average(self):
    boom = tf.Variable(0.0)
    model = self.averaged_model(
        0.5, regularizers={"boom": lambda p, b: boom * tf.ones_like(p[:, 0])})
    model.skip_nonfinite = True
    iterator = iter(toy.ToyTask().train_dataset(16, seed=0))
    for _ in range(3):  # The average now lags the weights.
      model.train_step(next(iterator))
    before = [a.numpy() for a in model.generator_average.weights]
    boom.assign(np.inf)
    model.train_step(next(iterator))
    for a, b in zip(model.generator_average.weights, before):
      self.assertAllEqual(a.numpy(), b)
    boom.assign(0.0)
    model.train_step(next(iterator))
    self.assertNotAllClose(model.generator_average.weights[0].numpy(), before[0])

  @testing.parameterized.parameters(-0.1, 1.0, "0.9")
  def test_bad_decay_is_named(self, decay):
    with self.assertRaisesRegex(ValueError, "weight_average_decay"):
      make_model(weight_average_decay=decay)

  def test_average_needs_a_built_generator(self):
    with self.assertRaisesRegex(ValueError, "build the generator"):
      make_model(weight_average_decay=0.9).build_average()


if __name__ == "__main__":
  tf.test.main()
