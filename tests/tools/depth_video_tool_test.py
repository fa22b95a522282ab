"""tools/depth_video.py as a user runs it: frames and an exported sfm model in, files out; bad
input, one line and exit code 2.

The export here holds an untrained tiny sfm generator (built from gin/sfm.gin +
gin/testing/tiny.gin as `runs.restore` builds it, no training steps): the tool's plumbing does
not depend on the weights, and tests/serving/depth_video_test.py covers a trained one.
"""

import os
import subprocess
import sys

from PIL import Image
import skimage.data

from aign_tf import config
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.serving import export


def tool(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join("tools", "depth_video.py"), *args],
                        cwd=testing.REPO_DIR, capture_output=True, text=True, timeout=300,
                        env=env)


class DepthVideoToolTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.folder = os.path.join(self.get_temp_dir(), "frames")
    os.makedirs(self.folder, exist_ok=True)
    image = skimage.data.astronaut()
    for i in range(4):
      Image.fromarray(image[100:340, 60 + 4 * i:380 + 4 * i]).save(
          os.path.join(self.folder, f"f{i}.png"))

  def test_frame_folder_to_depth_files(self):
    config.parse([os.path.join(testing.GIN_DIR, "sfm.gin"),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
    task = config.resolve("train.task")
    model = config.resolve("train.model")()
    model.generator(next(iter(task.eval_dataset(2).take(1)))[keys.OBSERVATION],
                    training=False)
    saved_model = os.path.join(self.get_temp_dir(), "export", "sfm", "1")
    export.save(task, model.generator, saved_model)
    out = os.path.join(self.get_temp_dir(), "out")
    result = tool(f"--input={self.folder}", f"--output_dir={out}",
                  f"--saved_model={saved_model}", "--ply_frame=1", "--ply_format=ascii",
                  "--intrinsics=277,277,159.5,119.5")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("4 frames, model input 32x64", result.stdout)
    self.assertCountEqual(os.listdir(os.path.join(out, "frames")),
                          [f"f{i}.png" for i in range(4)])
    for name in ("depth.gif", "depth.npz", "points_f1.ply", "trajectory.txt",
                 "trajectory.png", "summary.json"):
      self.assertTrue(os.path.isfile(os.path.join(out, name)), name)
    with open(os.path.join(out, "points_f1.ply")) as f:
      self.assertIn("element vertex 2048\n", f.read(400))
    with open(os.path.join(out, "trajectory.txt")) as f:
      self.assertLen([l for l in f if not l.startswith("#")], 4)

  def test_bad_inputs_are_one_line_errors(self):
    broken = os.path.join(self.get_temp_dir(), "broken.mp4")
    with open(broken, "wb") as f:
      f.write(b"\x00garbage" * 50)
    try:
      import av  # pylint: disable=g-import-not-at-top,unused-import
      undecodable = "broken.mp4: cannot decode this video"
    except ImportError:
      undecodable = "reading videos needs PyAV: pip install -e \".[video]\""
    model = f"--model_dir={self.folder}"
    out = os.path.join(self.get_temp_dir(), "never")
    for args, message in (
        ((f"--input={broken}", model), undecodable),
        ((f"--input={self.folder}", model, "--intrinsics=300,300,900,120"),
         "intrinsics: c_x = 900 lies outside the 320x240 frames"),
        ((f"--input={self.folder}", "--intrinsics=300,300,160"),
         "intrinsics: expected fx,fy,cx,cy"),
        ((f"--input={self.folder}",), "give the model as saved_model"),
        ((f"--input={self.folder}", model), "frames' holds no operative_config.gin: not a "
         "training directory")):
      result = tool(*args, f"--output_dir={out}")
      self.assertEqual(result.returncode, 2, result.stderr[-2000:])
      errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
      self.assertLen(errors, 1, result.stderr[-2000:])
      self.assertIn(message, errors[0])
      self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
  testing.main()
