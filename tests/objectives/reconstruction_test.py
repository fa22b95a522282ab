"""Tests of the reconstruction losses."""

import tensorflow as tf

from aign_tf import testing
from aign_tf.objectives import reconstruction


class ReconstructionLossTest(testing.TestCase):

  def test_l2_and_l1_per_example(self):
    target = tf.zeros([2, 2, 2])
    prediction = tf.constant([[[1.0, 1.0], [1.0, 1.0]], [[2.0, 0.0], [0.0, 0.0]]])
    self.assertAllClose(reconstruction.l2_loss(target, prediction), [1.0, 1.0])
    self.assertAllClose(reconstruction.l1_loss(target, prediction), [1.0, 0.5])

  def test_weights_average_over_visible_elements_only(self):
    target = tf.zeros([2, 4])
    prediction = tf.constant([[1.0, 1.0, 5.0, 5.0], [2.0, 2.0, 2.0, 2.0]])
    weights = tf.constant([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    self.assertAllClose(reconstruction.masked_l2_loss(target, prediction, weights),
                        [1.0, 4.0])
    self.assertAllClose(reconstruction.masked_l1_loss(target, prediction, weights),
                        [1.0, 2.0])

  def test_weights_broadcast(self):
    target = tf.zeros([1, 3, 2])
    prediction = tf.constant([[[1.0, 1.0], [3.0, 3.0], [9.0, 9.0]]])
    confidence = tf.constant([[[1.0], [1.0], [0.0]]])  # Per-joint weights.
    self.assertAllClose(reconstruction.l1_loss(target, prediction, confidence), [2.0])

  def test_fully_masked_example_is_zero_not_nan(self):
    loss = reconstruction.l2_loss(tf.zeros([1, 3]), tf.ones([1, 3]), tf.zeros([1, 3]))
    self.assertAllClose(loss, [0.0])

  def test_shape_mismatch_names_shapes(self):
    with self.assertRaisesRegex(ValueError, r"\(2, 3\).*\(2, 4\)"):
      reconstruction.l2_loss(tf.zeros([2, 3]), tf.zeros([2, 4]))


if __name__ == "__main__":
  tf.test.main()
