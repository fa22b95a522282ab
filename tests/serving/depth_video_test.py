"""depth_video: a tiny sfm model trained here (2 steps) and exported, run on frames of a fake
camera motion (shifted crops of a photo) and a tiny video; bad input leaves nothing behind."""

import os
import shutil
import tempfile

import gin
import numpy as np
from PIL import Image
import skimage.data

from aign_tf import config
from aign_tf import errors
from aign_tf import testing
from aign_tf.core import video
from aign_tf.data import sfm as sfm_data
from aign_tf.serving import depth_video
from aign_tf.serving import export
from aign_tf.serving import testing as serving_testing
from aign_tf.train import trainer

NUM_FRAMES = 6


def _frames(count, shift=4, height=240, width=320):
  """Crops of the astronaut photo moving right by `shift` pixels per frame."""
  image = skimage.data.astronaut()
  return [image[100:100 + height, 60 + shift * i:60 + shift * i + width] for i in range(count)]


def read_ply(path):
  """(header lines, points `[N, 3]`, colours `[N, 3]`) of a PLY written by `write_ply`."""
  with open(path, "rb") as f:
    data = f.read()
  end = data.index(b"end_header\n") + len(b"end_header\n")
  header = data[:end].decode("ascii").splitlines()
  count = int(next(l for l in header if l.startswith("element vertex")).split()[-1])
  if "format ascii 1.0" in header:
    rows = np.array([l.split() for l in data[end:].decode("ascii").splitlines()], np.float64)
    assert len(rows) == count, (len(rows), count)
    return header, rows[:, :3], rows[:, 3:].astype(np.uint8)
  vertex = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"),
                     ("b", "u1")])
  assert len(data) - end == count * vertex.itemsize, (len(data) - end, count)
  rows = np.frombuffer(data[end:], vertex)
  return (header, np.stack([rows["x"], rows["y"], rows["z"]], -1),
          np.stack([rows["r"], rows["g"], rows["b"]], -1))


def read_tum(path):
  with open(path) as f:
    return np.array([l.split() for l in f if not l.startswith("#")], np.float64)


class DepthVideoTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.dir = tempfile.mkdtemp(prefix="depth_video_test_")
    cls.model_dir = os.path.join(cls.dir, "run")
    config.parse([os.path.join(testing.GIN_DIR, "sfm.gin"),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
    trainer.train(cls.model_dir)
    gin.clear_config()
    cls.saved_model = export.export(cls.model_dir, export_base=os.path.join(cls.dir, "export"),
                                    update_config=False)["path"]
    cls.model = depth_video.load_saved_model(cls.saved_model)
    cls.folder = os.path.join(cls.dir, "frames")
    os.makedirs(cls.folder)
    for i, frame in enumerate(_frames(NUM_FRAMES)):
      Image.fromarray(frame).save(os.path.join(cls.folder, f"f{i:02d}.png"))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.dir, ignore_errors=True)
    super().tearDownClass()

  def setUp(self):
    super().setUp()
    self.out = os.path.join(self.get_temp_dir(), self.id().rsplit(".", 1)[-1])

  def test_frame_folder_gives_pictures_cloud_and_trajectory(self):
    summary = depth_video.run(self.folder, self.out, saved_model=self.saved_model,
                              ply_frame=2)
    names = [f"f{i:02d}" for i in range(NUM_FRAMES)]
    self.assertEqual(summary["frames"], names)
    self.assertEqual(summary["model_size"], [32, 64])
    # 320x240 frames, centre crop to 1:2 -> 320x160 from row 40, then 0.2x.
    self.assertEqual(summary["crop"], {"top": 40, "left": 0, "height": 160, "width": 320})
    self.assertCountEqual(os.listdir(os.path.join(self.out, "frames")),
                          [f"{n}.png" for n in names])
    with Image.open(os.path.join(self.out, "frames", "f00.png")) as picture:
      self.assertGreaterEqual(picture.width, 2 * depth_video.DISPLAY_WIDTH)
    with Image.open(os.path.join(self.out, "depth.gif")) as gif:
      self.assertEqual(gif.n_frames, NUM_FRAMES)
      self.assertEqual(gif.info["duration"], 100)  # A folder: 10 frames per second.
    arrays = np.load(os.path.join(self.out, "depth.npz"))
    self.assertEqual(arrays["depth"].shape, (NUM_FRAMES, 32, 64))
    self.assertEqual(arrays["egomotion"].shape, (NUM_FRAMES - 1, 6))
    self.assert_finite(arrays["depth"])

    header, points, colours = read_ply(os.path.join(self.out, "points_f02.ply"))
    self.assertIn("format binary_little_endian 1.0", header)
    self.assertLen(points, 32 * 64)  # Every depth is positive and finite here.
    self.assert_finite(points)
    np.testing.assert_allclose(points[:, 2], arrays["depth"][2].ravel(), rtol=1e-5)
    fx, fy, cx, cy = summary["model_intrinsics"]
    pixel = 5 * 64 + 40  # Row 5, column 40.
    np.testing.assert_allclose(points[pixel, :2],
                               [(40 - cx) / fx * points[pixel, 2],
                                (5 - cy) / fy * points[pixel, 2]], rtol=1e-4)
    # The NumPy unprojection (for exports without `points`) agrees with the export's.
    np.testing.assert_allclose(
        depth_video.unproject(arrays["depth"][2:3], [summary["model_intrinsics"]])[0],
        points.reshape(32, 64, 3), rtol=1e-4, atol=1e-5)
    self.assertGreater(colours.std(), 10)  # The photo's colours, not a constant.

    tum = read_tum(os.path.join(self.out, "trajectory.txt"))
    self.assertEqual(tum.shape, (NUM_FRAMES, 8))
    np.testing.assert_allclose(tum[:, 0], np.arange(NUM_FRAMES))
    np.testing.assert_allclose(tum[0, 1:], [0, 0, 0, 0, 0, 0, 1], atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(tum[:, 4:], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(tum[:, 1:4], arrays["poses"][:, :3, 3], atol=1e-5)
    with Image.open(os.path.join(self.out, "trajectory.png")) as plot:
      self.assertGreater(plot.width, 500)
    self.assertEqual(sorted(n for n in os.listdir(os.path.dirname(self.out))
                            if n.startswith(".")), [])  # No staging folder left.

  def test_poses_chain_the_egomotion(self):
    # Cameras: frame 1 is 1 unit right of frame 0; frame 2 is 1 unit further right, turned
    # 90 degrees about y (so it looks along frame 0's +x).
    true = np.stack([_pose(0.0, [0, 0, 0]), _pose(0.0, [1, 0, 0]), _pose(np.pi / 2, [2, 0, 0])])
    egomotion = sfm_data.consecutive_egomotion(true)
    # Frame 1's origin is at x = 1 in frame 0's camera: P_0 = P_1 + (1, 0, 0).
    np.testing.assert_allclose(egomotion[0], [1, 0, 0, 0, 0, 0], atol=1e-6)
    poses = depth_video.trajectory(egomotion)
    np.testing.assert_allclose(poses[0], np.eye(4))
    np.testing.assert_allclose(poses[:, :3, 3], [[0, 0, 0], [1, 0, 0], [2, 0, 0]], atol=1e-6)
    np.testing.assert_allclose(poses[2, :3, 2], [1, 0, 0], atol=1e-6)  # Looks along +x.
    np.testing.assert_allclose(poses, true, atol=1e-6)

  def test_training_directory_matches_the_export(self):
    summary = depth_video.run(self.folder, self.out, model_dir=self.model_dir, max_frames=3,
                              ply_format="ascii", gif=False)
    self.assertEqual(summary["model"]["model_dir"], self.model_dir)
    exported = os.path.join(self.get_temp_dir(), "exported")
    depth_video.run(self.folder, exported, model=self.model, max_frames=3, gif=False)
    ours, theirs = (np.load(os.path.join(d, "depth.npz")) for d in (self.out, exported))
    np.testing.assert_allclose(ours["depth"], theirs["depth"], rtol=1e-4)
    np.testing.assert_allclose(ours["poses"], theirs["poses"], atol=1e-5)
    header, points, _ = read_ply(os.path.join(self.out, "points_f00.ply"))
    self.assertIn("format ascii 1.0", header)
    self.assertLen(points, 32 * 64)
    self.assertFalse(os.path.exists(os.path.join(self.out, "depth.gif")))

  def test_median_depth_rescales_each_frame_and_its_translation(self):
    plain = os.path.join(self.get_temp_dir(), "plain")
    depth_video.run(self.folder, plain, model=self.model, max_frames=4, gif=False, ply_frame=3)
    summary = depth_video.run(self.folder, self.out, model=self.model, max_frames=4,
                              gif=False, ply_frame=3, median_depth=6.6)
    before, after = (np.load(os.path.join(d, "depth.npz")) for d in (plain, self.out))
    np.testing.assert_allclose(np.median(after["depth"].reshape(4, -1), axis=1), [6.6] * 4,
                               rtol=1e-5)
    factors = after["depth"][:, 0, 0] / before["depth"][:, 0, 0]
    np.testing.assert_allclose(summary["depth_factors"], factors, rtol=1e-5)
    np.testing.assert_allclose(after["depth"], before["depth"] * factors[:, None, None],
                               rtol=1e-5)
    # Pair (i, i - 1)'s translation is in frame i's units; its rotation has none.
    np.testing.assert_allclose(after["egomotion"][:, :3],
                               before["egomotion"][:, :3] * factors[1:, None], rtol=1e-4,
                               atol=1e-7)
    np.testing.assert_allclose(after["egomotion"][:, 3:], before["egomotion"][:, 3:])
    _, points, _ = read_ply(os.path.join(self.out, "points_f03.ply"))
    _, plain_points, _ = read_ply(os.path.join(plain, "points_f03.ply"))
    np.testing.assert_allclose(points, plain_points * factors[3], rtol=1e-4, atol=1e-6)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
      with self.assertRaisesRegex(errors.ConfigError, "median_depth must be a finite depth"):
        depth_video.run(self.folder, self.out + "_bad", model=self.model, median_depth=bad)
      self.assertFalse(os.path.exists(self.out + "_bad"))

  def test_video(self):
    try:
      import av  # pylint: disable=g-import-not-at-top
    except ImportError:
      self.skipTest("PyAV is not installed (pip install -e '.[video]')")
    path = os.path.join(self.get_temp_dir(), "clip.mp4")
    with av.open(path, "w") as container:
      stream = container.add_stream("mpeg4", rate=10)
      stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
      for frame in _frames(5, shift=8):
        frame = av.VideoFrame.from_ndarray(frame[::2, ::2].copy(), format="rgb24")
        for packet in stream.encode(frame):
          container.mux(packet)
      for packet in stream.encode():
        container.mux(packet)
    summary = depth_video.run(path, self.out, model=self.model, step=2, ply_frame=2)
    self.assertEqual(summary["frames"], ["frame_000000", "frame_000002", "frame_000004"])
    self.assertEqual(summary["image_size"], [160, 120])
    with Image.open(os.path.join(self.out, "depth.gif")) as gif:
      self.assertEqual(gif.n_frames, 3)
      self.assertEqual(gif.info["duration"], 200)  # 10 fps, every second frame.
    np.testing.assert_allclose(read_tum(os.path.join(self.out, "trajectory.txt"))[:, 0],
                               [0.0, 0.2, 0.4])
    _, points, _ = read_ply(os.path.join(self.out, "points_frame_000004.ply"))
    self.assert_finite(points)

  def test_intrinsics_follow_the_crop_and_the_resize(self):
    camera = depth_video.Camera((240, 320), 32, 64, intrinsics=(300.0, 310.0, 150.0, 130.0))
    # Crop rows 40-199, then scale 0.2 with pixel centres at integers.
    np.testing.assert_allclose(camera.intrinsics, [60.0, 62.0, 150.5 * 0.2 - 0.5,
                                                   (130.0 - 40 + 0.5) * 0.2 - 0.5], rtol=1e-6)
    camera = depth_video.Camera((240, 320), 32, 64, fov_degrees=90.0)
    np.testing.assert_allclose(camera.intrinsics[0], 160.0 * 0.2, rtol=1e-6)

  @testing.parameterized.parameters(
      ("1,2,3", "expected fx,fy,cx,cy"),
      ("300,abc,160,120", "not numeric"),
      ("300,0,160,120", "f_y = 0.0 must be finite and > 0"),
      ("300,300,900,120", "c_x = 900 lies outside the 320x240 frames"),
      ("1,1,160,120", "horizontal field of view of 179 degrees"))
  def test_intrinsics_that_make_no_sense(self, intrinsics, message):
    with self.assertRaisesRegex(errors.ConfigError, "intrinsics: .*" + message):
      depth_video.run(self.folder, self.out, model=self.model, intrinsics=intrinsics)
    self.assertFalse(os.path.exists(self.out))

  def test_undecodable_video_writes_nothing(self):
    if not _has_av():
      self.skipTest("PyAV is not installed (pip install -e '.[video]')")
    path = os.path.join(self.get_temp_dir(), "broken.mp4")
    with open(path, "wb") as f:
      f.write(b"not a video" * 100)
    with self.assertRaisesRegex(errors.DataError, "broken.mp4: cannot decode this video"):
      depth_video.run(path, self.out, saved_model=self.saved_model)
    self.assertFalse(os.path.exists(self.out))

  def test_error_after_reading_keeps_the_previous_output(self):
    os.makedirs(self.out)
    with open(os.path.join(self.out, "old.txt"), "w") as f:
      f.write("kept")
    with self.assertRaisesRegex(errors.ConfigError, f"ply_frame = 9 but .* gave {NUM_FRAMES}"):
      depth_video.run(self.folder, self.out, model=self.model, ply_frame=9)
    self.assertEqual(os.listdir(self.out), ["old.txt"])
    self.assertEqual([n for n in os.listdir(os.path.dirname(self.out)) if n.startswith(".")],
                     [])

  def test_models_that_are_not_sfm(self):
    with self.assertRaisesRegex(errors.ConfigError, "not a training directory"):
      depth_video.run(self.folder, self.out, model_dir=self.folder)
    task = serving_testing.ImageTask()
    image_model = os.path.join(self.get_temp_dir(), "image_test", "1")
    export.save(task, task.generator(), image_model)
    with self.assertRaisesRegex(errors.ConfigError, "image_test/1: not an sfm model"):
      depth_video.run(self.folder, self.out, saved_model=image_model)
    with self.assertRaisesRegex(errors.ConfigError, "not a SavedModel folder"):
      depth_video.run(self.folder, self.out, saved_model=self.folder)
    with self.assertRaisesRegex(errors.ConfigError, "exactly one"):
      depth_video.run(self.folder, self.out, saved_model=self.saved_model,
                      model_dir=self.model_dir)
    self.assertFalse(os.path.exists(self.out))


def _pose(yaw, position):
  """Camera-to-world `[4, 4]`: turned by `yaw` about y, at `position`."""
  pose = np.eye(4)
  pose[:3, :3] = sfm_data.euler_to_matrix([0.0, yaw, 0.0])
  pose[:3, 3] = position
  return pose


def _has_av():
  try:
    video.require_av()
    return True
  except errors.ConfigError:
    return False


if __name__ == "__main__":
  testing.main()
