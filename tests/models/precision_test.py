"""Tests of `train.mixed_precision`: policies, loss scaling, float32 renderers and outputs."""

import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from aign_tf import config
from aign_tf import errors
from aign_tf import runs
from aign_tf import testing
from aign_tf.models import precision
from aign_tf.renderers import downsample
from aign_tf.tasks import toy
from aign_tf.train import evaluation
from aign_tf.train import trainer


def toy_batch(batch_size=16):
  task = toy.ToyTask(num_train=64, num_memory=64, num_eval=16)
  return next(iter(task.train_dataset(batch_size, seed=0)))


def sgd_step_delta(mixed_precision, batch, initial_weights=None):
  """Weights before and the change after one plain-SGD AIGN step under a policy."""
  keras.utils.set_random_seed(0)
  with precision.policy_scope(mixed_precision):
    model = testing.toy_model()
    trainer.build_variables(model, batch)
  variables = model.generator.trainable_variables + model.discriminator.trainable_variables
  if initial_weights is not None:
    for variable, value in zip(variables, initial_weights):
      variable.assign(value)
  before = [v.numpy() for v in variables]
  # SGD is not invariant to the gradient's scale (Adam is), so a loss scale that is not
  # undone would show up as a 1000x larger update.
  model.compile(
      generator_optimizer=precision.wrap_optimizer(keras.optimizers.SGD(0.1),
                                                   mixed_precision),
      discriminator_optimizer=precision.wrap_optimizer(keras.optimizers.SGD(0.1),
                                                       mixed_precision))
  model.train_step(batch)
  delta = np.concatenate([(v.numpy() - b).ravel() for v, b in zip(variables, before)])
  return before, delta, model


class PolicyTest(testing.TestCase):

  def test_unknown_policy_is_a_config_error(self):
    with self.assertRaisesRegex(errors.ConfigError, "train.mixed_precision"):
      precision.check("float16")

  def test_scope_sets_and_restores_the_global_policy(self):
    with precision.policy_scope("mixed_bfloat16"):
      self.assertEqual(keras.mixed_precision.global_policy().name, "mixed_bfloat16")
      layer = keras.layers.Dense(2)
    self.assertEqual(keras.mixed_precision.global_policy().name, "float32")
    self.assertEqual(layer.compute_dtype, "bfloat16")
    self.assertEqual(layer.variable_dtype, "float32")

  def test_float16_gets_loss_scaling_others_do_not(self):
    adam = keras.optimizers.Adam()
    self.assertIsInstance(precision.wrap_optimizer(adam, "mixed_float16"),
                          keras.mixed_precision.LossScaleOptimizer)
    self.assertIs(precision.wrap_optimizer(adam, "mixed_bfloat16"), adam)
    self.assertIs(precision.wrap_optimizer(adam, None), adam)

  def test_renderers_compute_in_float32_under_a_mixed_policy(self):
    with precision.policy_scope("mixed_bfloat16"):
      renderer = downsample.Downsample(factor=2)
    images = tf.random.uniform([1, 4, 4, 3], seed=1)
    out = renderer(tf.cast(images, tf.bfloat16))
    self.assertEqual(out.dtype, tf.float32)
    # float32 arithmetic on the (bfloat16-rounded) input, not bfloat16 arithmetic.
    expected = tf.nn.avg_pool2d(tf.cast(tf.cast(images, tf.bfloat16), tf.float32), 2, 2,
                                "VALID")
    self.assertAllClose(out, expected, atol=1e-7)


