"""Face demo with LiteRT: crop the face in a photo, run a face .tflite, write input | output.

    python tools/face_demo.py --model=faces_sr.tflite --image=in.png --output=out.png \
        [--nodetect] [--mask=mouth|nose]

Face detection uses OpenCV's Haar cascade when opencv is installed (else the centre square,
with a notice). Inpainting models get a mouth (or nose) box hidden.
"""

from absl import app
from absl import flags

flags.DEFINE_string("model", None, "A face .tflite (tools/export_tflite.py).", required=True)
flags.DEFINE_string("image", None, "A photo (PNG/JPEG) with a face.", required=True)
flags.DEFINE_string("output", None, "The side-by-side PNG to write.", required=True)
flags.DEFINE_bool("detect", True, "Find the face with OpenCV; --nodetect: centre square.")
flags.DEFINE_enum("mask", "mouth", ["mouth", "nose"], "Inpainting: the box to hide.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from aign_tf.serving import face_demo  # pylint: disable=g-import-not-at-top
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  result = cli.run(face_demo.run, FLAGS.model, FLAGS.image, FLAGS.output,
                   detect=FLAGS.detect, mask_box=FLAGS.mask)
  left, top, side = result["crop"]
  print(f"face crop {side}x{side} at ({left}, {top}); wrote {FLAGS.output} "
        f"({result['panel_shape'][1]}x{result['panel_shape'][0]})")


if __name__ == "__main__":
  app.run(main)
