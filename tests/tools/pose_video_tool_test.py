"""tools/pose_video.py as a user runs it: a frame folder in, files out; bad input, one line."""

import os
import subprocess
import sys

from PIL import Image
import skimage.data

from aign_tf import testing
from aign_tf.detectors import testing as detector_testing


def tool(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", AIGN_TF_DETECTORS=detector_testing.model_dir())
  return subprocess.run([sys.executable, os.path.join("tools", "pose_video.py"), *args],
                        cwd=testing.REPO_DIR, capture_output=True, text=True, timeout=300,
                        env=env)


class PoseVideoToolTest(testing.TestCase):

  def test_frame_folder_to_keypoints_and_drawings(self):
    folder = os.path.join(self.get_temp_dir(), "frames")
    os.makedirs(folder)
    image = skimage.data.astronaut()
    Image.fromarray(image).save(os.path.join(folder, "a.png"))
    Image.fromarray(image[:, ::-1]).save(os.path.join(folder, "b.jpg"))
    out = os.path.join(self.get_temp_dir(), "out")
    result = tool(f"--input={folder}", f"--output_dir={out}", "--fov_degrees=70")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("2 of 2 frames with a person", result.stdout)
    self.assertCountEqual(os.listdir(os.path.join(out, "keypoints")), ["a.json", "b.json"])
    self.assertCountEqual(os.listdir(os.path.join(out, "frames")), ["a.png", "b.png"])
    self.assertTrue(os.path.isfile(os.path.join(out, "skeleton.gif")))

  def test_bad_inputs_are_one_line_errors(self):
    broken = os.path.join(self.get_temp_dir(), "broken.mp4")
    with open(broken, "wb") as f:
      f.write(b"\x00garbage" * 50)
    out = os.path.join(self.get_temp_dir(), "never")
    try:
      import av  # pylint: disable=g-import-not-at-top,unused-import
      undecodable = "broken.mp4: cannot decode this video"
    except ImportError:
      undecodable = "reading videos needs PyAV: pip install -e \".[video]\""
    for path, message in ((broken, undecodable),
                          (os.path.join(self.get_temp_dir(), "absent.mp4"),
                           "absent.mp4: no such file or folder")):
      result = tool(f"--input={path}", f"--output_dir={out}")
      self.assertEqual(result.returncode, 2, result.stderr[-2000:])
      errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
      self.assertLen(errors, 1)
      self.assertIn(message, errors[0])
      self.assertFalse(os.path.exists(out))
