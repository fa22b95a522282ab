"""Differentiable direct camera-motion solver: Gauss-Newton on the photometric error.

Given the target frame's depth, the target and source frames and the intrinsics, it finds the
target-to-source motion xi = (t, omega) that minimises the squared intensity difference
between the target frame and the source frame warped with the depth,

  E(xi) = sum_p || I_s(pi(K (R P_p + t))) - I_t(p) ||^2,   P_p = D(p) K^{-1} [p, 1]^T,

by a few damped Gauss-Newton (Levenberg-Marquardt) steps from an initial motion, coarse to
fine over Gaussian-blurred copies of the frames (a blurred image's residual stays informative
over larger displacements). This is the direct visual odometry of Steinbruecker et al. 2011
used inside a depth learner as by Wang et al. (CVPR 2018, "DDVO"): the motion is not
regressed by a network that must first learn to see displacement (a from-scratch pose
network here predicted the mean motion for thousands of steps, even given the true depth),
it is solved for, and the depth network learns from consistent motions from the first steps.

Per step, with the current motion (R, t), the moved point P' = R P + t = (X, Y, Z) and its
projection (u, v) = (f_x X / Z + c_x, f_y Y / Z + c_y); a small update acts on the left,
P'' = exp([omega]_x) P' + t_delta, so

  dP'/d t_delta = I,   dP'/d omega = -[P']_x,
  du/dP' = (f_x / Z, 0, -f_x X / Z^2),   dv/dP' = (0, f_y / Z, -f_y Y / Z^2),

and the Jacobian of each residual is (dI_s/du) du/dxi + (dI_s/dv) dv/dxi with the source
image gradients sampled at (u, v). The normal equations (J^T J + lambda diag(J^T J)) delta =
-J^T r are 6 x 6 per example. Conventions are those of `aign_tf.renderers.view_synthesis`.
"""

import tensorflow as tf

from aign_tf.renderers import sampling
from aign_tf.renderers import view_synthesis

# Default coarse-to-fine schedule: the blur (Gaussian sigma, pixels) of each Gauss-Newton
# step; 0 = the frames themselves.
DEFAULT_SCHEDULE = (4.0, 4.0, 2.0, 2.0, 1.0, 1.0, 0.0)


def _skew(v):
  """`[..., 3]` -> `[..., 3, 3]` cross-product matrices [v]_x."""
  x, y, z = tf.unstack(v, axis=-1)
  zero = tf.zeros_like(x)
  return tf.stack([tf.stack([zero, -z, y], -1), tf.stack([z, zero, -x], -1),
                   tf.stack([-y, x, zero], -1)], -2)


def gaussian_blur(images, sigma):
  """Separable Gaussian blur (sigma in pixels, symmetric padding) of `[B, H, W, C]`."""
  radius = max(1, int(round(2.5 * sigma)))
  # Symmetric padding cannot exceed the image: small images get a truncated kernel.
  sizes = [d for d in images.shape[1:3] if d is not None]
  if sizes:
    radius = max(1, min([radius] + [d - 1 for d in sizes]))
  x = tf.range(-radius, radius + 1, dtype=images.dtype)
  kernel = tf.exp(-0.5 * tf.square(x / sigma))
  kernel = kernel / tf.reduce_sum(kernel)
  channels = images.shape[-1]
  padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
  rows = tf.tile(kernel[:, None, None, None], [1, 1, channels, 1])
  columns = tf.tile(kernel[None, :, None, None], [1, 1, channels, 1])
  blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
  return tf.nn.depthwise_conv2d(blurred, columns, [1, 1, 1, 1], "VALID")


def _gradients(images):
  """Central differences d/dx, d/dy of `[B, H, W, C]` (one-sided at the borders)."""
  padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], "SYMMETRIC")
  dx = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2.0
  dy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2.0
  return dx, dy