class MixedStepTest(testing.TestCase):

  @testing.parameterized.parameters("mixed_bfloat16", "mixed_float16")
  def test_one_step_matches_float32(self, policy):
    batch = toy_batch()
    weights, reference, _ = sgd_step_delta(None, batch)
    _, delta, model = sgd_step_delta(policy, batch, initial_weights=weights)
    self.assertEqual(model.generator.layers[0].compute_dtype, policy.split("_")[1])
    # Same direction and size as the float32 update (bfloat16 keeps 8 significant bits,
    # float16 11). An un-undone loss scale would make the float16 update ~32768x larger.
    cosine = float(delta @ reference / np.linalg.norm(delta) / np.linalg.norm(reference))
    self.assertGreater(cosine, 0.999)
    self.assertAllClose(np.linalg.norm(delta) / np.linalg.norm(reference), 1.0, atol=0.02)
    if policy == "mixed_float16":
      loss_scale = float(model.generator_optimizer.loss_scale)
      self.assertGreater(loss_scale, 1.0)  # the loss was scaled, and the update is not


class MixedTrainingTest(testing.TestCase):

  def train(self, model_dir, policy, steps=2, **kwargs):
    models = []

    def model_fn():
      models.append(testing.toy_model())
      return models[-1]
    result = trainer.train(
        model_dir, task=toy.ToyTask(num_train=64, num_memory=64, num_eval=16),
        model=model_fn, generator_optimizer=keras.optimizers.Adam,
        discriminator_optimizer=keras.optimizers.Adam, batch_size=8, train_steps=steps,
        log_every=1, checkpoint_every=1, eval_every=0, mixed_precision=policy, **kwargs)
    return result, models[-1]

  @testing.parameterized.parameters("mixed_bfloat16", "mixed_float16")
  def test_trains_resumes_and_leaves_the_policy_alone(self, policy):
    model_dir = self.get_temp_dir()
    result, model = self.train(model_dir, policy)
    self.assertEqual(result["step"], 2)
    for value in result["train"].values():
      self.assert_finite(value)
    self.assertEqual(model.generator.layers[0].compute_dtype, policy.split("_")[1])
    self.assertEqual(keras.mixed_precision.global_policy().name, "float32")
    # Resuming restores the optimizer state (including a loss scale) and goes on.
    result, _ = self.train(model_dir, policy, steps=3)
    self.assertEqual(result["step"], 3)

  def test_trained_weights_evaluate_in_float32(self):
    model_dir = self.get_temp_dir()
    config.parse([os.path.join(testing.GIN_DIR, "toy.gin"),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")],
                 ["train.mixed_precision = 'mixed_bfloat16'"])
    trainer.train(model_dir)
    # The generator rebuilt for evaluation and export computes in float32, with the
    # (float32) weights the mixed-precision run saved.
    _, model, step = runs.restore(model_dir)
    self.assertEqual(step, 2)
    self.assertEqual(model.generator.layers[0].compute_dtype, "float32")
    reader = tf.train.load_checkpoint(os.path.join(model_dir, runs.CHECKPOINT_DIR))
    saved = [reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
             if name.startswith("generator/") and "OPTIMIZER" not in name]
    for weight in model.generator.get_weights():
      self.assertTrue(any(w.shape == weight.shape and np.array_equal(w, weight)
                          for w in saved))

  def test_skip_with_float16_is_a_config_error(self):
    with self.assertRaisesRegex(errors.ConfigError, "mixed_float16"):
      self.train(self.get_temp_dir(), "mixed_float16", on_nonfinite="skip")

  def test_unknown_policy_fails_before_writing(self):
    model_dir = os.path.join(self.get_temp_dir(), "run")
    with self.assertRaisesRegex(errors.ConfigError, "mixed_precision"):
      self.train(model_dir, "bfloat16")
    self.assertFalse(os.path.exists(model_dir))


class TaskConfigsTest(testing.TestCase):

  @testing.parameterized.parameters(*testing.task_gin_files())
  def test_task_trains_under_mixed_bfloat16(self, gin_file):
    config.parse([os.path.join(testing.GIN_DIR, gin_file),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")],
                 ["train.mixed_precision = 'mixed_bfloat16'"])
    result = trainer.train(os.path.join(self.get_temp_dir(), gin_file))
    self.assertEqual(result["step"], 2)
    for value in list(result["train"].values()) + list(result["eval"].values()):
      self.assert_finite(value)


if __name__ == "__main__":
  testing.main()
