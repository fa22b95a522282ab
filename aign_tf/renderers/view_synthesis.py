"""View synthesis: render the target frame from a source frame, a depth map and egomotion.

The structure-from-motion renderer of AIGN (Tung et al. 2017, Sec. 3.3, after Zhou et al.
2017): given the depth D_t of the target frame and the camera motion from target to source,
each target pixel p is unprojected, moved into the source camera and projected,

  P_t = D_t(p) K^{-1} [p, 1]^T,      P_s = R P_t + t,      p_s = pi(K P_s),

and the source frame is sampled bilinearly at p_s. Where the target frame shows the same
static scene, the warped source equals the target frame; the reconstruction loss compares them.

Conventions:
- Camera coordinates: x right, y down, z forward (the optical axis); depth is z, not the
  distance along the ray. Pixels: (x, y) = (column, row), integers are pixel centres.
- `intrinsics` `[B, 4]` = (f_x, f_y, c_x, c_y) in pixels of the images given to the renderer.
- `egomotion` `[B, 6]` = (t_x, t_y, t_z, r_x, r_y, r_z): translation in scene units and Euler
  angles in radians, R = R_z(r_z) R_y(r_y) R_x(r_x) (`tensorflow_graphics` `from_euler`).
  It maps points from the target camera's coordinates into the source camera's:
  P_s = R P_t + t. If camera-to-world poses are T_t and T_s, the egomotion is T_s^{-1} T_t.

Unprojection and projection call `tensorflow_graphics.rendering.camera.perspective`; the
rotation comes from `tensorflow_graphics.geometry.transformation.rotation_matrix_3d`. Both
are imported inside the functions, so importing this module stays cheap.
"""

import gin
import tensorflow as tf

from aign_tf.renderers import base
from aign_tf.renderers import sampling

# Context and prediction keys used by the renderer.
SOURCE = "source"
INTRINSICS = "intrinsics"
DEPTH = "depth"
EGOMOTION = "egomotion"

# Points closer to the source camera than this (scene units) are invalid and their
# projection uses this depth instead of dividing by ~0.
_MIN_DEPTH = 1e-3


def pixel_grid(height, width, dtype=tf.float32):
  """Pixel centres `[H, W, 2]` as (x, y) = (column, row)."""
  xs, ys = tf.meshgrid(tf.range(width, dtype=dtype), tf.range(height, dtype=dtype))
  return tf.stack([xs, ys], axis=-1)


def unproject_pixels(depth, intrinsics):
  """Every pixel of `depth` `[B, H, W, 1]` lifted to a 3D point `[B, H, W, 3]` of its camera.

  Returns (points, focal, principal): the focal lengths and principal point `[B, H, W, 2]`,
  broadcast per pixel as `perspective.project` takes them.
  """
  from tensorflow_graphics.rendering.camera import perspective  # pylint: disable=g-import-not-at-top
  shape = tf.shape(depth)
  grid = tf.broadcast_to(pixel_grid(shape[1], shape[2], depth.dtype)[None],
                         tf.stack([shape[0], shape[1], shape[2], 2]))
  focal = tf.broadcast_to(intrinsics[:, None, None, :2], tf.shape(grid))
  principal = tf.broadcast_to(intrinsics[:, None, None, 2:], tf.shape(grid))
  return perspective.unproject(grid, depth, focal, principal), focal, principal


def project_points(points, focal, principal):
  """Pixel coordinates `[B, H, W, 2]` of camera points `[B, H, W, 3]`, guarded near z = 0.

  Returns (coordinates, in_front, safe_z): `in_front` `[B, H, W, 1]` is z > _MIN_DEPTH;
  points behind the camera are projected with z = _MIN_DEPTH instead of dividing by ~0 (they
  are invalid; points in front keep their exact value and gradient), `safe_z` is that z.
  """
  from tensorflow_graphics.rendering.camera import perspective  # pylint: disable=g-import-not-at-top
  z = points[..., 2:]
  in_front = z > _MIN_DEPTH
  safe_z = tf.where(in_front, z, tf.cast(_MIN_DEPTH, points.dtype))
  coordinates = perspective.project(tf.concat([points[..., :2], safe_z], axis=-1),
                                    focal, principal)
  return coordinates, in_front, safe_z


def egomotion_to_rotation_translation(egomotion, name="egomotion_to_rt"):
  """Splits `[B, 6]` egomotion into a rotation matrix `[B, 3, 3]` and translation `[B, 3]`."""
  from tensorflow_graphics.geometry.transformation import rotation_matrix_3d  # pylint: disable=g-import-not-at-top
  with tf.name_scope(name):
    egomotion = tf.convert_to_tensor(egomotion)
    if egomotion.shape[-1] != 6:
      raise ValueError(f"egomotion must be [B, 6] (t_x, t_y, t_z, r_x, r_y, r_z), got "
                       f"{egomotion.shape}")
    return rotation_matrix_3d.from_euler(egomotion[..., 3:]), egomotion[..., :3]


