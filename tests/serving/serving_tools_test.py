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

from aign_tf import config
from aign_tf import testing
from aign_tf.serving import client as client_lib
from aign_tf.serving import export
from aign_tf.serving import model_config
from aign_tf.serving import repository
from aign_tf.serving import server
from aign_tf.serving import testing as serving_testing
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
    (person,) = joints["images"][0]["people"]
    self.assertEqual(np.asarray(person["joints_3d"]).shape, (17, 3))
    self.assertEqual(np.asarray(person["camera"]).shape, (3,))

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


def coco_annotation(rng, image_id=None, unseen=(), centre=(320.0, 240.0)):
  """A COCO results annotation (17 x (u, v, c), flat) of a person about 200 px tall."""
  keypoints = np.concatenate([rng.uniform(-40, 40, (17, 1)) + centre[0],
                              np.linspace(-100, 100, 17)[:, None] + centre[1],
                              rng.uniform(0.5, 1.0, (17, 1))], axis=1)
  for joint, placeholder in unseen:
    keypoints[joint] = placeholder
  entry = {"keypoints": keypoints.ravel().round(2).tolist(), "category_id": 1,
           "bbox": [centre[0] - 50, centre[1] - 110, 100, 220],
           "score": float(rng.uniform(0.5, 1.0))}
  if image_id is not None:
    entry["image_id"] = image_id
  return entry


