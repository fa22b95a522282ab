"""End-to-end tests of tools/export.py, tools/serve.py and tools/predict.py as a user runs
them: export, serve from export/models.config, query, export again while serving."""

import json
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import testing
from aign_tf.serving import client as client_lib
from aign_tf.serving import export
from aign_tf.serving import testing as serving_testing
from aign_tf import config
from aign_tf.train import trainer

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def tool(name, *args, timeout=300):
  return subprocess.run([sys.executable, os.path.join("tools", name), *args],
                        cwd=testing.REPO_DIR, capture_output=True, text=True, timeout=timeout,
                        env=ENV)


def train_toy(model_dir):
  config.parse([os.path.join(testing.GIN_DIR, "toy.gin"),
                os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
  trainer.train(model_dir)
  config.gin.clear_config()


class ServingToolsTest(testing.TestCase):

  def test_export_errors_are_one_line(self):
    result = tool("export.py", f"--model_dir={self.get_temp_dir()}",
                  f"--export_base={self.get_temp_dir()}/export")
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn("error:", result.stderr)
    self.assertIn("not a training directory", result.stderr)
    self.assertNotIn("Traceback", result.stderr)

  def test_export_serve_predict(self):
    model_dir = os.path.join(self.get_temp_dir(), "run")
    export_base = os.path.join(self.get_temp_dir(), "export")
    train_toy(model_dir)
    result = tool("export.py", f"--model_dir={model_dir}", f"--export_base={export_base}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("exported toy version 1", result.stdout)
    self.assertIn("serving_default", result.stdout)
    # Exporting into an existing version fails and leaves it alone.
    stamp = os.stat(os.path.join(export_base, "toy", "1", "saved_model.pb")).st_mtime_ns
    result = tool("export.py", f"--model_dir={model_dir}", f"--export_base={export_base}",
                  "--version=1")
    self.assertEqual(result.returncode, 2)
    self.assertIn("exists", result.stderr)
    self.assertEqual(
        os.stat(os.path.join(export_base, "toy", "1", "saved_model.pb")).st_mtime_ns, stamp)
    # Two fake models beside it (image and keypoints), listed in models.config too.
    serving_testing.export_fake("image", os.path.join(export_base, "image", "1"))
    serving_testing.export_fake("keypoints", os.path.join(export_base, "keypoints", "1"))
    export.update_models_config(export_base)

    process = subprocess.Popen(
        [sys.executable, "tools/serve.py", f"--model_config_file={export_base}/models.config",
         "--rest_api_port=0", "--file_system_poll_wait_seconds=1"],
        cwd=testing.REPO_DIR, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
      line = process.stdout.readline()
      self.assertIn("serving image, keypoints, toy at http://127.0.0.1:", line,
                    process.stderr.read() if not line else line)
      url = line.strip().rsplit(" ", 1)[1]
      self._query(url, export_base, model_dir)
    finally:
      process.terminate()
      process.wait(timeout=60)

  def _query(self, url, export_base, model_dir):
    request_path = os.path.join(self.get_temp_dir(), "request.json")
    with open(request_path, "w") as f:
      json.dump({"instances": [[1, 2, 3, 4]]}, f)
    result = tool("predict.py", f"--server={url}", "--model=toy",
                  f"--request_json={request_path}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    first = json.loads(result.stdout)["predictions"]
    self.assertLen(first[0]["factors"], 8)

    # Image mode: PNG in, PNGs out.
    image = np.random.default_rng(0).integers(0, 256, [8, 8, 3]).astype(np.uint8)
    image_path = os.path.join(self.get_temp_dir(), "face.png")
    with open(image_path, "wb") as f:
      f.write(serving_testing.encode_png(image))
    out_dir = os.path.join(self.get_temp_dir(), "out")
    result = tool("predict.py", f"--server={url}", "--model=image", f"--images={image_path}",
                  f"--output_dir={out_dir}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertTrue(os.path.isfile(os.path.join(out_dir, "face_image.png")))

    # Keypoints mode: a 2D keypoints JSON in, the outputs as JSON.
    keypoints_path = os.path.join(self.get_temp_dir(), "people.json")
    pixels = np.random.default_rng(1).uniform(200, 800, [17, 2])
    with open(keypoints_path, "w") as f:
      json.dump({"layout": "h36m17",
                 "intrinsics": {"fx": 1000.0, "fy": 1000.0, "cx": 500.0, "cy": 500.0},
                 "people": [{"keypoints": [[u, v, 1.0] for u, v in pixels]}]}, f)
    joints_path = os.path.join(self.get_temp_dir(), "joints.json")
    plot_path = os.path.join(self.get_temp_dir(), "joints.png")
    result = tool("predict.py", f"--server={url}", "--model=keypoints",
                  f"--keypoints={keypoints_path}", f"--output={joints_path}",
                  f"--plot={plot_path}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    with Image.open(plot_path) as plot:
      self.assertGreater(plot.size[0], 100)
    with open(joints_path) as f:
      joints = json.load(f)
    self.assertEqual(np.asarray(joints["joints_3d"]).shape, (1, 17, 3))
    self.assertEqual(np.asarray(joints["camera"]).shape, (1, 3))

    # Errors from the server are one line.
    result = tool("predict.py", f"--server={url}", "--model=nope", "--show")
    self.assertEqual(result.returncode, 2)
    self.assertIn("HTTP 404", result.stderr)

    # A new export is served without a restart.
    result = tool("export.py", f"--model_dir={model_dir}", f"--export_base={export_base}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    client = client_lib.Client(url)
    deadline = time.time() + 60
    while time.time() < deadline:
      versions = [s["version"] for s in client.status("toy")["model_version_status"]]
      if versions == ["2"]:
        break
      time.sleep(0.5)
    self.assertEqual(versions, ["2"])
    self.assertAllClose(client.predict("toy", instances=[[1, 2, 3, 4]])[0]["factors"],
                        first[0]["factors"], atol=1e-6)  # Same checkpoint, same outputs.


if __name__ == "__main__":
  tf.test.main()
