r"""Weight digests of a 2-step run of every task, to check that a refactor changes no numbers.

For each task gin file (or those given), trains 2 steps with gin/testing/tiny.gin in a
scratch folder and prints the generator's weight digest and the final evaluation's metrics.
Run it on the commit before and after a change (with the same warm data cache: a cold sfm
cache gives other digests at the same seed) and compare the lines:

    python experiments/tiny_digests.py
    python experiments/tiny_digests.py --gin_files=sfm.gin,toy.gin
"""

import json
import os
import tempfile

from absl import app
from absl import flags

flags.DEFINE_list("gin_files", None, "Task gin files under gin/ (default: every task's).")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings for every run, e.g. "
                          "'train.deterministic = True'.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  try:  # Commits before the layering refactor (5d1afec and older) kept gin parsing here.
    from aign_tf.train import config  # pylint: disable=g-import-not-at-top
  except ImportError:
    from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf import testing  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  scratch = tempfile.mkdtemp(prefix="tiny_digests_")
  for gin_file in FLAGS.gin_files or testing.task_gin_files():
    config.parse([os.path.join(testing.GIN_DIR, gin_file),
                  os.path.join(testing.GIN_DIR, "testing", "tiny.gin")],
                 ["train.eval_every = 0"] + FLAGS.gin_bindings)
    result = trainer.train(os.path.join(scratch, os.path.splitext(gin_file)[0]))
    print(json.dumps({"gin_file": gin_file, "weights_digest": result["weights_digest"],
                      "eval": {k: round(v, 6) for k, v in sorted(result["eval"].items())}}),
          flush=True)


if __name__ == "__main__":
  app.run(main)
