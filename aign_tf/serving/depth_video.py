"""A video or a folder of frames -> depth maps, a point cloud and the camera's trajectory,
from a trained sfm model (exported SavedModel or training directory).

`run` writes into `output_dir`:
  frames/<frame>.png   the frame as the model sees it (centre crop) | its depth colour map
                       (`imaging.depth_to_colour`: disparity normalised per frame, near =
                       bright, far = dark), side by side, enlarged to >= `DISPLAY_WIDTH` px
  depth.gif            those pictures as an animation (Pillow)
  depth.npz            "depth" float32 `[N, H, W]` at the model's size, "names" `[N]`,
                       "intrinsics" float32 `[4]` (model pixels), "egomotion" float32
                       `[N - 1, 6]` of the pairs (i, i - 1), "poses" float64 `[N, 4, 4]`
  points_<frame>.ply   frame `ply_frame`'s pixels as 3D points in its camera's coordinates,
                       coloured with the frame's RGB (binary little-endian or ASCII PLY)
  trajectory.txt       TUM format, one line per frame: `timestamp tx ty tz qx qy qz qw`, the
                       camera-to-first-camera pose (timestamps in seconds for a video with a
                       frame rate, else the frame index)
  trajectory.png       the camera positions seen from above (x-z) and from the side (z-y)
  summary.json         input, model, frames, intrinsics, crop and the files written

Frames. Each frame is centre-cropped to the model's aspect ratio (height / width of the
task: 64 x 192 for `gin/sfm.gin`) and resized bilinearly to the model's size
(`aign_tf.data.frames.center_crop_box`, `aign_tf.data.sfm.resize_image`), so nothing is
stretched; the pictures show that crop. Videos are decoded with PyAV, frame folders (in
natural name order: frame2 before frame10) with Pillow (`aign_tf.core.video`, as
`pose_video`).

Pairs. Frame i (i >= 1) is the target of the pair (i, i - 1), the source being the frame
before it, as in training; frame 0's depth comes from the pair (0, 1).

Intrinsics (f_x, f_y, c_x, c_y) in pixels of the ORIGINAL frames, pixel centres at integers:
`intrinsics` (e.g. `--intrinsics=fx,fy,cx,cy`), or an ideal camera with horizontal field of
view `fov_degrees` (default `DEFAULT_FOV_DEGREES` = 60, a phone's main camera or a webcam in
landscape: ~60-70), square pixels and the principal point at the centre. They follow the crop
and the resize (`frames.crop_intrinsics`, `sfm.scale_intrinsics`). Given intrinsics must be
finite and positive, put the principal point inside the frame and give a horizontal field of
view between 1 and 170 degrees.

Trajectory. The model's egomotion of a pair (target i, source i - 1) maps target-camera points
into the source camera: P_{i-1} = R P_i + t with R = R_z R_y R_x (Euler angles r_x, r_y, r_z
in radians; `aign_tf.renderers.view_synthesis`), i.e. E_i = T_{i-1}^{-1} T_i for camera-to-
world poses T. The camera-to-first-camera poses are therefore T_0^{-1} T_i = E_1 E_2 ... E_i
(`sfm_metrics.compose_egomotion`); frame 0 is at the origin with the identity rotation.
Camera axes: x right, y down, z forward.

Scale. A monocular model knows depth and translation up to one scale: the sfm model fixes it
by normalising each depth map (harmonic mean 5), so units are the model's, not metres, and
the scale may drift between frames. `median_depth` (e.g. `--median_depth=6.6`) rescales each
frame so its median depth is that value, with the pair's translation (whose target it is)
and its points: one constant per map, known without a label, e.g. the memory's median
depth (6.6 for `sfm.gin`'s procedural memory, in metres). On the procedural test scenes a
trained model (`sfm_aign_paired.gin`, seed 0) scaled this way is within 10% of the true
scale on 54% of the images (median error under 10%); fixing the mean depth instead did worse
on predictions (42%: a map's mean rests on its far pixels, the least accurate), although it
is the better statistic on true depth (`experiments/sfm_scale_statistics.py`). On the
user's scenes it is as right as the value given is typical of them.

Nothing is half-written: files go to a sibling folder that replaces `output_dir` at the end;
on an error it is removed and `output_dir` is left as it was.
"""

