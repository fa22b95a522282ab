"""Does the README's main job learn? Trains gin/sfm.gin and compares with trivial baselines.

Trains the default structure-from-motion configuration (procedural corridors, view synthesis
+ depth discriminator), evaluates on the held-out procedural scenes, and prints the depth
metrics (after per-image median scaling) and egomotion errors next to:

  constant depth         every pixel at the same depth (what an untrained net is close to)
  mean memory depth      the average depth map of 500 memory scenes (a strong prior: the
                         corridor layout without looking at the frames)
  zero motion / forward  egomotion baselines: no motion, or straight ahead (t = (0, 0, 1))

  python experiments/sfm_default.py --train_steps=3000 --output_dir=/tmp/sfm_default

Add `--gin_bindings='models.AIGN.adversarial_weight = 0.0'` for the reconstruction-only
ablation.
"""

import json
import os
import time

from absl import app
from absl import flags

flags.DEFINE_string("output_dir", "/tmp/sfm_default", "The run and results.json go here.")
flags.DEFINE_integer("train_steps", None, "Generator steps (default: gin/sfm.gin's).")
flags.DEFINE_integer("seed", 0, "Training seed.")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings.")
FLAGS = flags.FLAGS


def baselines(task):
  """Metrics of the trivial predictors on the task's evaluation split."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from aign_tf.data import sfm as sfm_data  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import sfm  # pylint: disable=g-import-not-at-top
  pairs = task._pairs("eval")  # pylint: disable=protected-access
  depth, egomotion = pairs["depth"], pairs["egomotion"]
  memory_mean = sfm_data.generate_depth_memory(500, task.height, task.width,
                                               seed=123).mean(axis=0, keepdims=True)
  mean = lambda d: {k: float(np.mean(v)) for k, v in d.items()}
  forward = np.zeros_like(egomotion)
  forward[:, 2] = 1.0
  return {
      "constant depth": mean(sfm.depth_metrics(depth, np.ones_like(depth))),
      "mean memory depth": mean(sfm.depth_metrics(depth, np.broadcast_to(memory_mean,
                                                                         depth.shape))),
      "zero motion": mean(sfm.egomotion_metrics(egomotion, np.zeros_like(egomotion))),
      "forward motion": mean(sfm.egomotion_metrics(egomotion, forward)),
  }


def main(argv):
  del argv
  from aign_tf.train import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import evaluation  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  model_dir = os.path.join(FLAGS.output_dir, "run")
  bindings = list(FLAGS.gin_bindings) + [f"train.seed = {FLAGS.seed}"]
  if FLAGS.train_steps:
    bindings.append(f"train_steps = {FLAGS.train_steps}")
  config.parse(["sfm.gin"], bindings)
  start = time.time()
  result = trainer.train(model_dir)
  seconds = time.time() - start
  # Re-running over a finished run only evaluates it (the trainer resumes at the end).
  trained = "trained" if result["train"] else "resumed a finished run (no training) in"

  report = evaluation.evaluate(model_dir, split="eval")
  task = config.resolve("train.task")
  label = "sfm.gin" + (" + bindings" if FLAGS.gin_bindings else "")
  rows = {label: report["metrics"], **baselines(task)}
  columns = ("abs_rel", "sq_rel", "rmse", "log_rmse", "delta_1.25", "translation_error",
             "rotation_error_deg")
  print(f"\n{report['step']} steps; {trained} {seconds / 60:.1f} min; "
        f"{report['num_examples']} held-out pairs")
  print(f"{'':<20}" + "".join(f"{c:>20}" for c in columns))
  for name, metrics in rows.items():
    print(f"{name:<20}" + "".join(
        f"{metrics[c]:>20.4f}" if c in metrics else f"{'-':>20}" for c in columns))
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  with open(os.path.join(FLAGS.output_dir, "results.json"), "w") as f:
    json.dump({"train_minutes": seconds / 60, "step": report["step"], "rows": rows}, f,
              indent=2)


if __name__ == "__main__":
  app.run(main)