class PosePredictToolTest(testing.TestCase):
  """tools/predict.py against a local server with an exported pose model (untrained, tiny)
  and the fake image model: detector files in, grouped 3D out; bad input one line, exit 2."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    from aign_tf.models import pose_networks  # pylint: disable=g-import-not-at-top
    from aign_tf.tasks import pose  # pylint: disable=g-import-not-at-top
    cls.base = os.path.join(tf.compat.v1.test.get_temp_dir(), "pose_predict_models")
    generator = pose_networks.PoseLifter(hidden_units=8, num_blocks=1)
    generator(tf.zeros([1, 17, 2]))
    export.save(pose.PoseTask(), generator, os.path.join(cls.base, "pose", "1"))
    serving_testing.export_fake("image", os.path.join(cls.base, "image", "1"))
    cls.repo = repository.Repository(
        [model_config.ModelConfig(name, os.path.join(cls.base, name))
         for name in ("pose", "image")], poll_seconds=60)
    cls.repo.start()
    cls.srv = server.ModelServer(cls.repo, port=0).start()

  @classmethod
  def tearDownClass(cls):
    cls.srv.shutdown()
    super().tearDownClass()

  def write_json(self, data, name):
    path = os.path.join(self.get_temp_dir(), name)
    with open(path, "w") as f:
      json.dump(data, f)
    return path

  def predict(self, *args):
    return tool("predict.py", f"--server={self.srv.url}", *args)

  def test_coco_results_grouped_by_image_and_finite(self):
    rng = np.random.default_rng(0)
    annotations = [
        coco_annotation(rng, 1, unseen=[(3, [0, 0, 0])], centre=(200, 240)),
        coco_annotation(rng, 2, unseen=[(9, [0, -3, 0])]),
        coco_annotation(rng, 1, centre=(450, 250)),
        coco_annotation(rng, 2, unseen=[(11, [0, 0, 0])])]  # A hip unseen: skipped.
    keypoints_path = self.write_json(annotations, "photo.predictions.json")
    output = os.path.join(self.get_temp_dir(), "out", "joints.json")
    plot = os.path.join(self.get_temp_dir(), "out", "joints.png")
    result = self.predict("--model=pose", f"--keypoints={keypoints_path}",
                          "--image_size=640x480", f"--output={output}", f"--plot={plot}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    self.assertIn("for 3 people in 2 images", result.stdout)
    self.assertIn("1 skipped", result.stdout)
    with open(output) as f:
      document = json.load(f)
    self.assertEqual([image["image_id"] for image in document["images"]], [1, 2])
    self.assertEqual([[p["index"] for p in image["people"]] for image in document["images"]],
                     [[0, 2], [1, 3]])
    self.assertEqual(document["layout"], "coco17")
    self.assertEqual(document["images"][0]["intrinsics"]["fx"], 640.0)
    for image in document["images"]:
      for person in image["people"]:
        self.assertIn("score", person)
        self.assertLen(person["bbox"], 4)
        if person["index"] == 3:
          self.assertIn("pelvis", person["skipped"])
          continue
        joints = np.asarray(person["joints_3d"])
        self.assertEqual(joints.shape, (17, 3))
        self.assertTrue(np.all(np.isfinite(joints)))
        self.assertGreater(person["root_depth"], 0.0)
        self.assertLen(person["camera_translation"], 3)
    with Image.open(plot) as picture:
      self.assertGreater(picture.size[0], 300)

  def test_without_image_id_and_from_an_image_file(self):
    rng = np.random.default_rng(1)
    keypoints_path = self.write_json([coco_annotation(rng), coco_annotation(rng)], "p.json")
    image_path = os.path.join(self.get_temp_dir(), "photo.png")
    Image.fromarray(np.zeros((480, 640, 3), np.uint8)).save(image_path)
    output = os.path.join(self.get_temp_dir(), "j.json")
    result = self.predict("--model=pose", f"--keypoints={keypoints_path}",
                          f"--image={image_path}", f"--output={output}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    with open(output) as f:
      (image,) = json.load(f)["images"]
    self.assertIsNone(image["image_id"])
    self.assertLen(image["people"], 2)
    self.assertIn("photo.png", image["intrinsics"]["from"])

  def test_videopose3d_npz_selected_clip(self):
    rng = np.random.default_rng(2)
    clip = np.stack([np.asarray(coco_annotation(rng)["keypoints"]).reshape(17, 3)[:, :2]
                     for _ in range(3)]).astype(np.float32)
    path = os.path.join(self.get_temp_dir(), "data_2d_custom_v.npz")
    np.savez_compressed(path, positions_2d={"a.mp4": {"custom": [clip]},
                                            "b.mp4": {"custom": [clip]}},
                        metadata={"layout_name": "coco", "num_joints": 17,
                                  "video_metadata": {"a.mp4": {"w": 640, "h": 480},
                                                     "b.mp4": {"w": 640, "h": 480}}})
    output = os.path.join(self.get_temp_dir(), "npz.json")
    result = self.predict("--model=pose", f"--keypoints={path}", "--subject=b.mp4",
                          f"--output={output}")
    self.assertEqual(result.returncode, 0, result.stderr[-2000:])
    with open(output) as f:
      (sequence,) = json.load(f)["sequences"]
    self.assertEqual((sequence["subject"], sequence["action"], sequence["camera"]),
                     ("b.mp4", "custom", 0))
    self.assertEqual([frame["frame"] for frame in sequence["frames"]], [0, 1, 2])

  def test_bad_keypoints_are_one_line_and_write_nothing(self):
    rng = np.random.default_rng(3)
    string = coco_annotation(rng)
    string["keypoints"][4] = "12"
    big = coco_annotation(rng)
    big["keypoints"][27] = 1e300
    unseen = coco_annotation(rng)
    unseen["keypoints"] = [0.0] * 51
    cases = [
        ([string], ["--image_size=640x480"], r"\[0\]\.keypoints\[4\] is '12'"),
        ({"people": 5}, ["--image_size=640x480"], "field 'people' must be a list"),
        ([unseen], ["--image_size=640x480"], "every keypoint of every person is unseen"),
        ([big], ["--image_size=640x480"], r"keypoint 9 \(l_wrist\) u = 1e\+300 overflows "
         "float32"),
        ([coco_annotation(rng)], [], "--intrinsics=fx,fy,cx,cy.*--image=.*--image_size=WxH"),
        ([coco_annotation(rng)], ["--intrinsics=0,500,320,240"],
         "--intrinsics: focal lengths must be positive"),
        ([coco_annotation(rng)], ["--intrinsics=500,500,9000,240", "--image_size=640x480"],
         "principal point .* far outside the 640x480 image"),
    ]
    for i, (data, flags, message) in enumerate(cases):
      with self.subTest(message=message):
        path = self.write_json(data, f"bad{i}.json")
        output = os.path.join(self.get_temp_dir(), f"bad{i}_out.json")
        result = self.predict("--model=pose", f"--keypoints={path}", f"--output={output}",
                              *flags)
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        lines = result.stderr.strip().splitlines()
        self.assertLen(lines, 1, result.stderr)
        self.assertRegex(lines[0], "^error: ")
        self.assertRegex(lines[0], message)
        if "--intrinsics" not in " ".join(flags):
          self.assertIn(f"bad{i}.json", lines[0])
        self.assertFalse(os.path.exists(output))

  def test_images_go_on_after_a_bad_one(self):
    paths = []
    for name in ("a.png", "empty.png", "c.png"):
      path = os.path.join(self.get_temp_dir(), name)
      with open(path, "wb") as f:
        if name != "empty.png":
          f.write(serving_testing.encode_png(np.full((8, 8, 3), 100, np.uint8)))
      paths.append(path)
    out_dir = os.path.join(self.get_temp_dir(), "images_out")
    result = self.predict("--model=image", f"--images={','.join(paths)}",
                          f"--output_dir={out_dir}")
    self.assertEqual(result.returncode, 2, result.stderr[-2000:])
    self.assertIn("empty.png: empty file", result.stderr)
    self.assertIn("1 of 3 images failed", result.stderr)
    self.assertTrue(os.path.isfile(os.path.join(out_dir, "a_image.png")))
    self.assertTrue(os.path.isfile(os.path.join(out_dir, "c_image.png")))
    self.assertFalse(os.path.exists(os.path.join(out_dir, "empty_image.png")))


if __name__ == "__main__":
  tf.test.main()
