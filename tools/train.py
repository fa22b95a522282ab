"""Train an AIGN model: python tools/train.py --gin_file=gin/sfm.gin [--gin_bindings=...].

Re-running the same command resumes from the latest checkpoint in --model_dir
(default: runs/<name of the first gin file>).
"""

from absl import app
from absl import flags

flags.DEFINE_multi_string("gin_file", [], "gin config file(s), applied in order.")
flags.DEFINE_multi_string("gin_bindings", [], "gin bindings, e.g. 'train_steps = 10'.")
flags.DEFINE_string("model_dir", None,
                    "Where checkpoints, summaries and the operative config go "
                    "(default: runs/<name of the first gin file>).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  cli.train_main(FLAGS.gin_file, FLAGS.gin_bindings, FLAGS.model_dir)


if __name__ == "__main__":
  app.run(main)
