"""Projection of 3D joints to 2D keypoints: the pose task's renderer (TensorFlow Graphics).

Camera convention (OpenCV-like, the exported model's): camera frame x right, y down, z
forward; normalised camera coordinates are pixel coordinates with the intrinsics removed,
x = (u - cx) / fx, y = (v - cy) / fy, i.e. a pinhole with focal 1 and principal point 0.

The generator predicts root-relative joints X_j in the camera frame (metres) and a
normalised root depth delta. The batch's context gives the observed 2D root r (pelvis, in
normalised camera coordinates) and the 2D scale s of the keypoints (RMS distance of the joints
from r). The root depth is d = delta / s, the root is placed on the ray through r, and

  perspective:      x_j = pi(X_j + d [r_x, r_y, 1]),   pi(P) = (P_x / P_z, P_y / P_z),
  weak perspective: x_j = r + X_j,xy / d.

The rendered observation is the input's normalisation applied to x: (x_j - r) / s, so the
reconstruction target is the root-centred, scale-normalised 2D keypoints the generator saw,
and the loss does not depend on how large the person appears. Under weak perspective the
rendering is X_j,xy / delta.

`rotate` and `project` are the TensorFlow Graphics calls (`geometry.transformation.
rotation_matrix_3d`, `rendering.camera.perspective.project`), imported lazily.
"""

import gin
import tensorflow as tf

from aign_tf.renderers import base

# Context keys (set by `aign_tf.data.pose`).
ROOT_2D = "root_2d"
SCALE_2D = "scale_2d"
# Prediction keys (set by `aign_tf.models.pose_networks`).
JOINTS_3D = "joints_3d"
DEPTH = "depth"
_MIN_DEPTH = 1e-3


def rotation_matrix(euler, name="rotation_matrix"):
  """Euler angles `[..., 3]` (about x, y, z; radians) -> `[..., 3, 3]`, R = Rz Ry Rx."""
  from tensorflow_graphics.geometry.transformation import rotation_matrix_3d  # pylint: disable=g-import-not-at-top
  with tf.name_scope(name):
    euler = tf.convert_to_tensor(euler, tf.float32)
    if euler.shape[-1] is not None and euler.shape[-1] != 3:
      raise ValueError(f"Euler angles must have a last axis of 3, got shape {euler.shape}")
    return rotation_matrix_3d.from_euler(euler)


def rotate(points, euler, name="rotate"):
  """Rotates points `[..., J, 3]` by Euler angles `[..., 3]` (R = Rz Ry Rx): R p."""
  from tensorflow_graphics.geometry.transformation import rotation_matrix_3d  # pylint: disable=g-import-not-at-top
  with tf.name_scope(name):
    points = tf.convert_to_tensor(points, tf.float32)
    matrix = rotation_matrix(euler)[..., tf.newaxis, :, :]
    matrix = tf.broadcast_to(matrix, tf.concat([tf.shape(points), [3]], axis=0))
    return rotation_matrix_3d.rotate(points, matrix)


def project(points, name="project"):
  """Pinhole projection with focal 1 and principal point 0: `[..., 3]` -> `[..., 2]`.

  Depths below 1e-3 go through `base.soft_floor` (points behind the camera have no image),
  so the division is always defined and the gradient still pushes them back in front.
  """
  from tensorflow_graphics.rendering.camera import perspective  # pylint: disable=g-import-not-at-top
  with tf.name_scope(name):
    points = tf.convert_to_tensor(points, tf.float32)
    safe = tf.concat([points[..., :2], base.soft_floor(points[..., 2:], _MIN_DEPTH)], axis=-1)
    ones = tf.ones_like(safe[..., :2])
    return perspective.project(safe, ones, tf.zeros_like(ones))


def render_keypoints(joints_3d, depth, root_2d=None, scale_2d=None, weak_perspective=False,
                     normalise=True, name="render_keypoints"):
  """Projects root-relative camera-frame joints and normalises like the input (module doc).

  Args:
    joints_3d: `[B, J, 3]` root-relative joints, camera frame, metres.
    depth: `[B]` or `[B, 1]` normalised root depth delta (> 0).
    root_2d: `[B, 2]` observed root in normalised camera coordinates (default 0).
    scale_2d: `[B]` or `[B, 1]` observed 2D scale s (default 1).
    weak_perspective: use x = r + X_xy / d instead of the pinhole.
    normalise: return (x - r) / s (default) instead of x.
    name: op name.

  Returns:
    `[B, J, 2]` keypoints.
  """
  with tf.name_scope(name):
    joints_3d = tf.convert_to_tensor(joints_3d, tf.float32)
    if joints_3d.shape.rank is not None and (joints_3d.shape.rank < 2 or
                                             joints_3d.shape[-1] != 3):
      raise ValueError(f"joints_3d must be [..., J, 3], got shape {joints_3d.shape}")
    batch_shape = tf.shape(joints_3d)[:-2]
    depth = tf.reshape(tf.convert_to_tensor(depth, tf.float32),
                       tf.concat([batch_shape, [1, 1]], 0))
    root = (tf.zeros(tf.concat([batch_shape, [1, 2]], 0)) if root_2d is None else
            tf.reshape(tf.convert_to_tensor(root_2d, tf.float32),
                       tf.concat([batch_shape, [1, 2]], 0)))
    scale = (tf.ones(tf.concat([batch_shape, [1, 1]], 0)) if scale_2d is None else
             tf.reshape(tf.convert_to_tensor(scale_2d, tf.float32),
                        tf.concat([batch_shape, [1, 1]], 0)))
    root_depth = depth / scale
    if weak_perspective:
      image = root + joints_3d[..., :2] / base.soft_floor(root_depth, _MIN_DEPTH)
    else:
      translation = tf.concat([root * root_depth, root_depth], axis=-1)
      image = project(joints_3d + translation)
    if normalise:
      image = (image - root) / scale
    return image


@gin.configurable(module="renderers")
class PoseProjection(base.Renderer):
  """Renders the pose generator's prediction as normalised 2D keypoints `[B, J, 2]`.

  Input: prediction dict with "joints_3d" `[B, J, 3]` (root-relative, camera frame, metres)
  and "depth" `[B, 1]` (normalised root depth delta); context dict with "root_2d" `[B, 2]`
  and "scale_2d" `[B, 1]` (absent: 0 and 1). Output: (x - r) / s per joint, by the pinhole
  (default) or weak perspective; see the module doc for the maths and conventions.
  """

  def __init__(self, weak_perspective=False, name="pose_projection", **kwargs):
    super().__init__(name=name, **kwargs)
    self.weak_perspective = bool(weak_perspective)

  def render(self, prediction, context):
    if not isinstance(prediction, dict) or JOINTS_3D not in prediction or (
        DEPTH not in prediction):
      keys = sorted(prediction) if isinstance(prediction, dict) else "a tensor"
      raise ValueError(f"PoseProjection needs a prediction dict with {JOINTS_3D!r} and "
                       f"{DEPTH!r}, got {keys}")
    return render_keypoints(prediction[JOINTS_3D], prediction[DEPTH],
                            context.get(ROOT_2D), context.get(SCALE_2D),
                            weak_perspective=self.weak_perspective)

  def get_config(self):
    return {**super().get_config(), "weak_perspective": self.weak_perspective}
