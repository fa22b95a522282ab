"""Structure-from-motion data: procedural corridors with exact depth, and real-format loaders.

Embedded default (no download): a camera moving down a corridor made of textured planes
(floor, ceiling, two walls, an end wall) with boxes standing on the floor, ray-cast
analytically in NumPy. Each example is a pair of frames (target t, source s = the frame the
camera saw a moment before), the exact target depth and the exact egomotion. Everything is
deterministic from a seed. Textures are crops of real photographs bundled with scikit-image
(`texture="photos"`, the default), split into disjoint training and test sets of photos so
test scenes never show a texture seen in training; `texture="procedural"` uses value noise.

Conventions (shared with `aign_tf.renderers.view_synthesis`): camera x right, y down, z
forward; depth is z (scene units, metres-like: the camera is ~1.5 units above the floor);
pixel (x, y) = (column, row), integers at pixel centres; intrinsics (f_x, f_y, c_x, c_y) in
pixels; egomotion (t_x, t_y, t_z, r_x, r_y, r_z) maps target-camera points into the source
camera, P_s = R P_t + t with R = R_z R_y R_x (Euler angles, radians). With camera-to-world
poses T_t, T_s (4x4), the egomotion is T_s^{-1} T_t.

Real formats (tested on tiny files the tests write):
- KITTI raw: `<root>/<date>/<date>_drive_<n>_sync/image_02/data/*.png` with
  `<root>/<date>/calib_cam_to_cam.txt` (`P_rect_02:` gives the intrinsics).
- The SfMLearner dump: `<root>/<folder>/<name>.jpg|png` = frames side by side,
  `<root>/<folder>/<name>_cam.txt` = 9 values of K (row-major), `<root>/train.txt` /
  `val.txt` = lines "<folder> <name>".
- Pose files: TUM (`timestamp tx ty tz qx qy qz qw` per line, camera-to-world) and KITTI
  odometry (12 values per line, the top 3x4 of a camera-to-world matrix).
"""

import functools
import math
import os
import time

from absl import logging
import numpy as np

from aign_tf import errors
from aign_tf.core import imaging

# Default resolution: KITTI's aspect ratio (~3:1) at a size where the 2-core CPU trains
# several steps per second (64 x 192 is 1/4.3 of the usual 128 x 416).
HEIGHT = 64
WIDTH = 192


# Rotations (NumPy, same convention as tensorflow_graphics.rotation_matrix_3d.from_euler) ----

def euler_to_matrix(angles):
  """`[..., 3]` Euler angles (r_x, r_y, r_z) -> `[..., 3, 3]` R = R_z R_y R_x."""
  angles = np.asarray(angles, np.float64)
  sx, sy, sz = np.sin(angles[..., 0]), np.sin(angles[..., 1]), np.sin(angles[..., 2])
  cx, cy, cz = np.cos(angles[..., 0]), np.cos(angles[..., 1]), np.cos(angles[..., 2])
  rows = [
      [cy * cz, sx * sy * cz - cx * sz, cx * sy * cz + sx * sz],
      [cy * sz, sx * sy * sz + cx * cz, cx * sy * sz - sx * cz],
      [-sy, sx * cy, cx * cy],
  ]
  return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def matrix_to_euler(matrix):
  """`[..., 3, 3]` rotation -> `[..., 3]` (r_x, r_y, r_z) with R = R_z R_y R_x."""
  matrix = np.asarray(matrix, np.float64)
  ry = -np.arcsin(np.clip(matrix[..., 2, 0], -1.0, 1.0))
  rx = np.arctan2(matrix[..., 2, 1], matrix[..., 2, 2])
  rz = np.arctan2(matrix[..., 1, 0], matrix[..., 0, 0])
  return np.stack([rx, ry, rz], axis=-1)