import json
import math
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

from aign_tf import errors
from aign_tf.core import files
from aign_tf.core import imaging
from aign_tf.core import video
from aign_tf.data import frames as frames_data
from aign_tf.data import sfm as sfm_data

DEFAULT_FOV_DEGREES = 60.0
DEFAULT_GIF_FPS = 10.0
DISPLAY_WIDTH = 384  # Pictures are enlarged by an integer factor to at least this width.
PLY_FORMATS = ("binary", "ascii")
SFM_INPUTS = ("target_frame", "source_frame", "intrinsics")
MAX_ARROWS = 30  # Viewing directions drawn in the trajectory plot (every k-th camera).
_GAP = 4  # Pixels between the frame and its depth map.
_ONE_MODEL = ("give the model as saved_model (an export, e.g. export/sfm/1) or model_dir (a "
              "training directory), exactly one")


# Inputs --------------------------------------------------------------------------------------

def parse_intrinsics(text, what="intrinsics"):
  """"fx,fy,cx,cy" (or a 4-sequence) -> float64 `[4]`, each value finite and > 0.

  Raises:
    errors.ConfigError: not 4 numbers, or a value not finite or not positive (named).
  """
  if isinstance(text, str):
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    if len(parts) != 4:
      raise errors.ConfigError(f"{what}: expected fx,fy,cx,cy (4 numbers, pixels of the "
                               f"original frames), got {text!r}")
    try:
      text = [float(p) for p in parts]
    except ValueError as e:
      raise errors.ConfigError(f"{what}: not numeric: {text!r}") from e
  return frames_data.check_intrinsics(text, what)


class Camera:
  """Crops and resizes frames of one size to the model's input, with their intrinsics.

  Attributes:
    box: (top, left, height, width) of the centre crop in the original frames.
    original: intrinsics of the original frames; `intrinsics`: of the model's input.
    display_size: (height, width) of the pictures' frame and depth panels.
  """

  def __init__(self, size, height, width, intrinsics=None, fov_degrees=None):
    self.size, self.height, self.width = tuple(size), height, width
    if intrinsics is None:
      self.original = frames_data.fov_intrinsics(size[0], size[1], fov_degrees)
    else:
      self.original = np.asarray(intrinsics, np.float64)
      frames_data.check_frame_intrinsics(self.original, size)
    self.box = frames_data.center_crop_box(size, height / width)
    top, left, crop_h, crop_w = self.box
    self.intrinsics = sfm_data.scale_intrinsics(
        frames_data.crop_intrinsics(self.original, top, left), (crop_h, crop_w),
        (height, width)).astype(np.float32)
    scale = max(1, math.ceil(DISPLAY_WIDTH / width))
    self.display_size = (height * scale, width * scale)

  def __call__(self, frame, name):
    """`[H, W, 3]` uint8 -> (model input `[height, width, 3]`, display `[h', w', 3]`)."""
    if frame.shape[:2] != self.size:
      raise errors.DataError(f"{name}: frame is {frame.shape[1]}x{frame.shape[0]}, the first "
                             f"was {self.size[1]}x{self.size[0]}")
    top, left, crop_h, crop_w = self.box
    crop = np.ascontiguousarray(frame[top:top + crop_h, left:left + crop_w])
    display = np.asarray(Image.fromarray(crop).resize(self.display_size[::-1],
                                                      Image.BILINEAR))
    return sfm_data.resize_image(crop, self.height, self.width), display


def read_frames(input_path, height, width, intrinsics=None, fov_degrees=None, step=1,
                max_frames=None):
  """Reads and prepares every frame (see the module docstring).

  Returns:
    (names `[N]`, model frames uint8 `[N, height, width, 3]`, display frames, `Camera`).

  Raises:
    errors.DataError: a missing or undecodable input, fewer than 2 frames, frames of
      different sizes.
    errors.ConfigError: intrinsics that make no sense for the frames; a video without PyAV.
  """
  names, model_frames, display, camera = [], [], [], None
  for name, frame in video.iter_frames(input_path, step, max_frames):
    if camera is None:
      camera = Camera(frame.shape[:2], height, width, intrinsics, fov_degrees)
    small, big = camera(frame, name)
    names.append(name)
    model_frames.append(small)
    display.append(big)
  if len(names) < 2:
    raise errors.DataError(f"{input_path}: needs at least 2 frames (pairs of consecutive "
                           f"frames), found {len(names)}")
  return names, np.stack(model_frames), display, camera