def warp(source, depth, egomotion, intrinsics, name="view_synthesis_warp"):
  """Warps `source` into the target view.

  Args:
    source: `[B, H_s, W_s, C]` source frame.
    depth: `[B, H, W, 1]` target-frame depth (z, scene units, > 0).
    egomotion: `[B, 6]` target-to-source motion (see the module docstring).
    intrinsics: `[B, 4]` (f_x, f_y, c_x, c_y) in pixels; the same camera for both frames.
    name: op name scope.

  Returns:
    (warped `[B, H, W, C]`, validity `[B, H, W, 1]`, source pixel coordinates `[B, H, W, 2]`).
    Validity is 1 where the moved point is in front of the source camera and projects
    inside the source frame.

  Raises:
    ValueError: on inconsistent static shapes.
  """
  with tf.name_scope(name):
    source = tf.convert_to_tensor(source)
    dtype = source.dtype if source.dtype.is_floating else tf.float32
    source = tf.cast(source, dtype)
    depth = tf.cast(tf.convert_to_tensor(depth), dtype)
    egomotion = tf.cast(tf.convert_to_tensor(egomotion), dtype)
    intrinsics = tf.cast(tf.convert_to_tensor(intrinsics), dtype)
    if depth.shape.rank != 4 or depth.shape[-1] != 1:
      raise ValueError(f"depth must be [B, H, W, 1], got {depth.shape}")
    if source.shape.rank != 4:
      raise ValueError(f"source must be [B, H, W, C], got {source.shape}")
    if intrinsics.shape.rank != 2 or intrinsics.shape[-1] != 4:
      raise ValueError(f"intrinsics must be [B, 4] (f_x, f_y, c_x, c_y), got "
                       f"{intrinsics.shape}")
    # Unproject target pixels with their depth.
    points, focal, principal = unproject_pixels(depth, intrinsics)

    # Move them into the source camera: P_s = R P_t + t.
    rotation, translation = egomotion_to_rotation_translation(egomotion)
    points = (tf.einsum("bij,bhwj->bhwi", rotation, points)
              + translation[:, None, None, :])

    # Project with a guarded depth (points behind the camera are invalid).
    coordinates, in_front, _ = project_points(points, focal, principal)

    warped, inside = sampling.bilinear_sample(source, coordinates)
    valid = inside * tf.cast(in_front, dtype)
    return warped, tf.stop_gradient(valid), coordinates


@gin.configurable(module="renderers")
class ViewSynthesis(base.Renderer):
  """Renders the target frame by warping the source frame with predicted depth + egomotion.

  In: `prediction` = {"depth": `[B, H, W, 1]`, "egomotion": `[B, 6]`} (target-frame depth,
  target-to-source motion); `context` = {"source": `[B, H, W, C]` source frame,
  "intrinsics": `[B, 4]` (f_x, f_y, c_x, c_y) pixels}. Out: {"rendered": warped source
  `[B, H, W, C]`, "weights": validity `[B, H, W, 1]`, "baseline": the unwarped source};
  the AIGN core multiplies the weights into the reconstruction loss so pixels warped from
  outside the source frame do not count, and passes the baseline to the loss (used by
  `objectives.photometric_loss` for auto-masking; other losses must accept `baseline=`).
  Conventions are in the module docstring.
  """

  def render(self, prediction, context):
    if not isinstance(prediction, dict) or DEPTH not in prediction or (
        EGOMOTION not in prediction):
      got = sorted(prediction) if isinstance(prediction, dict) else type(prediction).__name__
      raise ValueError(f"ViewSynthesis needs a prediction dict with {DEPTH!r} and "
                       f"{EGOMOTION!r}, got {got}")
    missing = [k for k in (SOURCE, INTRINSICS) if k not in context]
    if missing:
      raise ValueError(f"ViewSynthesis needs context keys {missing} (have {sorted(context)})")
    warped, valid, _ = warp(context[SOURCE], prediction[DEPTH], prediction[EGOMOTION],
                            context[INTRINSICS])
    # The baseline is the unwarped source (what infinite depth and no motion would render):
    # a loss with `baseline=` can ignore pixels the warp does not improve (auto-masking).
    return base.RenderOutput(warped, weights=valid,
                             baseline=tf.convert_to_tensor(context[SOURCE], warped.dtype))
