"""Evaluate a trained model: python tools/evaluate.py --model_dir=runs/sfm [--split=eval].

Restores the latest checkpoint, runs the task's metrics, prints a table and optionally
writes --output_json as {"task", "split", "step", "num_examples", "metrics"}.
"""

from absl import app
from absl import flags

flags.DEFINE_string("model_dir", None, "A training directory.", required=True)
flags.DEFINE_string("split", "eval", "Which split of the task's data.")
flags.DEFINE_integer("num_batches", None, "Stop after this many batches (default: all).")
flags.DEFINE_integer("batch_size", None, "Default: the training batch size.")
flags.DEFINE_string("output_json", None, "Write the report here.")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings, e.g. a data path.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  from aign_tf.train import evaluation  # pylint: disable=g-import-not-at-top
  report = cli.run(evaluation.evaluate, FLAGS.model_dir, split=FLAGS.split,
                   num_batches=FLAGS.num_batches, batch_size=FLAGS.batch_size,
                   output_json=FLAGS.output_json, extra_bindings=FLAGS.gin_bindings)
  print(evaluation.format_table(report))


if __name__ == "__main__":
  app.run(main)
