"""Convert an exported SavedModel to TFLite (batch 1) and verify it in LiteRT:

    python tools/export_tflite.py --saved_model=export/faces_sr/1 --quantization=int8 \
        [--output=faces_sr.tflite] [--num_calibration_samples=64] [--min_psnr=25]

Writes the .tflite (default export/<name>/<name>_<version>_<quantization>.tflite) and a
.tflite.json report (max abs difference and PSNR against the SavedModel on held-out inputs).
Exits non-zero, removing both, if the PSNR is below --min_psnr.
"""

from absl import app
from absl import flags

flags.DEFINE_string("saved_model", None, "An export version folder export/<name>/<version>.",
                    required=True)
flags.DEFINE_enum("quantization", "none", ["none", "float16", "int8"],
                  "none: float32; float16: float16 weights; int8: full integer, calibrated "
                  "on the task's training inputs.")
flags.DEFINE_string("output", None, "The .tflite path (default: next to the SavedModel).")
flags.DEFINE_integer("num_calibration_samples", 64, "int8 calibration inputs.")
flags.DEFINE_integer("num_verification_samples", 8, "Held-out inputs compared in LiteRT.")
flags.DEFINE_float("min_psnr", None, "Fail below this PSNR in dB (default 40; int8: 25).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from aign_tf.serving import tflite  # pylint: disable=g-import-not-at-top
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  # Bad input and failed verification (tflite.ConversionError): one line, exit code 2.
  report = cli.run(tflite.convert, FLAGS.saved_model, FLAGS.quantization,
                   output=FLAGS.output,
                   num_calibration_samples=FLAGS.num_calibration_samples,
                   num_verification_samples=FLAGS.num_verification_samples,
                   min_psnr=FLAGS.min_psnr)
  print(tflite.format_report(report))


if __name__ == "__main__":
  app.run(main)
