"""Tests of the inpainting renderer (multiply by the visibility mask)."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.core import keys
from aign_tf.models import aign
from aign_tf.objectives import reconstruction
from aign_tf.renderers import masking


class MaskingTest(testing.TestCase):

  def test_render_preset(self):
    image = np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3)
    visibility = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32).reshape(1, 2, 2, 1)
    out = masking.Masking()(image, {masking.VISIBILITY: visibility})
    expected = image.copy()
    expected[0, 0, 1] = 0.0
    expected[0, 1, 0] = 0.0
    self.assertAllClose(out.rendered, expected)
    self.assertAllClose(out.weights, visibility)

  def test_loss_covers_visible_pixels_only(self):
    target = np.zeros([1, 2, 2, 3], np.float32)
    prediction = np.zeros([1, 2, 2, 3], np.float32)
    prediction[0, 0, 0] = 2.0   # visible: error 4 on 3 channels
    prediction[0, 1, 1] = 100.0  # hidden: ignored
    visibility = np.array([[1.0, 1.0], [1.0, 0.0]], np.float32).reshape(1, 2, 2, 1)
    out = masking.Masking()(prediction, {masking.VISIBILITY: visibility})
    loss = reconstruction.l2_loss(target, out.rendered, out.weights)
    self.assertAllClose(loss, [4.0 * 3 / (3 * 3)])

  def test_aign_uses_mask_as_weights(self):
    renderer = masking.Masking()
    model = aign.AIGN(generator=lambda x, training=False: x, renderer=renderer,
                      adversarial_weight=0.0)
    prediction = np.ones([1, 2, 2, 3], np.float32)
    visibility = np.array([[1.0, 0.0], [1.0, 1.0]], np.float32).reshape(1, 2, 2, 1)
    target = prediction * visibility
    target[0, 1, 1] = 0.5  # one visible pixel off by 0.5
    batch = {keys.OBSERVATION: prediction, keys.RECONSTRUCTION_TARGET: target,
             keys.CONTEXT: {masking.VISIBILITY: visibility}}
    losses = model.generator_losses(batch, tf.constant(prediction))
    self.assertAllClose(losses["reconstruction_loss"], [0.25 * 3 / 9])

  def test_renderer_has_no_weights(self):
    renderer = masking.Masking()
    renderer(tf.ones([1, 2, 2, 3]), {masking.VISIBILITY: tf.ones([1, 2, 2, 1])})
    self.assertEmpty(renderer.weights)

  def test_render_jacobian(self):
    visibility = tf.constant([[1.0, 0.0], [0.0, 1.0]], tf.float64)[None, :, :, None]
    image = tf.random.normal([1, 2, 2, 1], dtype=tf.float64)
    renderer = masking.Masking()
    theoretical, numerical = tf.test.compute_gradient(
        lambda y: renderer(y, {masking.VISIBILITY: visibility}).rendered, [image])
    self.assertAllClose(theoretical, numerical)
    self.assertAllClose(theoretical[0], np.diag([1.0, 0.0, 0.0, 1.0]))

  def test_inversion_by_gradient_descent(self):
    renderer = masking.Masking()
    visibility = tf.cast(tf.random.uniform([1, 8, 8, 1], seed=3) > 0.3, tf.float32)
    context = {masking.VISIBILITY: visibility}
    observed = renderer(tf.random.uniform([1, 8, 8, 3], seed=4), context).rendered
    y = tf.Variable(tf.zeros([1, 8, 8, 3]))
    initial = float(tf.reduce_sum(tf.square(renderer(y, context).rendered - observed)))
    for _ in range(20):
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(renderer(y, context).rendered - observed))
      y.assign_sub(0.25 * tape.gradient(loss, y))
    self.assertLess(float(loss), 0.5 * initial)

  def test_missing_mask_raises(self):
    with self.assertRaisesRegex(ValueError, "visibility"):
      masking.Masking()(tf.ones([1, 2, 2, 3]), {})

  def test_mask_shape_mismatch_raises(self):
    with self.assertRaisesRegex(ValueError, "does not match"):
      masking.apply_mask(tf.ones([1, 4, 4, 3]), tf.ones([1, 2, 2, 1]))


if __name__ == "__main__":
  tf.test.main()
