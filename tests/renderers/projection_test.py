"""Tests of the pose projection renderer: hand-computed values, Jacobians, inversion."""

import math

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.renderers import projection


class ProjectionTest(testing.TestCase):

  def test_project_preset(self):
    points = tf.constant([[[1.0, 2.0, 4.0], [-3.0, 0.5, 2.0]]])
    self.assertAllClose(projection.project(points), [[[0.25, 0.5], [-1.5, 0.25]]])

  def test_rotation_matrix_preset(self):
    # 90 degrees about z maps x to y.
    matrix = projection.rotation_matrix([[0.0, 0.0, math.pi / 2]])
    self.assertAllClose(tf.linalg.matvec(matrix[0], [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0],
                        atol=1e-6)
    rotated = projection.rotate([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]], [[0.0, 0.0, math.pi / 2]])
    self.assertAllClose(rotated, [[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]], atol=1e-6)

  def test_render_keypoints_perspective_preset(self):
    # Root at r = (0.1, -0.2), delta = 1.0, s = 0.5 -> root depth d = 2, root at (0.2, -0.4, 2).
    joints = tf.constant([[[0.0, 0.0, 0.0], [0.4, 0.2, 0.0], [0.0, 0.0, 2.0]]])
    image = projection.render_keypoints(joints, [[1.0]], [[0.1, -0.2]], [[0.5]],
                                        normalise=False)
    expected = [[0.1, -0.2], [(0.2 + 0.4) / 2.0, (-0.4 + 0.2) / 2.0],
                [0.2 / 4.0, -0.4 / 4.0]]
    self.assertAllClose(image[0], expected)
    normalised = projection.render_keypoints(joints, [[1.0]], [[0.1, -0.2]], [[0.5]])
    self.assertAllClose(normalised[0], (np.array(expected) - [0.1, -0.2]) / 0.5)

  def test_render_keypoints_weak_perspective_preset(self):
    joints = tf.constant([[[0.0, 0.0, 0.0], [0.4, 0.2, 5.0]]])
    image = projection.render_keypoints(joints, [[2.0]], [[0.1, 0.0]], [[0.5]],
                                        weak_perspective=True, normalise=False)
    # d = 4: x = r + X_xy / 4, whatever the joint depth.
    self.assertAllClose(image[0], [[0.1, 0.0], [0.2, 0.05]])
    normalised = projection.render_keypoints(joints, [[2.0]], [[0.1, 0.0]], [[0.5]],
                                             weak_perspective=True)
    self.assertAllClose(normalised[0], [[0.0, 0.0], [0.2, 0.1]])  # X_xy / delta.

  def test_renderer_layer_matches_function_and_has_no_weights(self):
    renderer = projection.PoseProjection()
    joints = tf.random.normal([3, 17, 3]) * 0.3
    depth = tf.fill([3, 1], 0.5)
    context = {projection.ROOT_2D: tf.zeros([3, 2]), projection.SCALE_2D: tf.ones([3, 1])}
    out = renderer({projection.JOINTS_3D: joints, projection.DEPTH: depth}, context)
    self.assertEqual(out.shape, (3, 17, 2))
    self.assertAllClose(out, projection.render_keypoints(joints, depth, context["root_2d"],
                                                         context["scale_2d"]))
    self.assertEmpty(renderer.weights)

  def test_renderer_missing_key_raises(self):
    with self.assertRaisesRegex(ValueError, "depth"):
      projection.PoseProjection()({projection.JOINTS_3D: tf.zeros([1, 17, 3])}, {})

  def test_render_jacobian(self):
    joints = tf.constant(np.random.default_rng(0).normal(size=(1, 4, 3)) * 0.3, tf.float64)
    depth = tf.constant([[0.6]], tf.float64)

    def render(j, d):
      return projection.render_keypoints(tf.cast(j, tf.float32), tf.cast(d, tf.float32),
                                         [[0.1, 0.05]], [[0.3]])

    theoretical, numerical = tf.test.compute_gradient(render, [joints, depth], delta=1e-3)
    for t, n in zip(theoretical, numerical):
      self.assertAllClose(t, n, atol=2e-2, rtol=2e-2)
    self.assertGreater(np.abs(theoretical[1]).max(), 0.0)

  def test_rotate_jacobian(self):
    euler = tf.constant([[0.3, -0.2, 0.1]], tf.float64)
    points = tf.constant([[[0.2, 0.5, -0.1], [0.0, -0.4, 0.3]]], tf.float64)

    def fn(e):
      return projection.rotate(tf.cast(points, tf.float32), tf.cast(e, tf.float32))

    theoretical, numerical = tf.test.compute_gradient(fn, [euler], delta=1e-3)
    self.assertAllClose(theoretical[0], numerical[0], atol=1e-2)

  def test_inversion_fits_pose_and_camera_to_own_projection(self):
    rng = np.random.default_rng(1)
    true_joints = rng.normal(size=(1, 17, 3)).astype(np.float32) * 0.3
    true_joints[:, 0] = 0.0
    root, scale = tf.constant([[0.05, -0.1]]), tf.constant([[0.2]])
    observed = projection.render_keypoints(
        projection.rotate(true_joints, [[0.2, 0.4, -0.1]]), [[0.5]], root, scale)
    canonical = tf.Variable(true_joints + rng.normal(size=true_joints.shape).astype(
        np.float32) * 0.1)
    euler = tf.Variable([[0.0, 0.0, 0.0]])
    depth = tf.Variable([[0.8]])

    def loss_fn():
      rendered = projection.render_keypoints(projection.rotate(canonical, euler), depth, root,
                                             scale)
      return tf.reduce_mean(tf.square(rendered - observed))

    initial = float(loss_fn())
    variables = [canonical, euler, depth]
    for _ in range(200):
      with tf.GradientTape() as tape:
        loss = loss_fn()
      for variable, grad in zip(variables, tape.gradient(loss, variables)):
        variable.assign_sub(0.05 * grad)
    self.assertLess(float(loss), 0.5 * initial)
    self.assert_finite(canonical.numpy())


if __name__ == "__main__":
  tf.test.main()