# Models --------------------------------------------------------------------------------------

class SfmModel:
  """An sfm model's `serving_default` as a function of NumPy arrays.

  Attributes:
    height, width: the model's input size.
    description: what was loaded (for the summary).
  """

  def __init__(self, fn, height, width, description):
    self._fn, self.height, self.width, self.description = fn, height, width, description

  def __call__(self, target, source, intrinsics):
    """uint8 `[B, H, W, 3]` x 2, float32 `[B, 4]` -> dict of NumPy outputs (depth
    `[B, H, W, 1]`, egomotion `[B, 6]`, points `[B, H, W, 3]`)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    outputs = self._fn({"target_frame": tf.constant(target, tf.uint8),
                        "source_frame": tf.constant(source, tf.uint8),
                        "intrinsics": tf.constant(intrinsics, tf.float32)})
    return {k: np.asarray(v) for k, v in outputs.items()}


def load_saved_model(path):
  """An exported sfm model (`tools/export.py`: `export/sfm/<version>`) -> `SfmModel`.

  Raises:
    errors.ConfigError: not a SavedModel, no `serving_default`, or another task's model.
    errors.DataError: the SavedModel does not load.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not (os.path.isdir(path) and tf.saved_model.contains_saved_model(path)):
    raise errors.ConfigError(f"{path}: not a SavedModel folder (export one with "
                             "tools/export.py: export/sfm/<version>)")
  try:
    loaded = tf.saved_model.load(path)
  except (tf.errors.OpError, ValueError, OSError) as e:
    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise errors.DataError(f"{path}: cannot load the SavedModel ({message})") from e
  signature = loaded.signatures.get("serving_default")
  if signature is None:
    raise errors.ConfigError(f"{path}: the SavedModel has no serving_default signature")
  task = None
  if "metadata" in loaded.signatures:
    task = loaded.signatures["metadata"]()["task"].numpy().decode()
  inputs = signature.structured_input_signature[1]
  if task not in (None, "sfm") or sorted(inputs) != sorted(SFM_INPUTS):
    raise errors.ConfigError(f"{path}: not an sfm model (task {task!r}, inputs "
                             f"{', '.join(sorted(inputs))}); depth needs the sfm task's export")
  height, width = inputs["target_frame"].shape[1:3]
  if height is None or width is None:
    raise errors.ConfigError(f"{path}: target_frame has no fixed size "
                             f"({inputs['target_frame'].shape})")
  return SfmModel(lambda feed: signature(**feed), int(height), int(width),
                  {"saved_model": path, "task": task or "sfm"})


