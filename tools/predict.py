"""Query a model served over TF Serving's REST API (tools/serve.py or real TF Serving).

    # Images (PNG/JPEG in -> PNG out) through the model's serving_png signature (PNGs made
    # by the model; only its uint8 picture outputs), else serving_bytes (every output):
    python tools/predict.py --model=faces_sr --images=a.png,b.png --output_dir=out/
    # 2D keypoints JSON in -> the model's outputs (3D joints, camera) as JSON:
    python tools/predict.py --model=pose --keypoints=people.json --output=joints.json
    # Any request body (TF Serving's JSON) -> the response on stdout:
    python tools/predict.py --model=toy --request_json=request.json
    # Status and signatures:
    python tools/predict.py --model=toy --show

--server defaults to http://127.0.0.1:8501.
"""

import json

from absl import app
from absl import flags

flags.DEFINE_string("server", "http://127.0.0.1:8501", "Server URL.")
flags.DEFINE_string("model", None, "Model name.", required=True)
flags.DEFINE_integer("version", None, "Model version (default: the served latest).")
flags.DEFINE_list("images", [], "Image files to send (serving_png or serving_bytes).")
flags.DEFINE_bool("png_outputs", True, "Image mode: use the model's serving_png signature "
                  "when it has one (fast; writes only its uint8 picture outputs); "
                  "--nopng_outputs uses serving_bytes and writes every output.")
flags.DEFINE_string("extra_inputs", None,
                    "JSON object of the non-image inputs of an image model (one example).")
flags.DEFINE_string("output_dir", "predictions", "Where image mode writes its outputs.")
flags.DEFINE_string("keypoints", None, "A 2D keypoints JSON (see aign_tf.data.mocap.keypoints2d).")
flags.DEFINE_string("layout", None, "Keypoint layout overriding the file's (coco17, h36m17).")
flags.DEFINE_string("output", "joints_3d.json", "Where keypoints mode writes the outputs.")
flags.DEFINE_string("plot", None, "Keypoints mode: also write a PNG of the 2D input and the "
                    "3D prediction here.")
flags.DEFINE_string("request_json", None, "Send this request body as is; print the response.")
flags.DEFINE_bool("show", False, "Print the model's status and signatures.")
flags.DEFINE_float("timeout", 60.0, "Seconds to wait for the server.")
FLAGS = flags.FLAGS


def _run():
  from aign_tf import errors  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import client as client_lib  # pylint: disable=g-import-not-at-top

  client = client_lib.Client(FLAGS.server, timeout=FLAGS.timeout)
  modes = [bool(FLAGS.images), bool(FLAGS.keypoints), bool(FLAGS.request_json), FLAGS.show]
  if sum(modes) != 1:
    raise errors.ConfigError("give exactly one of --images, --keypoints, --request_json, "
                             "--show")
  if FLAGS.show:
    print(json.dumps({"status": client.status(FLAGS.model, FLAGS.version),
                      "signatures": client.signatures(FLAGS.model, FLAGS.version)}, indent=1))
  elif FLAGS.request_json:
    try:
      with open(FLAGS.request_json) as f:
        body = json.load(f)
    except (OSError, ValueError) as e:
      raise errors.DataError(f"{FLAGS.request_json}: {e}") from e
    url = client._url(FLAGS.model, FLAGS.version) + ":predict"  # pylint: disable=protected-access
    print(json.dumps(client._call(url, body)))  # pylint: disable=protected-access
  elif FLAGS.images:
    extra = json.loads(FLAGS.extra_inputs) if FLAGS.extra_inputs else None
    for path in client_lib.predict_images(client, FLAGS.model, FLAGS.images, FLAGS.output_dir,
                                          FLAGS.version, extra, FLAGS.png_outputs):
      print(path)
  else:
    try:
      from aign_tf.data.mocap import keypoints2d  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise errors.ConfigError("keypoints mode needs aign_tf.data.mocap.keypoints2d") from e
    keypoints = keypoints2d.read_keypoints_json(FLAGS.keypoints, layout=FLAGS.layout)
    outputs = client_lib.predict_keypoints(client, FLAGS.model, keypoints, FLAGS.output,
                                           FLAGS.version)
    print(f"wrote {', '.join(sorted(outputs))} for {len(keypoints['keypoints_2d'])} "
          f"people to {FLAGS.output}")
    if FLAGS.plot:
      from aign_tf.tasks import pose  # pylint: disable=g-import-not-at-top
      from aign_tf.core import imaging  # pylint: disable=g-import-not-at-top
      imaging.write_png(FLAGS.plot, pose.plot_poses(keypoints["keypoints_2d"],
                                                      outputs["joints_3d"]))
      print(f"wrote {FLAGS.plot}")


def main(argv):
  del argv
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  cli.run(_run)  # Server errors (ServingError) print as one "error: HTTP 4xx: ..." line.


if __name__ == "__main__":
  app.run(main)
