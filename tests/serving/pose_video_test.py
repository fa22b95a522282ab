"""pose_video: photos, frame folders and videos -> keypoint JSON the pose task reads, drawn
frames, a GIF, 3D through a (stub) server; bad inputs leave nothing half-written."""

import http.server
import json
import math
import os
import threading

import numpy as np
from PIL import Image
import skimage.data

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import video
from aign_tf.data.mocap import keypoints2d
from aign_tf.data.mocap import temporal
from aign_tf.detectors import blazepose
from aign_tf.detectors import testing as detector_testing
from aign_tf.serving import pose_video


def _shifted(image, pixels):
  return np.pad(image[:, :-pixels], ((0, 0), (pixels, 0), (0, 0)), mode="edge")


class _StubPoseServer(http.server.BaseHTTPRequestHandler):
  """TF Serving's REST metadata and predict for a "pose" model: joints_3d = (x, y, 1)."""
  requests = []

  def _reply(self, body):
    data = json.dumps(body).encode()
    self.send_response(200)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def do_GET(self):  # pylint: disable=invalid-name
    dims = lambda *s: {"dim": [{"size": str(d)} for d in s]}
    signature = {"inputs": {"keypoints_2d": {"dtype": "DT_FLOAT",
                                             "tensor_shape": dims(-1, 17, 2)}},
                 "outputs": {"joints_3d": {"dtype": "DT_FLOAT",
                                           "tensor_shape": dims(-1, 17, 3)}}}
    self._reply({"metadata": {"signature_def": {"signature_def": {
        "serving_default": signature}}}})

  def do_POST(self):  # pylint: disable=invalid-name
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    type(self).requests.append((self.path, body))
    points = np.asarray(body["inputs"]["keypoints_2d"])
    joints = np.concatenate([points, np.ones(points.shape[:-1] + (1,))], -1)
    self._reply({"outputs": joints.tolist()})

  def log_message(self, *args):
    del args


class PoseVideoTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.detector = blazepose.PoseDetector(detector_testing.model_dir())
    cls.image = skimage.data.astronaut()

  def setUp(self):
    super().setUp()
    self.dir = self.get_temp_dir()

  def test_photo_gives_keypoints_the_pose_task_reads(self):
    path = os.path.join(self.dir, "astronaut.png")
    Image.fromarray(self.image).save(path)
    out = os.path.join(self.dir, "photo_out")
    summary = pose_video.run(path, out, fov_degrees=60.0, detector=self.detector)
    self.assertEqual(summary["frames_with_person"], ["astronaut"])
    read = keypoints2d.read_keypoints_json(os.path.join(out, "keypoints", "astronaut.json"))
    self.assertEqual(read["keypoints_2d"].shape, (1, 17, 2))
    focal = 256 / math.tan(math.radians(30))
    self.assertAlmostEqual(read["intrinsics"][0][0], focal, places=3)  # [N, 4]: fx first.
    pixels, _ = blazepose.to_h36m17(blazepose.detect_pose(self.image, self.detector))
    np.testing.assert_allclose(read["pixels"][0], pixels - 0.5, atol=1e-3)
    np.testing.assert_allclose(read["keypoints_2d"][0], (pixels - 0.5 - 255.5) / focal,
                               atol=1e-5)
    drawn = np.asarray(Image.open(os.path.join(out, "frames", "astronaut.png")))
    self.assertEqual(drawn.shape, self.image.shape)
    self.assertGreater(np.abs(drawn.astype(int) - self.image).max(), 100)

  def test_frame_folder_gives_every_frame_and_a_gif(self):
    folder = os.path.join(self.dir, "frames")
    os.makedirs(folder)
    for i, shift in enumerate((8, 24, 40)):
      Image.fromarray(_shifted(self.image, shift)).save(os.path.join(folder, f"f{i}.png"))
    out = os.path.join(self.dir, "folder_out")
    pose_video.run(folder, out, detector=self.detector, gif_fps=5)
    with open(os.path.join(out, "keypoints_2d.json")) as f:
      clip = json.load(f)
    self.assertEqual([p["frame"] for p in clip["people"]], ["f0", "f1", "f2"])
    read = keypoints2d.read_keypoints_json(os.path.join(out, "keypoints_2d.json"))
    thorax_x = read["pixels"][:, 8, 0]
    self.assertTrue(np.all(np.diff(thorax_x) > 5), thorax_x)  # It follows the shifts.
    with Image.open(os.path.join(out, "skeleton.gif")) as gif:
      self.assertEqual(gif.n_frames, 3)
      self.assertEqual(gif.info["duration"], 200)

  def test_video(self):
    try:
      import av  # pylint: disable=g-import-not-at-top
    except ImportError:
      self.skipTest("PyAV is not installed (pip install -e '.[video]')")
    path = os.path.join(self.dir, "clip.mp4")
    with av.open(path, "w") as container:
      stream = container.add_stream("mpeg4", rate=10)
      stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
      for shift in (8, 16, 24, 32):
        frame = av.VideoFrame.from_ndarray(_shifted(self.image, shift)[::2, ::2].copy(),
                                           format="rgb24")
        for packet in stream.encode(frame):
          container.mux(packet)
      for packet in stream.encode():
        container.mux(packet)
    out = os.path.join(self.dir, "video_out")
    summary = pose_video.run(path, out, step=2, detector=self.detector)
    self.assertEqual(summary["frames_with_person"], ["frame_000000", "frame_000002"])
    self.assertEqual(summary["image_size"], [256, 256])
    with Image.open(os.path.join(out, "skeleton.gif")) as gif:
      self.assertEqual(gif.info["duration"], 200)  # 10 fps, every second frame.

  def test_undecodable_video_writes_nothing(self):
    if not _has_av():
      self.skipTest("PyAV is not installed (pip install -e '.[video]')")
    path = os.path.join(self.dir, "broken.mp4")
    with open(path, "wb") as f:
      f.write(b"not a video" * 100)
    out = os.path.join(self.dir, "broken_out")
    with self.assertRaisesRegex(errors.DataError, "broken.mp4: cannot decode this video"):
      pose_video.run(path, out, detector=self.detector)
    self.assertFalse(os.path.exists(out))
    self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".broken_out")], [])

  def test_no_person_keeps_the_previous_output(self):
    path = os.path.join(self.dir, "grey.png")
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(path)
    out = os.path.join(self.dir, "grey_out")
    os.makedirs(out)
    with open(os.path.join(out, "old.txt"), "w") as f:
      f.write("kept")
    with self.assertRaisesRegex(errors.DataError, "grey.png: no person found in any of its 1"):
      pose_video.run(path, out, detector=self.detector)
    self.assertEqual(os.listdir(out), ["old.txt"])

  def test_lift_to_3d_through_a_server(self):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StubPoseServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
      path = os.path.join(self.dir, "lift.png")
      Image.fromarray(self.image).save(path)
      out = os.path.join(self.dir, "lift_out")
      summary = pose_video.run(path, out, detector=self.detector, gif=False,
                               server=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
      server.shutdown()
      server.server_close()
    self.assertEqual(summary["joints_3d"], "joints_3d.json")
    self.assertEqual(_StubPoseServer.requests[-1][0], "/v1/models/pose:predict")
    with open(os.path.join(out, "joints_3d.json")) as f:
      joints = json.load(f)
    self.assertEqual(joints["frames"], ["lift"])
    read = keypoints2d.read_keypoints_json(os.path.join(out, "keypoints_2d.json"))
    np.testing.assert_allclose(np.asarray(joints["joints_3d"])[..., :2], read["keypoints_2d"],
                               atol=1e-6)
    self.assertFalse(os.path.exists(os.path.join(out, "skeleton.gif")))

  def test_smoothed_lift_through_a_server(self):
    folder = os.path.join(self.dir, "smooth_frames")
    os.makedirs(folder)
    for i, shift in enumerate((8, 16, 24, 32, 40)):
      Image.fromarray(_shifted(self.image, shift)).save(os.path.join(folder, f"f{i}.png"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StubPoseServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
      out = os.path.join(self.dir, "smooth_out")
      summary = pose_video.run(folder, out, detector=self.detector, gif=False,
                               server=f"http://127.0.0.1:{server.server_address[1]}",
                               smooth="savgol", smooth_fps=15.0)
    finally:
      server.shutdown()
      server.server_close()
    self.assertEqual(summary["smoothing"]["method"], "savgol")
    with open(os.path.join(out, "joints_3d.json")) as f:
      smoothed = json.load(f)
    with open(os.path.join(out, "joints_3d_per_frame.json")) as f:
      raw = json.load(f)
    self.assertEqual(smoothed["frames"], ["f0", "f1", "f2", "f3", "f4"])
    self.assertEqual(smoothed["smoothing"]["window"], temporal.SAVGOL_WINDOW)  # at 15 fps
    # The stub returns (x, y, 1) of the keypoints: smoothing keeps the shape and the mean
    # position, and takes out frame-to-frame jitter.
    smoothed, raw = np.asarray(smoothed["joints_3d"]), np.asarray(raw["joints_3d"])
    self.assertEqual(smoothed.shape, raw.shape)
    self.assertAllClose(smoothed.mean(axis=0), raw.mean(axis=0), atol=1e-4)
    self.assertLess(temporal.jitter_mm(smoothed), temporal.jitter_mm(raw))

  def test_smooth_outputs_restarts_after_frames_without_a_person(self):
    t = np.arange(12, dtype=np.float64)
    joints = np.broadcast_to(0.1 * t[:, None, None], (12, 17, 3)).copy()
    joints[7:] += 5.0  # frames after the gap are far away: no blending across it
    joints[3, 3, 0] += 0.2  # one jittery joint
    outputs = {"joints_3d": joints, "camera_translation": np.stack([t, t, 3 + t], -1),
               "root_depth": 3 + t}
    read = [f"f{i}" for i in range(13)]
    names = read[:7] + read[8:]  # f7 had no person: segments of 7 and 5 frames
    smoothed, how = pose_video.smooth_outputs(outputs, names, read, "savgol", 15.0)
    self.assertEqual(how, {"method": "savgol", "window": temporal.SAVGOL_WINDOW,
                           "polyorder": temporal.SAVGOL_POLYORDER})
    self.assertAllClose(smoothed["joints_3d"][7:], joints[7:], atol=1e-5)  # a line stays
    self.assertLess(abs(smoothed["joints_3d"][3, 3, 0] - 0.3), 0.1)  # the spike shrinks
    self.assertAllClose(smoothed["root_depth"], smoothed["camera_translation"][:, 2])
    _, how = pose_video.smooth_outputs(outputs, names, read, "one_euro", 30.0)
    self.assertEqual(how["fps"], 30.0)
    with self.assertRaisesRegex(errors.ConfigError, "smooth"):
      pose_video.run(os.path.join(self.dir, "x.png"), self.dir, smooth="kalman")


def _has_av():
  try:
    video.require_av()
    return True
  except errors.ConfigError:
    return False