def load_run(model_dir):
  """A training directory of the sfm task -> `SfmModel` (the generator restored with
  `aign_tf.runs.restore`, run through `task.export.serve` in this process).

  Raises:
    errors.ConfigError: not a training directory, no checkpoint, or a run of another task.
    errors.DataError: no checkpoint restores.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from aign_tf import runs  # pylint: disable=g-import-not-at-top
  task, model, step = runs.restore(model_dir)
  if task.name != "sfm":
    raise errors.ConfigError(f"{model_dir}: a {task.name!r} run, not sfm (depth needs an sfm "
                             "training directory)")
  generator = model.generator
  exporter = task.export
  serve = tf.function(lambda feed: exporter.serve(generator, feed),
                      input_signature=[exporter.input_signature()])
  return SfmModel(serve, task.height, task.width,
                  {"model_dir": model_dir, "task": task.name, "step": step})


def load_model(saved_model=None, model_dir=None):
  """`load_saved_model` or `load_run`: exactly one of the two must be given."""
  if (saved_model is None) == (model_dir is None):
    raise errors.ConfigError(_ONE_MODEL)
  return load_saved_model(saved_model) if saved_model else load_run(model_dir)


def predict(model, frames, intrinsics, batch_size=8):
  """Runs the pairs (i, i - 1), and (0, 1) for frame 0, through `model`.

  Returns:
    depth float32 `[N, H, W]`, egomotion float32 `[N - 1, 6]` of the pairs (i, i - 1),
    points float32 `[N, H, W, 3]` in each target camera's coordinates.
  """
  sources = np.concatenate([frames[1:2], frames[:-1]])
  calibration = np.tile(np.asarray(intrinsics, np.float32)[None], (len(frames), 1))
  depth, egomotion, points = [], [], []
  for start in range(0, len(frames), batch_size):
    part = slice(start, start + batch_size)
    outputs = model(frames[part], sources[part], calibration[part])
    depth.append(outputs["depth"][..., 0])
    egomotion.append(outputs["egomotion"])
    points.append(outputs["points"] if "points" in outputs else
                  unproject(outputs["depth"][..., 0], calibration[part]))
  return (np.concatenate(depth).astype(np.float32),
          np.concatenate(egomotion)[1:].astype(np.float32),
          np.concatenate(points).astype(np.float32))


def unproject(depth, intrinsics):
  """depth `[B, H, W]`, intrinsics `[B, 4]` -> camera points `[B, H, W, 3]`:
  P = depth * ((x - c_x) / f_x, (y - c_y) / f_y, 1) with pixel centres at integers."""
  depth = np.asarray(depth, np.float64)
  fx, fy, cx, cy = (np.asarray(intrinsics, np.float64)[:, i, None, None] for i in range(4))
  ys, xs = np.mgrid[:depth.shape[1], :depth.shape[2]]
  return np.stack([depth * (xs - cx) / fx, depth * (ys - cy) / fy, depth], axis=-1)


# Outputs -------------------------------------------------------------------------------------

def trajectory(egomotion):
  """Egomotion `[N - 1, 6]` of the pairs (i, i - 1) -> camera-to-first-camera poses
  `[N, 4, 4]` (module docstring: T_0^{-1} T_i = E_1 ... E_i)."""
  from aign_tf.tasks import sfm_metrics  # pylint: disable=g-import-not-at-top
  return sfm_metrics.compose_egomotion(egomotion)


def write_tum(path, poses, timestamps):
  """Writes poses `[N, 4, 4]` as TUM lines `timestamp tx ty tz qx qy qz qw`."""
  from tensorflow_graphics.geometry.transformation import quaternion  # pylint: disable=g-import-not-at-top
  quaternions = np.asarray(quaternion.from_rotation_matrix(poses[:, :3, :3]))  # (x, y, z, w)
  with open(path, "w") as f:
    f.write("# timestamp tx ty tz qx qy qz qw (camera to first camera; x right, y down, "
            "z forward; the model's depth units)\n")
    for time, pose, q in zip(timestamps, poses, quaternions):
      q = q if q[3] >= 0 else -q
      values = [time] + list(pose[:3, 3]) + list(q)
      f.write(" ".join(f"{v:.6f}" for v in values) + "\n")


def write_ply(path, points, colours, binary=True, comment=""):
  """Writes points `[N, 3]` with uint8 RGB `[N, 3]` as a PLY file (binary little-endian or
  ASCII; float32 x, y, z and uchar red, green, blue per vertex)."""
  points = np.asarray(points, np.float32).reshape(-1, 3)
  colours = np.asarray(colours, np.uint8).reshape(-1, 3)
  header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0"]
  header += [f"comment {line}" for line in comment.splitlines()]
  header += [f"element vertex {len(points)}", "property float x", "property float y",
             "property float z", "property uchar red", "property uchar green",
             "property uchar blue", "end_header"]
  with open(path, "wb") as f:
    f.write(("\n".join(header) + "\n").encode("ascii"))
    if binary:
      vertex = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"),
                         ("green", "u1"), ("blue", "u1")])
      rows = np.empty(len(points), vertex)
      for i, axis in enumerate("xyz"):
        rows[axis] = points[:, i]
      for i, channel in enumerate(("red", "green", "blue")):
        rows[channel] = colours[:, i]
      f.write(rows.tobytes())
    else:
      for (x, y, z), (r, g, b) in zip(points, colours):
        f.write(f"{x:.6g} {y:.6g} {z:.6g} {r} {g} {b}\n".encode("ascii"))


def _legend(width, height=14):
  """A colour bar `[height, width, 3]` uint8 from far (left) to near (right), labelled."""
  bar = imaging.to_uint8(imaging.colour_map(np.tile(np.linspace(0, 1, width)[None],
                                                    (height, 1))))
  picture = Image.fromarray(bar)
  draw = ImageDraw.Draw(picture)
  draw.text((3, 1), "far", fill=(255, 255, 255))
  draw.text((width - 30, 1), "near", fill=(0, 0, 0))
  return np.asarray(picture)


def depth_picture(display_frame, depth):
  """[frame | depth colour map] uint8, the depth enlarged (nearest) to the frame's size, a
  far-to-near colour bar under the depth."""
  height, width = display_frame.shape[:2]
  colours = imaging.to_uint8(imaging.depth_to_colour(depth))
  colours = np.asarray(Image.fromarray(colours).resize((width, height), Image.NEAREST))
  legend = _legend(width)
  canvas = np.full((height + legend.shape[0] + 2, 2 * width + _GAP, 3), 255, np.uint8)
  canvas[:height, :width] = display_frame
  canvas[:height, width + _GAP:] = colours
  canvas[height + 2:, width + _GAP:] = legend
  return canvas


def plot_trajectory(path, poses, names):
  """Top view (x-z) and side view (z, up = -y) of the camera positions `poses[:, :3, 3]`,
  with each camera's viewing direction; start and end marked."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  positions = poses[:, :3, 3]
  forward = poses[:, :3, 2]  # The camera's z axis in the first camera's coordinates.
  arrows = np.arange(0, len(poses), max(1, math.ceil(len(poses) / MAX_ARROWS)))
  span = max(np.ptp(positions, axis=0).max(), 1e-3)
  figure = Figure(figsize=(10, 4.8), dpi=100)
  views = (("from above", 0, 2, 1.0, "x (right)", "z (forward)"),
           ("from the side", 2, 1, -1.0, "z (forward)", "-y (up)"))
  for index, (title, a, b, sign, xlabel, ylabel) in enumerate(views):
    axes = figure.add_subplot(1, 2, index + 1)
    u, v = positions[:, a], sign * positions[:, b]
    axes.plot(u, v, "-", color="0.55", lw=1.5, zorder=1)
    axes.quiver(u[arrows], v[arrows], forward[arrows, a], sign * forward[arrows, b],
                color="tab:blue", angles="xy",
                scale_units="xy", scale=1.0 / (0.12 * span), width=0.004, zorder=2)
    axes.scatter(u, v, s=12, c=np.arange(len(u)), cmap="viridis", zorder=3)
    axes.plot(u[0], v[0], "o", ms=9, mfc="none", mec="tab:green", mew=2, zorder=4,
              label=f"start ({names[0]})")
    axes.plot(u[-1], v[-1], "s", ms=9, mfc="none", mec="tab:red", mew=2, zorder=4,
              label=f"end ({names[-1]})")
    centre_u, centre_v = (u.max() + u.min()) / 2, (v.max() + v.min()) / 2
    half = 0.65 * span
    axes.set_xlim(centre_u - half, centre_u + half)
    axes.set_ylim(centre_v - half, centre_v + half)
    axes.set_aspect("equal")
    axes.grid(True, color="0.9")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(f"Camera path {title}")
    axes.legend(loc="best", fontsize=8)
  figure.suptitle(f"{len(positions)} frames, dark to light in time, the first camera at the "
                  "origin; arrows: viewing direction;\nunits: the model's depth scale "
                  "(monocular: known up to scale)", fontsize=9)
  figure.tight_layout()
  figure.savefig(path)