def solve_egomotion(target, source, depth, intrinsics, initial=None,
                    schedule=DEFAULT_SCHEDULE, damping=1e-2, name="solve_egomotion"):
  """Target-to-source egomotion `[B, 6]` minimising the photometric error (see module doc).

  Args:
    target: `[B, H, W, C]` target frame (floats, e.g. in [0, 1]).
    source: `[B, H, W, C]` source frame.
    depth: `[B, H, W, 1]` target depth (> 0).
    intrinsics: `[B, 4]` (f_x, f_y, c_x, c_y) pixels.
    initial: `[B, 6]` starting motion (t, Euler angles), default none.
    schedule: the Gaussian blur (sigma in pixels, 0 = none) of each Gauss-Newton step.
    damping: Levenberg-Marquardt lambda, relative to the diagonal of J^T J.
    name: op name scope.

  Returns:
    `[B, 6]` (t_x, t_y, t_z, r_x, r_y, r_z) with R = R_z R_y R_x, differentiable in depth,
    frames and `initial`.
  """
  from tensorflow_graphics.geometry.transformation import euler  # pylint: disable=g-import-not-at-top
  from tensorflow_graphics.geometry.transformation import rotation_matrix_3d  # pylint: disable=g-import-not-at-top
  with tf.name_scope(name):
    target = tf.convert_to_tensor(target)
    dtype = target.dtype
    source = tf.cast(tf.convert_to_tensor(source), dtype)
    depth = tf.cast(tf.convert_to_tensor(depth), dtype)
    intrinsics = tf.cast(tf.convert_to_tensor(intrinsics), dtype)
    if target.shape.rank != 4 or source.shape.rank != 4 or depth.shape.rank != 4:
      raise ValueError(f"solve_egomotion needs [B, H, W, C] frames and [B, H, W, 1] depth, "
                       f"got {target.shape}, {source.shape}, {depth.shape}")
    batch = tf.shape(depth)[0]
    points, focal, principal = view_synthesis.unproject_pixels(depth, intrinsics)
    if initial is None:
      rotation = tf.eye(3, batch_shape=[batch], dtype=dtype)
      translation = tf.zeros([batch, 3], dtype)
    else:
      initial = tf.cast(tf.convert_to_tensor(initial), dtype)
      rotation = rotation_matrix_3d.from_euler(initial[:, 3:])
      translation = initial[:, :3]
    fx = intrinsics[:, None, None, 0:1]
    fy = intrinsics[:, None, None, 1:2]
    eye = tf.eye(6, batch_shape=[batch], dtype=dtype)
    for sigma in schedule:
      if sigma:
        target_s, source_s = gaussian_blur(target, sigma), gaussian_blur(source, sigma)
      else:
        target_s, source_s = target, source
      dx, dy = _gradients(source_s)
      channels = source_s.shape[-1]
      moved = tf.einsum("bij,bhwj->bhwi", rotation, points) + translation[:, None, None, :]
      coordinates, in_front, z = view_synthesis.project_points(moved, focal, principal)
      x, y = moved[..., 0:1], moved[..., 1:2]
      sampled, inside = sampling.bilinear_sample(
          tf.concat([source_s, dx, dy], axis=-1), coordinates)
      valid = inside * tf.cast(in_front, dtype)
      warped = sampled[..., :channels]
      grad_u = sampled[..., channels:2 * channels]
      grad_v = sampled[..., 2 * channels:]
      residual = (warped - target_s) * valid  # [B, H, W, C]
      # d(u, v) / d(t_delta, omega), each [B, H, W, 6].
      zero = tf.zeros_like(z)
      du_dp = tf.concat([fx / z, zero, -fx * x / (z * z)], -1)  # [B, H, W, 3]
      dv_dp = tf.concat([zero, fy / z, -fy * y / (z * z)], -1)
      dp_domega = -_skew(moved)  # [B, H, W, 3, 3]
      du = tf.concat([du_dp, tf.einsum("bhwi,bhwij->bhwj", du_dp, dp_domega)], -1)
      dv = tf.concat([dv_dp, tf.einsum("bhwi,bhwij->bhwj", dv_dp, dp_domega)], -1)
      jacobian = (grad_u[..., None] * du[..., None, :] + grad_v[..., None] * dv[..., None, :])
      jacobian = jacobian * valid[..., None]  # [B, H, W, C, 6]
      hessian = tf.einsum("bhwci,bhwcj->bij", jacobian, jacobian)
      gradient = tf.einsum("bhwci,bhwc->bi", jacobian, residual)
      diagonal = tf.linalg.diag_part(hessian)
      damped = hessian + damping * tf.linalg.diag(diagonal) + 1e-6 * eye
      delta = -tf.linalg.solve(damped, gradient[..., None])[..., 0]
      delta_rotation = rotation_matrix_3d.from_axis_angle(
          *_axis_angle(delta[:, 3:]))
      rotation = tf.matmul(delta_rotation, rotation)
      translation = tf.einsum("bij,bj->bi", delta_rotation, translation) + delta[:, :3]
    return tf.concat([translation, euler.from_rotation_matrix(rotation)], axis=-1)


def _axis_angle(omega, eps=1e-9):
  """Rotation vector `[B, 3]` -> (unit axis `[B, 3]`, angle `[B, 1]`), safe at 0."""
  angle = tf.sqrt(tf.reduce_sum(tf.square(omega), -1, keepdims=True) + eps * eps)
  return omega / angle, angle