def quaternion_to_matrix(quaternion):
  """`[..., 4]` (q_x, q_y, q_z, q_w) -> `[..., 3, 3]` (normalised first)."""
  q = np.asarray(quaternion, np.float64)
  q = q / np.linalg.norm(q, axis=-1, keepdims=True)
  x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
  rows = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
          [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
          [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
  return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def relative_egomotion(target_pose, source_pose):
  """Egomotion `[..., 6]` from camera-to-world poses `[..., 4, 4]`: T_s^{-1} T_t."""
  target_pose = np.asarray(target_pose, np.float64)
  source_pose = np.asarray(source_pose, np.float64)
  r_s = source_pose[..., :3, :3]
  rotation = np.swapaxes(r_s, -1, -2) @ target_pose[..., :3, :3]
  translation = np.einsum("...ji,...j->...i", r_s,
                          target_pose[..., :3, 3] - source_pose[..., :3, 3])
  return np.concatenate([translation, matrix_to_euler(rotation)], axis=-1).astype(np.float32)


def default_intrinsics(height, width):
  """(f_x, f_y, c_x, c_y): square pixels, horizontal field of view ~85 degrees, centred."""
  focal = 0.55 * width
  return np.array([focal, focal, (width - 1) / 2.0, (height - 1) / 2.0], np.float32)


# Procedural textures ---------------------------------------------------------------------

_TEXTURE_SIZE = 128
_TEXEL = 0.1  # scene units per texel: a texture repeats every 12.8 units


def _smooth_noise(rng, size, cells):
  """Periodic value noise `[size, size]` in [0, 1] from a `cells` x `cells` lattice."""
  lattice = rng.random((cells, cells))
  coords = np.arange(size) * cells / size
  i0 = np.floor(coords).astype(int)
  f = coords - i0
  f = f * f * (3 - 2 * f)
  i1 = (i0 + 1) % cells
  rows = lattice[i0] * (1 - f)[:, None] + lattice[i1] * f[:, None]
  return rows[:, i0] * (1 - f)[None, :] + rows[:, i1] * f[None, :]


def procedural_texture(rng, size=_TEXTURE_SIZE):
  """A random colour texture `[size, size, 3]` float in [0, 1]: noise octaves + a pattern."""
  value = (0.5 * _smooth_noise(rng, size, 4) + 0.3 * _smooth_noise(rng, size, 8)
           + 0.2 * _smooth_noise(rng, size, 16))
  pattern = rng.integers(3)
  if pattern == 1:  # Stripes.
    period = rng.choice([8, 16])
    value = 0.6 * value + 0.4 * (np.arange(size)[None, :] % period < period // 2)
  elif pattern == 2:  # Checks.
    period = rng.choice([8, 16])
    grid = np.arange(size) % period < period // 2
    value = 0.6 * value + 0.4 * (grid[:, None] ^ grid[None, :])
  base = rng.uniform(0.15, 0.9, size=3)
  tint = rng.uniform(0.1, 0.5, size=3)
  texture = base[None, None] * (0.45 + 0.55 * value[..., None]) + tint * (value[..., None] - 0.5)
  return np.clip(texture, 0.0, 1.0)


def periodic_texture(rng, size=_TEXTURE_SIZE):
  """A high-contrast repeating pattern `[size, size, 3]` (stripes or checks with a period of
  4-8 texels, 0.4-0.8 scene units, and a little noise): nearby periods look alike, so
  matching between the frames is ambiguous (the "repeated" test condition)."""
  period = int(rng.choice([4, 6, 8]))
  grid = np.arange(size) % period < period // 2
  pattern = grid[None, :] if rng.random() < 0.5 else grid[:, None] ^ grid[None, :]
  value = 0.85 * np.broadcast_to(pattern, (size, size)) + 0.15 * _smooth_noise(rng, size, 8)
  dark, light = rng.uniform(0.05, 0.35, size=3), rng.uniform(0.6, 0.95, size=3)
  return dark[None, None] + (light - dark)[None, None] * value[..., None]


# Scene conditions of the extra test splits (`generate_pairs(condition=...)`): what real
# indoor and street video has and the photometric loss cannot resolve on its own.
CONDITIONS = ("textureless", "repeated", "occlusions")
# Surfaces made uniform in the "textureless" condition: ceiling, side walls, end wall (the
# floor and the boxes keep their texture, so there is still something to match).
_TEXTURELESS_SURFACES = (1, 2, 3, 4)


def check_condition(condition):
  """Raises ConfigError unless `condition` is None or one of `CONDITIONS`."""
  if condition is not None and condition not in CONDITIONS:
    raise errors.ConfigError(f"scene condition must be None or one of {CONDITIONS}, got "
                             f"{condition!r}")


# scikit-image's bundled photographs (no download), split so that test scenes use photos
# that never appear in training scenes.
PHOTO_SPLITS = {
    "train": ("astronaut", "brick", "camera", "coffee", "grass", "rocket", "coins",
              "hubble_deep_field", "immunohistochemistry", "page"),
    "test": ("chelsea", "gravel", "clock", "moon", "cell"),
}


@functools.lru_cache(maxsize=None)
def photo_textures(split="train"):
  """The photographs of a split, a tuple of float `[h, w, 3]` arrays in [0, 1] (read once
  per process).

  Raises:
    errors.ConfigError: unknown split, or scikit-image is not installed.
  """
  if split not in PHOTO_SPLITS:
    raise errors.ConfigError(f"photo split must be one of {sorted(PHOTO_SPLITS)}, got "
                             f"{split!r}")
  try:
    from skimage import data as skdata  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.ConfigError(
        "texture='photos' needs scikit-image (pip install scikit-image), or set "
        "sfm_sources.Procedural.texture = 'procedural'") from e
  photos = []
  for name in PHOTO_SPLITS[split]:
    image = np.asarray(getattr(skdata, name)(), np.float64)
    if image.max() > 1.0:
      image = image / 255.0
    if image.ndim == 2:
      image = np.stack([image] * 3, axis=-1)
    photos.append(image[..., :3])
  return tuple(photos)


def photo_texture(rng, photos, size=_TEXTURE_SIZE):
  """A random `size` x `size` crop of a random photo (strided so it covers more content),
  grey photos tinted with a random colour."""
  photo = photos[rng.integers(len(photos))]
  stride = max(1, min(photo.shape[0], photo.shape[1]) // (2 * size))
  y = rng.integers(0, photo.shape[0] - size * stride + 1)
  x = rng.integers(0, photo.shape[1] - size * stride + 1)
  crop = photo[y:y + size * stride:stride, x:x + size * stride:stride]
  tint = rng.uniform(0.5, 1.0, size=3)  # Drawn always: the random stream stays aligned.
  if np.allclose(crop[..., 0], crop[..., 1]) and np.allclose(crop[..., 1], crop[..., 2]):
    crop = crop * tint
  return crop


def _lookup(texture, u, v):
  """Bilinear, periodic texture lookup at surface coordinates (scene units)."""
  size = texture.shape[0]
  u, v = u / _TEXEL, v / _TEXEL
  u0, v0 = np.floor(u), np.floor(v)
  a, b = (u - u0)[..., None], (v - v0)[..., None]
  u0 = u0.astype(np.int64) % size
  v0 = v0.astype(np.int64) % size
  u1, v1 = (u0 + 1) % size, (v0 + 1) % size
  return ((1 - a) * (1 - b) * texture[v0, u0] + a * (1 - b) * texture[v0, u1]
          + (1 - a) * b * texture[v1, u0] + a * b * texture[v1, u1])


# Scenes ----------------------------------------------------------------------------------

def _box_hit(origin, directions, lo, hi, best_t):
  """(hit `[N]`, entry parameter `[N]`) of rays against an axis-aligned box [lo, hi] (the slab
  method): hit where the ray enters the box in front of the origin, before `best_t`."""
  t1 = (lo[None] - origin[None]) / directions
  t2 = (hi[None] - origin[None]) / directions
  t_near = np.nanmax(np.minimum(t1, t2), axis=1)
  t_far = np.nanmin(np.maximum(t1, t2), axis=1)
  return (t_near <= t_far) & (t_near > 1e-6) & (t_near < best_t), t_near


class Scene:
  """A corridor along +z: floor, ceiling, side walls, an end wall and boxes on the floor.

  Surfaces are axis-aligned, so rays are intersected analytically (planes: one division;
  boxes: the slab method).
  """

  def __init__(self, rng, texture="photos", photos=None, condition=None):
    check_condition(condition)
    self.floor_y = rng.uniform(1.2, 1.8)        # y is down: the floor is below the camera.
    self.ceiling_y = -rng.uniform(1.5, 3.5)
    self.left_x = -rng.uniform(2.5, 5.0)
    self.right_x = rng.uniform(2.5, 5.0)
    self.end_z = rng.uniform(15.0, 30.0)
    boxes = []
    for _ in range(rng.integers(3, 8)):
      side = rng.choice([-1.0, 1.0])
      wall = self.left_x if side < 0 else self.right_x
      # Boxes stand against a wall and reach at most 0.9 into the corridor; the camera
      # keeps 1 unit from the walls, so it is never inside one.
      inner = wall - side * rng.uniform(0.3, 0.9)
      x_lo, x_hi = sorted([inner, wall])
      z_lo = rng.uniform(3.0, self.end_z - 2.0)
      height = rng.uniform(0.5, self.floor_y - self.ceiling_y - 0.2)
      boxes.append((np.array([x_lo, self.floor_y - height, z_lo]),
                    np.array([x_hi, self.floor_y, z_lo + rng.uniform(0.5, 3.0)])))
    # The extra random draws of a condition come after the standard scene's, so the standard
    # scenes (condition None) are unchanged.
    if condition == "occlusions":
      # Free-standing pillars across the corridor, beyond where the cameras can be (the
      # target camera is at z < 4 and the source behind it): near ones hide far ones, and
      # what one frame sees behind a pillar the other does not.
      for _ in range(rng.integers(6, 11)):
        x = rng.uniform(self.left_x + 0.3, self.right_x - 0.3)
        z = rng.uniform(5.0, self.end_z - 1.5)
        half_x, half_z = rng.uniform(0.1, 0.3), rng.uniform(0.1, 0.3)
        top = self.floor_y - rng.uniform(1.0, self.floor_y - self.ceiling_y)
        boxes.append((np.array([x - half_x, top, z - half_z]),
                      np.array([x + half_x, self.floor_y, z + half_z])))
    self.boxes = boxes
    # One texture per surface: 5 planes, then one per box.
    if texture is None:  # Depth only: no textures needed.
      self.textures = None
      return
    if texture == "photos" and photos:
      make = lambda: photo_texture(rng, photos)
    else:
      make = lambda: procedural_texture(rng)
    self.textures = [make() for _ in range(5 + len(boxes))]
    if condition == "textureless":
      # A 1 x 1 texture: one colour (the texture's mean) over the whole surface.
      for index in _TEXTURELESS_SURFACES:
        self.textures[index] = self.textures[index].mean(axis=(0, 1), keepdims=True)
    elif condition == "repeated":
      self.textures = [periodic_texture(rng) for _ in self.textures]

  def cast(self, origin, directions, shade=True):
    """Ray-casts `[N, 3]` world directions from `origin`.

    Returns:
      (ray parameter t `[N]`, colours `[N, 3]` or None), hits at origin + t * direction.
    """
    n = directions.shape[0]
    best_t = np.full(n, np.inf)
    surface = np.full(n, -1)
    # Planes: (axis, value) -> hit where origin[axis] + t d[axis] = value.
    planes = [(1, self.floor_y), (1, self.ceiling_y), (0, self.left_x), (0, self.right_x),
              (2, self.end_z)]
    with np.errstate(divide="ignore", invalid="ignore"):
      for index, (axis, value) in enumerate(planes):
        t = (value - origin[axis]) / directions[:, axis]
        hit = (t > 1e-6) & (t < best_t)
        best_t = np.where(hit, t, best_t)
        surface = np.where(hit, index, surface)
      for index, (lo, hi) in enumerate(self.boxes):
        hit, t_near = _box_hit(origin, directions, lo, hi, best_t)
        best_t = np.where(hit, t_near, best_t)
        surface = np.where(hit, 5 + index, surface)
    if not shade:
      return best_t, None
    points = origin[None] + best_t[:, None] * directions
    colours = np.zeros((n, 3))
    for index, texture in enumerate(self.textures):
      mask = surface == index
      if not mask.any():
        continue
      p = points[mask]
      if index < 2:      # Floor / ceiling: (x, z).
        u, v = p[:, 0], p[:, 2]
      elif index < 4:    # Side walls: (z, y).
        u, v = p[:, 2], p[:, 1]
      elif index == 4:   # End wall: (x, y).
        u, v = p[:, 0], p[:, 1]
      else:              # Boxes: pick the face from the hit position.
        lo, hi = self.boxes[index - 5]
        on_x = np.minimum(np.abs(p[:, 0] - lo[0]), np.abs(p[:, 0] - hi[0])) < 1e-4
        u = np.where(on_x, p[:, 2], p[:, 0])
        v = p[:, 1] + np.where(on_x, 0.0, 7.3)
      shading = 1.0 - 0.12 * (index % 5)  # Different surfaces differ in brightness.
      colours[mask] = shading * _lookup(texture, u, v)
    return best_t, colours


def camera_rays(height, width, intrinsics, offsets=((0.0, 0.0),)):
  """Camera-frame ray directions with z = 1, `[len(offsets), H * W, 3]`."""
  fx, fy, cx, cy = intrinsics
  ys, xs = np.meshgrid(np.arange(height, dtype=np.float64),
                       np.arange(width, dtype=np.float64), indexing="ij")
  rays = []
  for dx, dy in offsets:
    rays.append(np.stack([(xs + dx - cx) / fx, (ys + dy - cy) / fy, np.ones_like(xs)],
                         axis=-1).reshape(-1, 3))
  return np.stack(rays)


_SUPERSAMPLE = ((-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25))


def render_view(scene, pose, height, width, intrinsics, shade=True):
  """Renders a camera-to-world `pose` `[4, 4]`.

  Returns:
    (image `[H, W, 3]` float in [0, 1] or None, depth `[H, W]` float: z in the camera).
  The image averages 4 sub-pixel rays (anti-aliasing); depth is that of the centre ray.
  """
  rotation, origin = pose[:3, :3], pose[:3, 3]
  # With camera rays of z = 1 the ray parameter is the depth itself.
  centre = camera_rays(height, width, intrinsics)[0]
  depth, _ = scene.cast(origin, centre @ rotation.T, shade=False)
  image = None
  if shade:
    colours = 0.0
    for rays in camera_rays(height, width, intrinsics, _SUPERSAMPLE):
      colours = colours + scene.cast(origin, rays @ rotation.T)[1]
    image = (colours / len(_SUPERSAMPLE)).reshape(height, width, 3)
  return image, depth.reshape(height, width)


def _pose(position, angles):
  pose = np.eye(4)
  pose[:3, :3] = euler_to_matrix(angles)
  pose[:3, 3] = position
  return pose


def sample_poses(rng, scene):
  """A target camera pose in the corridor and the source pose a moment earlier."""
  position = np.array([rng.uniform(scene.left_x + 1.0, scene.right_x - 1.0),
                       rng.uniform(-0.2, 0.2), rng.uniform(0.0, 4.0)])
  angles = np.array([rng.uniform(-0.05, 0.05), rng.uniform(-0.2, 0.2), rng.uniform(-0.03, 0.03)])
  target = _pose(position, angles)
  # The camera moved forward (along its own z) with a little sideways drift and turning.
  step = np.array([rng.uniform(-0.1, 0.1), rng.uniform(-0.04, 0.04), rng.uniform(0.3, 1.0)])
  source_position = position - target[:3, :3] @ step
  source_angles = angles - np.array([rng.uniform(-0.02, 0.02), rng.uniform(-0.05, 0.05),
                                     rng.uniform(-0.01, 0.01)])
  return target, _pose(source_position, source_angles)


def _log_progress(what, done, total, start):
  """One log line per ~10% of a long generation, with the rate."""
  if total >= 20 and (done == total or done % max(1, total // 10) == 0):
    seconds = time.time() - start
    logging.info("%s: %d/%d (%.1f/s, %.0f s left)", what, done, total, done / seconds,
                 (total - done) * seconds / done)


def _render_pair(seed, index, height, width, texture, split, condition=None):
  """Example `index` of a pair set: a function of (seed, index) only, so the examples can be
  made in any order and by any process."""
  rng = np.random.default_rng([seed, index])
  photos = photo_textures(split) if texture == "photos" else None
  intrinsics = default_intrinsics(height, width)
  scene = Scene(rng, texture, photos, condition)
  target_pose, source_pose = sample_poses(rng, scene)
  target, depth = render_view(scene, target_pose, height, width, intrinsics)
  source, _ = render_view(scene, source_pose, height, width, intrinsics)
  return (np.round(target * 255).astype(np.uint8), np.round(source * 255).astype(np.uint8),
          depth[..., None].astype(np.float32), relative_egomotion(target_pose, source_pose))


def _render_memory(seed, index, height, width):
  rng = np.random.default_rng([seed, index])
  scene = Scene(rng, texture=None)
  target_pose, _ = sample_poses(rng, scene)
  depth = render_view(scene, target_pose, height, width, default_intrinsics(height, width),
                      shade=False)[1]
  return (depth[..., None].astype(np.float32),)


def _worker_count(num_examples):
  """Processes for ray-casting: the CPUs this process may use, 1 for small jobs."""
  try:
    cpus = len(os.sched_getaffinity(0))
  except AttributeError:
    cpus = os.cpu_count() or 1
  return max(1, min(cpus, num_examples // 50))


def _render_all(what, fn, num_examples, args, workers=None):
  """[fn(*args[:1], i, *args[1:]) for i in range(num_examples)], in worker processes when
  it pays off, with progress lines; returns a list of tuples of arrays."""
  seed, rest = args[0], args[1:]
  workers = _worker_count(num_examples) if workers is None else workers
  start = time.time()
  results = []
  if workers <= 1:
    for i in range(num_examples):
      results.append(fn(seed, i, *rest))
      _log_progress(what, i + 1, num_examples, start)
    return results
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  import multiprocessing  # pylint: disable=g-import-not-at-top
  # "spawn": the workers import only NumPy code (forking a process that runs TensorFlow's
  # threads is not safe).
  context = multiprocessing.get_context("spawn")
  with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
    chunk = max(1, min(25, num_examples // (4 * workers)))
    for i, result in enumerate(pool.map(fn, [seed] * num_examples, range(num_examples),
                                        *[[r] * num_examples for r in rest],
                                        chunksize=chunk)):
      results.append(result)
      _log_progress(what, i + 1, num_examples, start)
  return results


def generate_pairs(num_examples, height=HEIGHT, width=WIDTH, seed=0, texture="photos",
                   split="train", workers=None, condition=None):
  """Procedural frame pairs with exact target depth and egomotion.

  Args:
    num_examples: number of pairs (one scene each).
    height, width: image size in pixels.
    seed: everything is a deterministic function of it (example i of (seed, i) alone, so
      the result does not depend on `workers`).
    texture: "photos" (scikit-image's photographs of `split`) or "procedural".
    split: "train" or "test": which photos the textures come from (disjoint sets).
    workers: processes that ray-cast (default: one per available CPU for large sets).
    condition: None (the standard corridors) or one of `CONDITIONS`: "textureless"
      (ceiling and walls of one colour each), "repeated" (every surface a fine repeating
      pattern), "occlusions" (6-10 extra free-standing pillars).

  Returns:
    dict of NumPy arrays: "target_frame" and "source_frame" `[N, H, W, 3]` uint8, "depth"
    `[N, H, W, 1]` float32 (target frame), "egomotion" `[N, 6]` float32 (target -> source),
    "intrinsics" `[N, 4]` float32.
  """
  if texture not in ("procedural", "photos"):
    raise errors.ConfigError(f"texture must be 'procedural' or 'photos', got {texture!r}")
  if texture == "photos":
    photo_textures(split)  # Fails early (and clearly) without scikit-image.
  check_condition(condition)  # Before any worker starts.
  what = f"ray-casting {split} pairs" + (f" ({condition})" if condition else "")
  results = _render_all(what, _render_pair, num_examples,
                        (seed, height, width, texture, split, condition), workers)
  names = ("target_frame", "source_frame", "depth", "egomotion")
  out = {name: np.stack([r[k] for r in results]) if results else
         np.zeros((0,) + shape, dtype)
         for k, (name, shape, dtype) in enumerate(zip(
             names, [(height, width, 3), (height, width, 3), (height, width, 1), (6,)],
             [np.uint8, np.uint8, np.float32, np.float32]))}
  out["intrinsics"] = np.tile(default_intrinsics(height, width)[None], (num_examples, 1))
  return out


def generate_depth_memory(num_examples, height=HEIGHT, width=WIDTH, seed=1, workers=None):
  """Depth maps `[N, H, W, 1]` of procedural scenes (no shading: cheap)."""
  results = _render_all("ray-casting memory depth maps", _render_memory, num_examples,
                        (seed, height, width), workers)
  if not results:
    return np.zeros((0, height, width, 1), np.float32)
  return np.stack([r[0] for r in results])


# Road scenes (a depth memory for street and highway video) ------------------------------

# Depth of the sky (and of anything beyond the modelled road): far for a camera that sees
# 5-100 units of road, and finite, as a memory must be.
ROAD_SKY_DEPTH = 300.0
_LANE_WIDTH = 3.7  # metres, as on motorways


class RoadScene:
  """A straight road along +z seen from a car's camera: the road plane, a barrier on one
  side, a slope, trees or buildings on the other, cars in the lanes and the sky (depth
  `ROAD_SKY_DEPTH`). Units are metres. Depth only (no textures): a memory of road depth maps,
  so that a depth discriminator has a prior of the right kind of scene for a drive (the
  corridor memory would pull a road's depth toward a corridor's).
  """

  def __init__(self, rng):
    self.road_y = rng.uniform(1.1, 1.7)   # Camera height above the road (y is down).
    lanes_left = int(rng.integers(0, 3))
    lanes_right = int(rng.integers(0, 3))
    lane = lambda k: k * _LANE_WIDTH
    boxes = []
    # Left: a barrier (a low wall along the road) beyond the last lane, sometimes a slope
    # or wall behind it.
    left = -lane(lanes_left) - _LANE_WIDTH / 2 - rng.uniform(0.5, 3.0)
    barrier = rng.uniform(0.7, 1.3)
    boxes.append((np.array([left - 0.4, self.road_y - barrier, 0.0]),
                  np.array([left, self.road_y, 1000.0])))
    # Right: roadside objects (trees, embankment, buildings) in segments of random height,
    # some of them gaps.
    right = lane(lanes_right) + _LANE_WIDTH / 2 + rng.uniform(1.0, 12.0)
    z = rng.uniform(0.0, 10.0)
    while z < 250.0:
      length = rng.uniform(5.0, 40.0)
      if rng.uniform() < 0.8:
        height = rng.uniform(2.0, 15.0)
        depth = rng.uniform(2.0, 20.0)
        near = right + rng.uniform(0.0, 4.0)
        boxes.append((np.array([near, self.road_y - height, z]),
                      np.array([near + depth, self.road_y, z + length])))
      z += length
    # Cars (1.8 wide, 1.5 high, 4.5 long) in the lanes ahead.
    for _ in range(int(rng.integers(0, 6))):
      k = int(rng.integers(-lanes_left, lanes_right + 1))
      x = lane(k) + rng.uniform(-0.4, 0.4)
      z0 = rng.uniform(6.0, 90.0)
      boxes.append((np.array([x - 0.9, self.road_y - 1.5, z0]),
                    np.array([x + 0.9, self.road_y, z0 + 4.5])))
    # Hills on the horizon: a far wall across the road, of random height.
    horizon = rng.uniform(150.0, 280.0)
    hills = rng.uniform(0.0, 30.0)
    boxes.append((np.array([-1000.0, self.road_y - hills, horizon]),
                  np.array([1000.0, self.road_y, horizon + 1.0])))
    self.boxes = boxes
    self.textures = None

  def cast(self, origin, directions, shade=False):
    """Ray parameter `[N]` of `[N, 3]` world directions from `origin` (depth only; rays that
    hit nothing end at `ROAD_SKY_DEPTH` along the camera's axis)."""
    if shade:
      raise ValueError("RoadScene is depth only (shade=False)")
    best_t = np.full(directions.shape[0], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
      t = (self.road_y - origin[1]) / directions[:, 1]
      best_t = np.where(t > 1e-6, t, best_t)
      for lo, hi in self.boxes:
        hit, t_near = _box_hit(origin, directions, lo, hi, best_t)
        best_t = np.where(hit, t_near, best_t)
    return np.minimum(best_t, ROAD_SKY_DEPTH), None


def road_intrinsics(height, width, fov_degrees):
  """(f_x, f_y, c_x, c_y): square pixels, a horizontal field of view, centred."""
  if not 1.0 <= fov_degrees <= 170.0:
    raise errors.ConfigError(f"road memory: fov_degrees must be in [1, 170], got "
                             f"{fov_degrees}")
  focal = (width / 2.0) / math.tan(math.radians(fov_degrees) / 2.0)
  return np.array([focal, focal, (width - 1) / 2.0, (height - 1) / 2.0], np.float32)


def _render_road(seed, index, height, width, intrinsics):
  rng = np.random.default_rng([seed, index])
  scene = RoadScene(rng)
  # In a lane, looking down the road: small pitch, yaw and roll.
  angles = np.array([rng.uniform(-0.04, 0.04), rng.uniform(-0.06, 0.06),
                     rng.uniform(-0.02, 0.02)])
  pose = _pose(np.array([rng.uniform(-0.5, 0.5), 0.0, 0.0]), angles)
  depth = render_view(scene, pose, height, width, np.asarray(intrinsics, np.float32),
                      shade=False)[1]
  return (depth[..., None].astype(np.float32),)


def generate_road_memory(num_examples, height=HEIGHT, width=WIDTH, seed=0, fov_degrees=60.0,
                         workers=None, intrinsics=None, mirror=False):
  """Depth maps `[N, H, W, 1]` of procedural roads (`RoadScene`), in metres, seen through a
  camera of horizontal field of view `fov_degrees` with a centred principal point, or through
  `intrinsics` (f_x, f_y, c_x, c_y in pixels of `height x width`, checked by the caller:
  `sfm_samples.road_depth_memory`; overrides the field of view). Match the video's camera at
  the training size: where its horizon sits matters (a dashcam whose bonnet was cropped off
  sees the horizon below the middle of the frame).

  The scenes have the barrier on the left and the roadside on the right; `mirror` flips every
  second map left-right (as if seen through the mirrored camera), for a task whose training
  pairs are mirrored (`tasks.SfmTask.flip_augmentation`), so that the memory is no easier to
  tell from the predictions by its sides."""
  if intrinsics is None:
    intrinsics = road_intrinsics(height, width, fov_degrees)  # Checks the field of view.
  results = _render_all("ray-casting road depth maps", _render_road, num_examples,
                        (seed, height, width, tuple(float(v) for v in intrinsics)), workers)
  if not results:
    return np.zeros((0, height, width, 1), np.float32)
  maps = np.stack([r[0] for r in results])
  if mirror:
    maps[1::2] = maps[1::2, :, ::-1]
  return maps


# Snippets (short trajectories, for the ATE of Zhou et al. 2017) ---------------------------

# The camera keeps this far from the side walls (boxes reach at most 0.9 into the corridor),
# the floor and ceiling, and the end wall.
_WALL_MARGIN = 1.0
_FLOOR_MARGIN = 0.5
_END_MARGIN = 2.0


def next_pose(rng, pose, scene=None):
  """The camera-to-world pose `[4, 4]` a moment after `pose`.

  The motion has the statistics of `sample_poses` (its source -> target step), with the same
  random draws in the same order: the Euler angles change by (U(-0.02, 0.02),
  U(-0.05, 0.05), U(-0.01, 0.01)), then the camera moves by (U(-0.1, 0.1), U(-0.04, 0.04),
  U(0.3, 1.0)) along the axes of its new orientation (mostly forward, a little drift). With
  `scene`, the new position is clipped to stay 1 unit inside the side walls, 0.5 from floor
  and ceiling and 2 before the end wall (the camera stops there).
  """
  pose = np.asarray(pose, np.float64)
  angles = matrix_to_euler(pose[:3, :3])
  step = np.array([rng.uniform(-0.1, 0.1), rng.uniform(-0.04, 0.04), rng.uniform(0.3, 1.0)])
  angles = angles + np.array([rng.uniform(-0.02, 0.02), rng.uniform(-0.05, 0.05),
                              rng.uniform(-0.01, 0.01)])
  position = pose[:3, 3] + euler_to_matrix(angles) @ step
  if scene is not None:
    position = np.clip(
        position,
        [scene.left_x + _WALL_MARGIN, scene.ceiling_y + _FLOOR_MARGIN, -np.inf],
        [scene.right_x - _WALL_MARGIN, scene.floor_y - _FLOOR_MARGIN,
         max(pose[2, 3], scene.end_z - _END_MARGIN)])
  return _pose(position, angles)


def sample_trajectory(rng, scene, length):
  """`length` consecutive camera-to-world poses `[length, 4, 4]` in `scene`: the first is
  drawn like `sample_poses`' target, each next one by `next_pose`."""
  position = np.array([rng.uniform(scene.left_x + 1.0, scene.right_x - 1.0),
                       rng.uniform(-0.2, 0.2), rng.uniform(0.0, 4.0)])
  angles = np.array([rng.uniform(-0.05, 0.05), rng.uniform(-0.2, 0.2), rng.uniform(-0.03, 0.03)])
  poses = [_pose(position, angles)]
  for _ in range(length - 1):
    poses.append(next_pose(rng, poses[-1], scene))
  return np.stack(poses)


def _render_snippet(seed, index, length, height, width, texture, split):
  """Snippet `index` of a snippet set: a function of (seed, index) only (see
  `_render_pair`)."""
  rng = np.random.default_rng([seed, index])
  photos = photo_textures(split) if texture == "photos" else None
  intrinsics = default_intrinsics(height, width)
  scene = Scene(rng, texture, photos)
  poses = sample_trajectory(rng, scene, length)
  frames = [render_view(scene, pose, height, width, intrinsics)[0] for pose in poses]
  return np.round(np.stack(frames) * 255).astype(np.uint8), poses


def generate_snippets(num_snippets, length=5, height=HEIGHT, width=WIDTH, seed=0,
                      texture="photos", split="test", workers=None):
  """Procedural snippets: `length` consecutive frames of a camera moving down a corridor.

  Consecutive frames move like the pairs of `generate_pairs` (`next_pose`); the frames of a
  snippet share one scene. Zhou et al. 2017 evaluate egomotion on 5-frame snippets
  (`aign_tf.tasks.sfm_metrics.ate_metrics`).

  Args:
    num_snippets: number of snippets (one scene each).
    length: frames per snippet, >= 2.
    height, width, seed, texture, split, workers: as `generate_pairs` (snippet i is a
      function of (seed, i) alone).

  Returns:
    dict of NumPy arrays: "frames" `[N, L, H, W, 3]` uint8, "poses" `[N, L, 4, 4]` float64
    camera-to-world, "intrinsics" `[N, 4]` float32.

  Raises:
    errors.ConfigError: `length` < 2 or an unknown texture.
  """
  if length < 2:
    raise errors.ConfigError(f"generate_snippets: length must be >= 2, got {length}")
  if texture not in ("procedural", "photos"):
    raise errors.ConfigError(f"texture must be 'procedural' or 'photos', got {texture!r}")
  if texture == "photos":
    photo_textures(split)  # Fails early (and clearly) without scikit-image.
  results = _render_all(f"ray-casting {split} snippets", _render_snippet, num_snippets,
                        (seed, length, height, width, texture, split), workers)
  if results:
    frames = np.stack([r[0] for r in results])
    poses = np.stack([r[1] for r in results])
  else:
    frames = np.zeros((0, length, height, width, 3), np.uint8)
    poses = np.zeros((0, length, 4, 4))
  return {"frames": frames, "poses": poses,
          "intrinsics": np.tile(default_intrinsics(height, width)[None], (num_snippets, 1))}


# Real formats ----------------------------------------------------------------------------

def _resize(image, height, width):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  if image.shape[:2] == (height, width):
    return image
  return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


# Bilinear resizing for the other real-format modules (`aign_tf.data.kitti`,
# `aign_tf.data.frames`).
resize_image = _resize


def scale_intrinsics(intrinsics, from_size, to_size):
  """Rescales (f_x, f_y, c_x, c_y) from image size (h, w) to (h', w') (pixel centres)."""
  (h, w), (h2, w2) = from_size, to_size
  sx, sy = w2 / w, h2 / h
  fx, fy, cx, cy = np.asarray(intrinsics, np.float64)
  return np.array([fx * sx, fy * sy, (cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5],
                  np.float32)


def read_sfmlearner_intrinsics(path):
  """K from an SfMLearner `<name>_cam.txt` (9 values, commas or spaces) -> (fx, fy, cx, cy)."""
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: intrinsics file not found")
  with open(path) as f:
    text = f.read().replace(",", " ").split()
  try:
    values = np.array([float(v) for v in text])
  except ValueError as e:
    raise errors.DataError(f"{path}: intrinsics are not numeric") from e
  if values.size != 9:
    raise errors.DataError(f"{path}: expected 9 intrinsics values (3x3 K), got {values.size}")
  k = values.reshape(3, 3)
  return np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]], np.float32)


def load_sfmlearner(root, split="train", height=HEIGHT, width=WIDTH, seq_length=3):
  """Pairs from an SfMLearner dump: the middle frame is the target, the one before it the
  source. Intrinsics are scaled from the dump's frame size to (height, width).

  Raises:
    errors.DataError: missing list file, image, intrinsics, or a width not divisible by
      `seq_length`.
  """
  list_path = os.path.join(root, f"{split}.txt")
  if not os.path.isfile(list_path):
    raise errors.DataError(f"{list_path}: split list not found")
  with open(list_path) as f:
    entries = [line.split() for line in f if line.strip()]
  if not entries:
    raise errors.DataError(f"{list_path}: no entries")
  out = {"target_frame": [], "source_frame": [], "intrinsics": []}
  middle = seq_length // 2
  for number, entry in enumerate(entries, 1):
    if len(entry) != 2:
      raise errors.DataError(f"{list_path}:{number}: expected '<folder> <name>', got "
                             f"{' '.join(entry)!r}")
    folder, name = entry
    stem = os.path.join(root, folder, name)
    image_path = next((stem + ext for ext in (".jpg", ".png") if os.path.isfile(stem + ext)),
                      None)
    if image_path is None:
      raise errors.DataError(f"{stem}.jpg: image not found (listed in {list_path})")
    strip = imaging.read_image(image_path)
    if strip.shape[1] % seq_length:
      raise errors.DataError(f"{image_path}: width {strip.shape[1]} is not a multiple of "
                             f"seq_length={seq_length}")
    frame_width = strip.shape[1] // seq_length
    frames = [strip[:, i * frame_width:(i + 1) * frame_width] for i in range(seq_length)]
    intrinsics = read_sfmlearner_intrinsics(stem + "_cam.txt")
    out["intrinsics"].append(scale_intrinsics(intrinsics, frames[0].shape[:2],
                                              (height, width)))
    out["target_frame"].append(_resize(frames[middle], height, width))
    out["source_frame"].append(_resize(frames[middle - 1], height, width))
  return {k: np.stack(v) for k, v in out.items()}


def _numeric_rows(path, expected, what):
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: pose file not found")
  rows = []
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip() or line.lstrip().startswith("#"):
        continue
      try:
        values = [float(v) for v in line.replace(",", " ").split()]
      except ValueError as e:
        raise errors.DataError(f"{path}:{number}: not numeric: {line.strip()!r}") from e
      if len(values) != expected:
        raise errors.DataError(f"{path}:{number}: {what} needs {expected} values, got "
                               f"{len(values)}")
      rows.append(values)
  if not rows:
    raise errors.DataError(f"{path}: no poses")
  return np.array(rows, np.float64)


def load_tum_poses(path):
  """TUM trajectory (`timestamp tx ty tz qx qy qz qw`) -> (timestamps `[N]`, poses `[N, 4, 4]`
  camera-to-world)."""
  rows = _numeric_rows(path, 8, "a TUM pose line (t tx ty tz qx qy qz qw)")
  if np.any(np.linalg.norm(rows[:, 4:], axis=1) < 1e-8):
    raise errors.DataError(f"{path}: a quaternion has zero norm")
  poses = np.tile(np.eye(4), (len(rows), 1, 1))
  poses[:, :3, :3] = quaternion_to_matrix(rows[:, 4:])
  poses[:, :3, 3] = rows[:, 1:4]
  return rows[:, 0], poses


def load_kitti_poses(path):
  """KITTI odometry poses (12 values per line, a row-major 3x4) -> `[N, 4, 4]`."""
  rows = _numeric_rows(path, 12, "a KITTI pose line (3x4 matrix)")
  poses = np.tile(np.eye(4), (len(rows), 1, 1))
  poses[:, :3, :] = rows.reshape(-1, 3, 4)
  return poses


def consecutive_egomotion(poses):
  """`[N, 4, 4]` poses -> `[N - 1, 6]` egomotion of pairs (target i, source i - 1)."""
  poses = np.asarray(poses)
  return relative_egomotion(poses[1:], poses[:-1])


def load_poses(path):
  """A pose file in TUM (8 columns) or KITTI (12 columns) format -> `[N, 4, 4]`."""
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: pose file not found")
  with open(path) as f:
    first = next((line for line in f if line.strip() and not line.startswith("#")), "")
  columns = len(first.replace(",", " ").split())
  if columns == 8:
    return load_tum_poses(path)[1]
  if columns == 12:
    return load_kitti_poses(path)
  raise errors.DataError(f"{path}: {columns} columns; expected 8 (TUM) or 12 (KITTI 3x4)")


def check_depth_memory(depth, where):
  """Raises DataError naming `where` (a file, a generator) unless every depth is finite and
  > 0, saying how many are NaN, infinite, zero or negative and in which map the first is.

  Returns:
    `depth`, unchanged.
  """
  depth = np.asarray(depth)
  if depth.size == 0:
    raise errors.DataError(f"{where}: the depth memory is empty")
  counts = {"NaN": int(np.isnan(depth).sum()), "infinite": int(np.isinf(depth).sum()),
            "zero or negative": int((depth <= 0).sum())}
  if not any(counts.values()):
    return depth
  bad = ~np.isfinite(depth) | (depth <= 0)
  maps = bad.reshape(len(depth), -1).any(axis=1)
  found = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
  raise errors.DataError(
      f"{where}: invalid depth memory: {found} depths in {int(maps.sum())} of "
      f"{len(depth)} maps (the first in map {int(np.argmax(maps))}); every depth must be "
      "finite and > 0 (depth along the optical axis, not disparity). Drop or fill those "
      "maps: sparse depth (LiDAR, 0 = unknown) is not a dense depth-map memory")


def load_depth_memory(path, height, width):
  """Depth maps from a .npy file `[N, H', W']` or `[N, H', W', 1]`, resized (nearest) to
  `[N, height, width, 1]` float32.

  Raises:
    errors.DataError: unreadable file, wrong shape, or a depth that is not finite and > 0
      (`check_depth_memory`, naming the file).
  """
  try:
    depth = np.load(path)
  except (OSError, ValueError) as e:
    raise errors.DataError(f"{path}: cannot read depth memory ({e})") from e
  if isinstance(depth, np.lib.npyio.NpzFile):  # An .npz: its one array.
    names = list(depth.keys())
    if len(names) != 1:
      raise errors.DataError(f"{path}: an .npz depth memory must hold one array, found "
                             f"{names}")
    depth = depth[names[0]]
  if depth.ndim == 4 and depth.shape[-1] == 1:
    depth = depth[..., 0]
  if depth.ndim != 3 or len(depth) == 0:
    raise errors.DataError(f"{path}: depth memory must be [N, H, W] or [N, H, W, 1], got "
                           f"shape {depth.shape}")
  check_depth_memory(depth, path)
  rows = ((np.arange(height) + 0.5) * depth.shape[1] / height).astype(int)
  cols = ((np.arange(width) + 0.5) * depth.shape[2] / width).astype(int)
  return depth[:, rows][:, :, cols][..., None].astype(np.float32)
