"""pose_video with a temporal lifter (issue 17): windows of the detector's keypoints go to a
served `pose_temporal` model, one 3D pose per frame with a person comes back.

Tiny untrained lifters (a `tasks.pose_temporal` one with a 3-frame window and a per-frame
`tasks.pose` one) are exported and served by the project's REST server in this process; a
scripted detector stands in for BlazePose, so the 2D keypoints of every frame are chosen
by the test and no detector model is needed.
"""

import json
import os
import tempfile

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.data.mocap import keypoints2d
from aign_tf.detectors import blazepose
from aign_tf.models import pose_networks
from aign_tf.models import temporal as temporal_models
from aign_tf.serving import client
from aign_tf.serving import export
from aign_tf.serving import model_config
from aign_tf.serving import pose_video
from aign_tf.serving import repository
from aign_tf.serving import server as server_lib
from aign_tf.tasks import pose
from aign_tf.tasks import pose_temporal

WINDOW = 3
WIDTH, HEIGHT = 160, 120
NOBODY = 3  # The scripted clip's frame without a person.
NUM_FRAMES = 7


class _ScriptedDetector:
  """Stands in for `blazepose.PoseDetector`: a frame's top-left red value is its index in
  `script`, a list of BlazePose landmarks `[33, 2]` (None: nobody in that frame)."""

  min_presence = 0.5

  def __init__(self, script):
    self.script = script

  def _pose(self, image):
    points = self.script[int(image[0, 0, 0])]
    found = points is not None
    points = np.zeros((blazepose.NUM_LANDMARKS, 2)) if points is None else points
    return blazepose.Pose(
        landmarks=points, z=np.zeros(blazepose.NUM_LANDMARKS),
        visibility=np.full(blazepose.NUM_LANDMARKS, 0.9),
        presence=np.full(blazepose.NUM_LANDMARKS, 0.9),
        world=np.zeros((blazepose.NUM_LANDMARKS, 3)), score=0.9 if found else 0.0,
        roi=None, auxiliary=np.array([[WIDTH / 2, HEIGHT / 2], [WIDTH / 2, 10.0]]))

  def landmarks(self, image, roi):
    del roi
    return self._pose(image)

  def __call__(self, image):
    pose_ = self._pose(image)
    return [pose_] if pose_.score >= self.min_presence else []


def _script(seed=0, moved=None):
  """Landmarks of a person walking right, with per-frame noise; `moved` frame's landmarks
  jump to other places."""
  rng = np.random.default_rng(seed)
  base = rng.uniform([40, 20], [120, 100], (blazepose.NUM_LANDMARKS, 2))
  script = [base + [2.0 * t, 0.0] + rng.normal(0.0, 0.5, base.shape)
            for t in range(NUM_FRAMES)]
  script[NOBODY] = None
  if moved is not None:
    script[moved] = script[moved] + rng.normal(0.0, 8.0, base.shape)
  return script


def _frame_folder(path):
  os.makedirs(path)
  for t in range(NUM_FRAMES):
    frame = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    frame[0, 0, 0] = t
    Image.fromarray(frame).save(os.path.join(path, f"f{t}.png"))
  return path


def _read(folder, name):
  with open(os.path.join(folder, name)) as f:
    return json.load(f)


class PoseVideoTemporalTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    base = os.path.join(tf.compat.v1.test.get_temp_dir(), "pose_video_temporal_models")
    cls.temporal_task = pose_temporal.PoseTemporalTask(window=WINDOW)
    cls.temporal_lifter = temporal_models.TemporalPoseLifter(window=WINDOW, hidden_units=8)
    cls.temporal_lifter(tf.zeros([1, WINDOW, 17, 2]))
    per_frame = pose_networks.PoseLifter(hidden_units=8, num_blocks=1)
    per_frame(tf.zeros([1, 17, 2]))
    configs = []
    for name, task, generator in (("pose_temporal", cls.temporal_task, cls.temporal_lifter),
                                  ("pose", pose.PoseTask(), per_frame)):
      export.save(task, generator, os.path.join(base, name, "1"))
      configs.append(model_config.ModelConfig(name, os.path.join(base, name)))
    models = repository.Repository(configs, poll_seconds=0.0)
    models.start()
    cls.srv = server_lib.ModelServer(models, port=0).start()
    cls.url = f"http://{cls.srv.host}:{cls.srv.port}"
    cls.frames = _frame_folder(os.path.join(base, "frames"))

  @classmethod
  def tearDownClass(cls):
    cls.srv.shutdown()
    super().tearDownClass()

  def lift(self, model, script, **kwargs):
    """Runs pose_video on the scripted clip; returns (output folder, joints_3d.json)."""
    out = tempfile.mkdtemp(prefix=f"{model}_", dir=self.get_temp_dir())
    pose_video.run(self.frames, out, detector=_ScriptedDetector(script), gif=False,
                   server=self.url, model=model, **kwargs)
    return out, _read(out, "joints_3d.json")

  def test_one_pose_per_frame_with_a_person_and_the_window_recorded(self):
    out, joints = self.lift("pose_temporal", _script())
    with_person = [f"f{t}" for t in range(NUM_FRAMES) if t != NOBODY]
    self.assertEqual(joints["frames"], with_person)
    self.assertEqual(np.asarray(joints["joints_3d"]).shape, (len(with_person), 17, 3))
    self.assertEqual(joints["lifter"], {"kind": "temporal", "window": WINDOW})
    self.assertEqual(_read(out, "summary.json")["lifter"], joints["lifter"])
    # Windows are cut within the runs f0-f2 and f4-f6, their ends repeated (the task's
    # padding): the served outputs are the lifter's on exactly those windows.
    keypoints = keypoints2d.read_keypoints_json(
        os.path.join(out, "keypoints_2d.json"))["keypoints_2d"]
    rows = [[0, 0, 1], [0, 1, 2], [1, 2, 2], [3, 3, 4], [3, 4, 5], [4, 5, 5]]
    expected = self.temporal_task.export.serve(
        self.temporal_lifter, {"keypoints_2d": tf.constant(keypoints[np.array(rows)])})
    self.assertAllClose(joints["joints_3d"], expected["joints_3d"], atol=1e-5)
    self.assertAllClose(joints["root_depth"], expected["root_depth"], rtol=1e-4)

  def test_a_frame_depends_on_its_neighbours_only_with_the_temporal_lifter(self):
    # f0's keypoints move: with windows of 3, f0 and its neighbour f1 change; f2 (window
    # f1 f2 f2) and everything after the frame without a person stay.
    changed = {}
    for model in ("pose_temporal", "pose"):
      _, before = self.lift(model, _script())
      _, after = self.lift(model, _script(moved=0))
      difference = np.abs(np.subtract(after["joints_3d"], before["joints_3d"]))
      changed[model] = [frame for frame, d in zip(before["frames"], difference)
                        if d.max() > 1e-6]
    self.assertEqual(changed, {"pose_temporal": ["f0", "f1"], "pose": ["f0"]})

  def test_smoothing_applies_after_the_temporal_lifter(self):
    out, smoothed = self.lift("pose_temporal", _script(), smooth="savgol", smooth_fps=15.0)
    raw = _read(out, "joints_3d_per_frame.json")
    self.assertEqual(smoothed["lifter"], {"kind": "temporal", "window": WINDOW})
    self.assertEqual(raw["lifter"], smoothed["lifter"])
    self.assertEqual(smoothed["smoothing"]["method"], "savgol")
    self.assertEqual(smoothed["frames"], raw["frames"])
    self.assertEqual(np.shape(smoothed["joints_3d"]), np.shape(raw["joints_3d"]))
    self.assertGreater(np.abs(np.subtract(smoothed["joints_3d"], raw["joints_3d"])).max(),
                       1e-6)

  def test_per_frame_lifter_is_recorded(self):
    _, joints = self.lift("pose", _script())
    self.assertEqual(joints["lifter"], {"kind": "per_frame", "window": 1})

  def test_unknown_model_fails_before_any_frame_is_read(self):
    out = os.path.join(self.get_temp_dir(), "never")
    detector = _ScriptedDetector(None)  # Would fail on the first frame.
    with self.assertRaisesRegex(client.ServingError, "HTTP 404: model 'absent' not found"):
      pose_video.run(self.frames, out, detector=detector, server=self.url, model="absent")
    self.assertFalse(os.path.exists(out))

  def test_smooth_without_a_server_is_a_config_error(self):
    out = os.path.join(self.get_temp_dir(), "never")
    with self.assertRaisesRegex(errors.ConfigError, "needs a server"):
      pose_video.run(self.frames, out, detector=_ScriptedDetector(_script()),
                     smooth="savgol")
    self.assertFalse(os.path.exists(out))


class LifterOfTest(testing.TestCase):

  def test_kinds_from_the_keypoints_input(self):
    signature = lambda *shape: {"inputs": {"keypoints_2d": ("float32", list(shape))}}
    self.assertEqual(pose_video.lifter_of(signature(None, 17, 2), "m"),
                     {"kind": "per_frame", "window": 1})
    self.assertEqual(pose_video.lifter_of(signature(None, 9, 17, 2), "m"),
                     {"kind": "temporal", "window": 9})
    for bad in (signature(None, 4, 17, 2), signature(None, None, 17, 2),
                signature(None, 17, 3), {"inputs": {"observation": ("float32", [None, 4])}}):
      with self.assertRaisesRegex(errors.ConfigError, "model 'm' is not a pose lifter"):
        pose_video.lifter_of(bad, "m")

  def test_person_runs_break_at_frames_without_a_person(self):
    read = [f"f{t}" for t in range(7)]
    self.assertAllEqual(pose_video.person_runs(["f0", "f1", "f2", "f4", "f6"], read),
                        [0, 0, 0, 1, 2])
    self.assertEqual(len(pose_video.person_runs([], read)), 0)


if __name__ == "__main__":
  testing.main()