def _gif(path, pictures, fps):
  frames = [Image.fromarray(p) for p in pictures]
  frames[0].save(path, save_all=True, append_images=frames[1:], duration=round(1000 / fps),
                 loop=0)


def _write_json(path, value):
  with open(path, "w") as f:
    json.dump(value, f, indent=1)
    f.write("\n")


# The pipeline --------------------------------------------------------------------------------

def rescale_to_median_depth(depth, egomotion, points, median_depth):
  """Each frame's depth `[N, H, W]` and points `[N, H, W, 3]` scaled so its median depth is
  `median_depth`, and the translation of each pair (i, i - 1) in `egomotion` `[N - 1, 6]` by
  its target frame i's factor (P_{i-1} = R P_i + t: t is in frame i's units). Returns
  (depth, egomotion, points, factors `[N]`)."""
  depth = np.asarray(depth)
  factors = median_depth / np.median(depth.reshape(len(depth), -1).astype(np.float64), axis=1)
  egomotion = np.array(egomotion, np.float32)
  egomotion[:, :3] *= factors[1:, None]
  return ((depth * factors[:, None, None]).astype(np.float32), egomotion,
          (points * factors[:, None, None, None]).astype(np.float32), factors)


def _check_options(intrinsics, fov_degrees, step, batch_size, ply_frame, ply_format,
                   median_depth=None):
  """`run`'s options checked; returns (intrinsics `[4]` or None, fov_degrees or None)."""
  if median_depth is not None and not (math.isfinite(median_depth) and median_depth > 0):
    raise errors.ConfigError(f"median_depth must be a finite depth > 0 (in the units wanted, "
                             f"e.g. metres), got {median_depth}")
  if intrinsics is not None and fov_degrees is not None:
    raise errors.ConfigError("give intrinsics or fov_degrees, not both")
  if intrinsics is not None:
    intrinsics = parse_intrinsics(intrinsics)
  else:
    fov_degrees = DEFAULT_FOV_DEGREES if fov_degrees is None else fov_degrees
    frames_data.fov_intrinsics(1, 1, fov_degrees)  # Raises on a bad field of view.
  if step < 1 or batch_size < 1:
    raise errors.ConfigError(f"step and batch_size must be >= 1, got {step}, {batch_size}")
  if ply_format not in PLY_FORMATS:
    raise errors.ConfigError(f"ply_format must be one of {PLY_FORMATS}, got {ply_format!r}")
  if ply_frame is not None and ply_frame < 0:
    raise errors.ConfigError(f"ply_frame must be >= 0, got {ply_frame}")
  return intrinsics, (fov_degrees if intrinsics is None else None)


