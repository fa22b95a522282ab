"""Test helpers: the project `TestCase` and small fakes."""

import os

from absl.testing import parameterized
import gin
import numpy as np
import tensorflow as tf
import tf_keras as keras

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIN_DIR = os.path.join(REPO_DIR, "gin")


class TestCase(parameterized.TestCase, tf.test.TestCase):
  """Clears gin before and after each test and fixes the seeds."""

  def setUp(self):
    super().setUp()
    gin.clear_config()
    keras.utils.set_random_seed(0)

  def tearDown(self):
    gin.clear_config()
    super().tearDown()

  def assert_finite(self, value):
    self.assertTrue(np.all(np.isfinite(np.asarray(value))), f"not finite: {value}")
