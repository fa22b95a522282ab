"""Tests of the face networks: shapes, output range, the input skip."""

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.models import face_networks


class SRResNetTest(testing.TestCase):

  @testing.parameterized.parameters(("subpixel", 2), ("subpixel", 4), ("resize_conv", 4))
  def test_output_shape_and_range(self, upsample, scale):
    net = face_networks.SRResNet(scale=scale, filters=8, num_blocks=1, upsample=upsample,
                                 upsample_filters=8)
    out = net(tf.random.uniform([2, 6, 5, 3]))
    self.assertEqual(out.shape, (2, 6 * scale, 5 * scale, 3))
    self.assertTrue(np.all((out.numpy() > 0) & (out.numpy() < 1)))

  @testing.parameterized.parameters((True, "bilinear"), ("bilinear", "bilinear"),
                                    ("bicubic", "bicubic"))
  def test_starts_near_the_skip_upsampling(self, input_skip, method):
    net = face_networks.SRResNet(scale=4, filters=8, num_blocks=1, input_skip=input_skip)
    x = tf.random.uniform([1, 8, 8, 3], 0.2, 0.8, seed=1)
    expected = tf.clip_by_value(tf.image.resize(x, [32, 32], method=method), 0.0, 1.0)
    other = tf.image.resize(x, [32, 32], method="bicubic" if method == "bilinear"
                            else "bilinear")
    out = net(x)
    self.assertAllClose(out, expected, atol=0.02)
    # The two upsamplings differ by more than that tolerance, so the test tells them apart.
    self.assertGreater(float(tf.reduce_max(tf.abs(out - other))), 0.03)

  def test_without_skip_output_is_not_the_upsampling(self):
    net = face_networks.SRResNet(scale=4, filters=8, num_blocks=1, input_skip=None)
    out = net(tf.random.uniform([1, 8, 8, 3], 0.2, 0.8, seed=1))
    self.assertAllClose(out, tf.fill(out.shape, 0.5), atol=0.02)

  def test_bad_input_skip_raises(self):
    with self.assertRaisesRegex(ValueError, "input_skip"):
      face_networks.SRResNet(input_skip="lanczos")

  def test_tanh_output_and_grayscale_input(self):
    net = face_networks.SRResNet(scale=2, filters=8, num_blocks=1, output="tanh")
    out = net(tf.random.uniform([1, 4, 4, 1]))
    self.assertEqual(out.shape, (1, 8, 8, 3))
    self.assertTrue(np.all((out.numpy() >= 0) & (out.numpy() <= 1)))

  @testing.parameterized.parameters(3, 0, 6)
  def test_bad_scale_raises(self, scale):
    with self.assertRaisesRegex(ValueError, "power of 2"):
      face_networks.SRResNet(scale=scale)

  def test_bad_upsample_raises(self):
    with self.assertRaisesRegex(ValueError, "upsample"):
      face_networks.SRResNet(upsample="deconv")


class InpaintingNetTest(testing.TestCase):

  def test_output_shape_and_range(self):
    net = face_networks.InpaintingNet(base_filters=4, num_downsamples=2, num_dilated=1)
    out = net(tf.random.uniform([2, 16, 16, 4]))
    self.assertEqual(out.shape, (2, 16, 16, 3))
    self.assertTrue(np.all((out.numpy() > 0) & (out.numpy() < 1)))


class FaceDiscriminatorTest(testing.TestCase):

  @testing.parameterized.parameters(True, False)
  def test_logits(self, spectral_norm):
    net = face_networks.FaceDiscriminator(base_filters=4, num_layers=2,
                                          spectral_norm=spectral_norm)
    out = net(tf.random.uniform([3, 16, 16, 3]), training=True)
    self.assertEqual(out.shape, (3, 1))
    names = [w.name for w in net.non_trainable_weights]
    self.assertEqual(any("vector_u" in n for n in names), spectral_norm)

  def test_detail_discriminator_ignores_block_means(self):
    net = face_networks.FaceDiscriminator(base_filters=4, num_layers=2, detail_factor=4)
    detail = tf.random.uniform([1, 16, 16, 3], seed=3)
    detail -= tf.repeat(tf.repeat(tf.nn.avg_pool2d(detail, 4, 4, "VALID"), 4, 1), 4, 2)
    low_a = tf.repeat(tf.repeat(tf.random.uniform([1, 4, 4, 3], seed=4), 4, 1), 4, 2)
    low_b = tf.repeat(tf.repeat(tf.random.uniform([1, 4, 4, 3], seed=5), 4, 1), 4, 2)
    self.assertAllClose(net(low_a + detail), net(low_b + detail), atol=1e-5)
    self.assertNotAllClose(net(low_a + detail), net(low_a), atol=1e-5)

  def test_spectral_norm_bounds_the_kernel(self):
    net = face_networks.FaceDiscriminator(base_filters=4, num_layers=1, spectral_norm=True)
    x = tf.random.uniform([1, 8, 8, 3])
    for _ in range(30):  # power iterations converge during training calls
      net(x, training=True)
    kernel = net.convs[0].layer.kernel.numpy().reshape(-1, 4)
    self.assertLess(np.linalg.svd(kernel, compute_uv=False)[0], 1.05)


if __name__ == "__main__":
  tf.test.main()
