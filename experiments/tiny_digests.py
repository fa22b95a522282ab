r"""Weight digests of a 2-step run of every task, to check that a refactor changes no numbers.

For each task gin file (or those given), trains 2 steps with gin/testing/tiny.gin in a
scratch folder and prints the generator's weight digest and the final evaluation's metrics.
Run it on the commit before and after a change and compare the lines. The sfm and faces_sr
digests can differ from one process to the next at these tiny sizes (measured: three runs of
the same commit, 2-3 distinct sfm digests, with or without `train.deterministic = True`, one
thread or two). The cause is the data order, not the arithmetic: an epoch here is one or two
batches, so the prefetch behind the trainer's first look at the data (the batch that builds
the variables) runs on into later epochs, and each epoch draws its reshuffle seed from a
seed generator the training iterator shares; how far it ran is a race. At the README sizes
(250 batches per epoch) the order is the same in every process (checked), and gradients of a
fixed batch are bitwise equal across processes. Compare toy, pose and faces_inpaint exactly,
and sfm / faces_sr over a few runs:

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
