"""Query a model served over TF Serving's REST API (tools/serve.py or real TF Serving).

    # Images (PNG/JPEG in -> PNG out) through the model's serving_png signature (PNGs made
    # by the model; only its uint8 picture outputs), else serving_bytes (every output):
    python tools/predict.py --model=faces_sr --images=a.png,b.png --output_dir=out/
    # 2D keypoints in (COCO results JSON / openpifpaf *.predictions.json, the project's
    # JSON, VideoPose3D data_2d_*.npz) -> 3D joints per person, grouped as in the file:
    python tools/predict.py --model=pose --keypoints=photo.predictions.json \
        --image=photo.jpg --output=joints.json --plot=joints.png
    python tools/predict.py --model=pose --keypoints=data_2d_h36m_cpn_ft_h36m_dbb.npz \
        --subject=S9 --action="Walking 1" --camera=0 --intrinsics=1145,1144,512,515
    # Any request body (TF Serving's JSON) -> the response on stdout:
    python tools/predict.py --model=toy --request_json=request.json
    # Status and signatures:
    python tools/predict.py --model=toy --show

--server defaults to http://127.0.0.1:8501.
"""

import json
import sys

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
flags.DEFINE_string("keypoints", None, "2D keypoints: COCO results JSON, the project's JSON "
                    "or a VideoPose3D .npz (see aign_tf.data.mocap.keypoints2d).")
flags.DEFINE_string("layout", None, "Keypoint layout overriding the file's (coco17, h36m17); "
                    "default: the file's, else coco17 for 17 joints.")
flags.DEFINE_string("intrinsics", None, "Keypoints mode: camera intrinsics fx,fy,cx,cy in "
                    "pixels (overrides the file's).")
flags.DEFINE_string("image", None, "Keypoints mode: the photo the keypoints were detected on; "
                    "its size gives intrinsics with --fov_degrees.")
flags.DEFINE_string("image_size", None, "Keypoints mode: WxH of that photo, instead of "
                    "--image.")
flags.DEFINE_float("fov_degrees", None, "Horizontal field of view assumed with --image or "
                   "--image_size (default 53.13: focal length = image width).")
flags.DEFINE_list("subject", None, "VideoPose3D npz: subjects to read (default: all).")
flags.DEFINE_list("action", None, "VideoPose3D npz: actions to read (default: all).")
flags.DEFINE_list("camera", None, "VideoPose3D npz: camera indices to read (default: all).")
flags.DEFINE_string("output", "joints_3d.json", "Where keypoints mode writes the outputs.")
flags.DEFINE_string("plot", None, "Keypoints mode: also write a PNG of the 2D input and the "
                    "3D prediction (camera and side views) here, one row per image (up to 4).")
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
    failures = []
    for path in client_lib.predict_images(client, FLAGS.model, FLAGS.images, FLAGS.output_dir,
                                          FLAGS.version, extra, FLAGS.png_outputs,
                                          failures=failures):
      print(path)
    for _, message in failures:
      print(f"error: {message}", file=sys.stderr)
    if failures:
      raise errors.DataError(f"{len(failures)} of {len(FLAGS.images)} images failed: "
                             f"{', '.join(path for path, _ in failures)}")
  else:
    from aign_tf.data.mocap import keypoints2d  # pylint: disable=g-import-not-at-top
    keypoints = keypoints2d.read_keypoints(
        FLAGS.keypoints, layout=FLAGS.layout, intrinsics=FLAGS.intrinsics, image=FLAGS.image,
        image_size=FLAGS.image_size, fov_degrees=FLAGS.fov_degrees, subjects=FLAGS.subject,
        actions=FLAGS.action, cameras=FLAGS.camera)
    outputs = client_lib.predict_keypoints(
        client, FLAGS.model, keypoints, FLAGS.output, FLAGS.version,
        to_json=lambda outputs: keypoints2d.predictions_to_json(keypoints, outputs))
    skipped = sum(1 for person in keypoints["people"] if person["row"] is None)
    print(f"wrote {', '.join(sorted(outputs))} for {len(keypoints['keypoints_2d'])} people "
          f"in {len(keypoints['groups'])} {keypoints['group_by']} to {FLAGS.output}" +
          (f" ({skipped} skipped: see their 'skipped' field)" if skipped else ""))
    if FLAGS.plot:
      from aign_tf.core import imaging  # pylint: disable=g-import-not-at-top
      from aign_tf.tasks import pose_pictures  # pylint: disable=g-import-not-at-top
      imaging.write_png(FLAGS.plot, pose_pictures.plot_predictions(keypoints, outputs))
      print(f"wrote {FLAGS.plot}")


def main(argv):
  del argv
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  cli.run(_run)  # Server errors (ServingError) print as one "error: HTTP 4xx: ..." line.


if __name__ == "__main__":
  app.run(main)
