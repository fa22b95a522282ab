r"""Is an sfm run reproducible from one process to the next? Data order and gradients.

Starts `--processes` fresh Python processes of this commit with the same gin configuration
and seed. Each builds the task's training stream and the model exactly as `train()` does,
then prints
  * a digest of the first `--batches` training batches (frames, intrinsics and the memory
    depth maps, in order): the data order;
  * a digest of the generator's weights after building them: the initialisation;
  * a digest of the generator's gradient of its weighted loss on the first batch
    (reconstruction + smoothness + adversarial, in training mode): the arithmetic.
The parent prints the digests side by side and whether they agree. Two runs of the README
command that differ although these agree differ in what training does with the same numbers
(thread scheduling of reductions, oneDNN kernels chosen by the machine's load), which
training then amplifies.

    python experiments/sfm_reproducibility.py
    python experiments/sfm_reproducibility.py --processes=3 --batches=300 --gin_bindings='train.seed = 1'
    python experiments/sfm_reproducibility.py --gin_file=gin/testing/tiny.gin  # tiny sizes
"""

import hashlib
import json
import os
import subprocess
import sys

from absl import app
from absl import flags

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_integer("processes", 2, "Fresh processes to compare.")
flags.DEFINE_integer("batches", 50, "Training batches whose order is compared.")
flags.DEFINE_multi_string("gin_file", ["gin/sfm.gin"], "Gin files (the README command's "
                          "by default; add gin/testing/tiny.gin for the tiny test sizes).")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings, e.g. 'train.seed = 1'.")
flags.DEFINE_bool("child", False, "Internal: run one measurement and print JSON.")
FLAGS = flags.FLAGS


def _digest(arrays):
  digest = hashlib.sha256()
  for array in arrays:
    digest.update(array.tobytes())
  return digest.hexdigest()[:16]


def measure():
  """One process's digests (see the module docstring), as a dict."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.core import keys  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  config.parse([os.path.join(_ROOT, f) for f in FLAGS.gin_file], FLAGS.gin_bindings)
  seed = config.resolve("train.seed")
  batch_size = config.resolve("train.batch_size")
  task = config.resolve("train.task")
  keras.utils.set_random_seed(seed)
  aign = trainer.build_model(config.resolve("train.model"),
                             config.resolve("train.generator_optimizer"),
                             config.resolve("train.discriminator_optimizer"))
  dataset = task.train_dataset(batch_size, seed=seed, with_memory=aign.uses_discriminator)
  batches = list(dataset.take(FLAGS.batches))
  order = []
  for batch in batches:
    observation = batch[keys.OBSERVATION]
    parts = [np.asarray(v) for _, v in sorted(observation.items())] if isinstance(
        observation, dict) else [np.asarray(observation)]
    if keys.MEMORY in batch:
      parts.append(np.asarray(batch[keys.MEMORY]))
    order.append(_digest(parts))
  first = batches[0]
  trainer.build_variables(aign, first)
  weights = _digest([v.numpy() for v in aign.generator.trainable_variables])
  with tf.GradientTape() as tape:
    prediction = aign.generator(first[keys.OBSERVATION], training=True)
    fake_logits = (aign.discriminator(prediction[aign.discriminator_input_key], training=True)
                   if aign.uses_discriminator else None)
    losses = aign.generator_losses(first, prediction, fake_logits)
    total, _ = aign._reduce_generator_losses(first, losses)  # pylint: disable=protected-access
  gradients = tape.gradient(total, aign.generator.trainable_variables)
  return {"data_order": _digest([np.frombuffer("".join(order).encode(), np.uint8)]),
          "first_batch": order[0], "last_batch": order[-1],
          "initial_weights": weights,
          "gradient": _digest([g.numpy() for g in gradients if g is not None]),
          "loss": float(total)}


def main(argv):
  del argv
  if FLAGS.child:
    print("RESULT " + json.dumps(measure()), flush=True)
    return
  command = [sys.executable, os.path.abspath(__file__), "--child",
             f"--batches={FLAGS.batches}"]
  command += [f"--gin_file={f}" for f in FLAGS.gin_file]
  command += [f"--gin_bindings={b}" for b in FLAGS.gin_bindings]
  results = []
  for i in range(FLAGS.processes):
    output = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True, check=False)
    lines = [l for l in output.stdout.splitlines() if l.startswith("RESULT ")]
    if output.returncode or not lines:
      sys.exit(f"process {i} failed (exit {output.returncode}):\n{output.stderr[-3000:]}")
    results.append(json.loads(lines[-1][len("RESULT "):]))
    print(f"process {i}: " + "  ".join(f"{k}={v}" for k, v in results[-1].items()), flush=True)
  for key in results[0]:
    same = len({json.dumps(r[key]) for r in results}) == 1
    print(f"{key:<16} {'same in all' if same else 'DIFFERS'} ({FLAGS.processes} processes)")


if __name__ == "__main__":
  app.run(main)