def run(input_path, output_dir, saved_model=None, model_dir=None, intrinsics=None,
        fov_degrees=None, step=1, max_frames=None, ply_frame=0, ply_format="binary",
        gif=True, gif_fps=None, batch_size=8, model=None, median_depth=None):
  """Depth, a point cloud and the trajectory of a clip: the files of the module docstring.

  Args:
    input_path: a video file or a folder of frames (sorted by name).
    output_dir: where the results go (replaced as a whole at the end).
    saved_model, model_dir: the sfm model, exported or as a training directory (one).
    intrinsics: (f_x, f_y, c_x, c_y) or "fx,fy,cx,cy" in pixels of the original frames.
    fov_degrees: without `intrinsics`, the assumed horizontal field of view (default 60).
    step, max_frames: use every `step`-th frame, at most `max_frames` of them.
    ply_frame: index (in the frames used) of the frame written as a point cloud.
    ply_format: "binary" (little-endian) or "ascii".
    gif, gif_fps: write depth.gif, at this rate (default: the video's / step, else 10).
    batch_size: pairs per model call.
    model: an `SfmModel` already loaded (instead of `saved_model` / `model_dir`).
    median_depth: rescale each frame so its median depth is this (module docstring: Scale);
      None keeps the model's units.

  Every frame is kept in memory at the model's size and at the pictures' size (~0.2 MB per
  frame for 64 x 192); `max_frames` and `step` bound it for long videos.

  Returns:
    The summary dict (also written as summary.json).

  Raises:
    errors.DataError: a missing or undecodable input, fewer than 2 frames.
    errors.ConfigError: bad model, intrinsics, field of view or options (named).
  """
  # Arguments, then the input, then the model: cheap failures first.
  intrinsics, fov_degrees = _check_options(intrinsics, fov_degrees, step, batch_size,
                                           ply_frame, ply_format, median_depth)
  if model is None and (saved_model is None) == (model_dir is None):
    raise errors.ConfigError(_ONE_MODEL)
  # The first frame (decoding the input) and the intrinsics are checked before the model
  # loads, which takes seconds.
  fps = video.video_info(input_path).fps if video.kind(input_path) == video.VIDEO else None
  for _, first in video.iter_frames(input_path, 1, 1):
    if intrinsics is not None:
      frames_data.check_frame_intrinsics(intrinsics, first.shape[:2])
  model = model or load_model(saved_model, model_dir)

  names, frames, display, camera = read_frames(input_path, model.height, model.width,
                                               intrinsics, fov_degrees, step, max_frames)
  if ply_frame is not None and ply_frame >= len(names):
    raise errors.ConfigError(f"ply_frame = {ply_frame} but {input_path} gave {len(names)} "
                             "frames")
  depth, egomotion, points = predict(model, frames, camera.intrinsics, batch_size)
  factors = None
  if median_depth is not None:
    depth, egomotion, points, factors = rescale_to_median_depth(depth, egomotion, points,
                                                                median_depth)
  poses = trajectory(egomotion)
  rate = gif_fps or (fps / step if fps else DEFAULT_GIF_FPS)
  summary = {
      "input": input_path, "frames": names, "model": model.description,
      "model_size": [model.height, model.width], "image_size": [camera.size[1], camera.size[0]],
      "crop": dict(zip(("top", "left", "height", "width"), map(int, camera.box))),
      "intrinsics": [float(v) for v in camera.original],
      "model_intrinsics": [float(v) for v in camera.intrinsics],
      "fov_degrees": fov_degrees,
      "frames_per_second": fps / step if fps else None,
      "median_depth": median_depth,
      "depth_factors": None if factors is None else [float(f) for f in factors]}

  with files.staged_folder(output_dir) as staging:
    summary["files"] = _write_outputs(staging, names, frames, display, camera, depth,
                                      egomotion, poses, points, ply_frame, ply_format,
                                      rate if gif else None, fps and fps / step)
    _write_json(os.path.join(staging, "summary.json"), summary)
  return summary


def _write_outputs(out, names, frames, display, camera, depth, egomotion, poses, points,
                   ply_frame, ply_format, gif_fps, fps):
  """Writes the module docstring's files into `out`; returns {what: file name}."""
  written = {}
  os.makedirs(os.path.join(out, "frames"))
  pictures = []
  for name, big, frame_depth in zip(names, display, depth):
    pictures.append(depth_picture(big, frame_depth))
    Image.fromarray(pictures[-1]).save(os.path.join(out, "frames", f"{name}.png"))
  written["pictures"] = "frames/"
  if gif_fps:
    _gif(os.path.join(out, "depth.gif"), pictures, gif_fps)
    written["gif"] = "depth.gif"
  np.savez(os.path.join(out, "depth.npz"), depth=depth, names=np.array(names),
           intrinsics=camera.intrinsics, egomotion=egomotion, poses=poses)
  written["depth"] = "depth.npz"
  if ply_frame is not None:
    keep = np.all(np.isfinite(points[ply_frame]), axis=-1) & (depth[ply_frame] > 0)
    ply = f"points_{names[ply_frame]}.ply"
    write_ply(os.path.join(out, ply), points[ply_frame][keep], frames[ply_frame][keep],
              binary=ply_format == "binary",
              comment=f"aign_tf depth_video: frame {names[ply_frame]}\n"
                      "camera coordinates: x right, y down, z forward; the model's depth units")
    written["ply"] = ply
  timestamps = np.arange(len(names)) / fps if fps else np.arange(len(names), dtype=float)
  write_tum(os.path.join(out, "trajectory.txt"), poses, timestamps)
  written["trajectory"] = "trajectory.txt"
  plot_trajectory(os.path.join(out, "trajectory.png"), poses, names)
  written["trajectory_plot"] = "trajectory.png"
  return written
