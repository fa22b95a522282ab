"""The pose task's table: what the unpaired mocap prior buys (Tung et al. 2017, Sec. 4.1).

Trains five configurations and evaluates each on the held-out clip(s) (never in the memory,
never in training inputs; see aign_tf/data/pose_samples.py):

  paired-only 1%     supervised on 1% of the training inputs' 3D ground truth
  paired-only 100%   supervised on all of it (an upper reference)
  reprojection-only  reprojection loss, no discriminator, no pairs
  AIGN 0%            reprojection + discriminator against the memory, no pairs
  AIGN 1%            AIGN + 1% pairs

and prints MPJPE and P-MPJPE (mm, mean over seeds with the spread) and the paper's two claims:
AIGN 1% beats paired-only 1% by >= 15% MPJPE; AIGN 0% beats reprojection-only.

  python experiments/pose_unpaired.py --source=samples --train_steps=3000 --seeds=0,1 \
      --output_dir=/tmp/pose_unpaired

`--source=samples` needs `python tools/fetch_samples.py pose` first (same --cache_dir);
`--source=embedded` uses the procedural clips. Finished runs are recorded in
`<output_dir>/results.json` and skipped when the command is re-run (use a new --output_dir
after changing --train_steps or bindings).
"""

import json
import os
import shutil
import time

from absl import app
from absl import flags
from absl import logging

flags.DEFINE_string("output_dir", "/tmp/pose_unpaired", "Runs and results.json go here.")
flags.DEFINE_enum("source", "auto", ["auto", "samples", "embedded"], "Pose clips.")
flags.DEFINE_string("cache_dir", None, "Sample cache (default: $AIGN_TF_CACHE or ~/.cache).")
flags.DEFINE_integer("train_steps", 3000, "Generator steps per run.")
flags.DEFINE_list("seeds", ["0"], "Training seeds.")
flags.DEFINE_list("rows", ["paired_1", "paired_100", "reprojection", "aign_0", "aign_1"],
                  "Which rows to run.")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings for every run.")
FLAGS = flags.FLAGS

ROWS = {
    "paired_1": ("paired-only 1%", "pose_paired_only.gin", ["PAIRED_FRACTION = 0.01"]),
    "paired_100": ("paired-only 100%", "pose_paired_only.gin", ["PAIRED_FRACTION = 1.0"]),
    "reprojection": ("reprojection-only", "pose_reprojection_only.gin", []),
    "aign_0": ("AIGN 0% pairs", "pose.gin", []),
    "aign_1": ("AIGN 1% pairs", "pose_aign_paired.gin", ["PAIRED_FRACTION = 0.01"]),
}


def run_one(row, seed):
  """Trains one configuration and evaluates it on the held-out split; returns metrics."""
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import evaluation  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  _, gin_file, bindings = ROWS[row]
  model_dir = os.path.join(FLAGS.output_dir, f"{row}_seed{seed}")
  bindings = bindings + [
      f"train_steps = {FLAGS.train_steps}", f"train.seed = {seed}",
      f"data.pose_clips.source = '{FLAGS.source}'", "train.eval_every = 0",
      f"train.checkpoint_every = {FLAGS.train_steps}",
      f"train.log_every = {max(FLAGS.train_steps // 5, 1)}"]
  if FLAGS.cache_dir:
    bindings.append(f"data.pose_clips.cache_dir = '{FLAGS.cache_dir}'")
  bindings += FLAGS.gin_bindings
  config.parse([gin_file], bindings)
  if os.path.isdir(model_dir):
    # Not in results.json, so a leftover of an unfinished or differently configured run:
    # resuming it would skip training.
    logging.warning("removing the unfinished run %s", model_dir)
    shutil.rmtree(model_dir)
  start = time.time()
  trainer.train(model_dir)
  extra = [f"data.pose_clips.cache_dir = '{FLAGS.cache_dir}'"] if FLAGS.cache_dir else []
  report = evaluation.evaluate(model_dir, split="eval", batch_size=256, extra_bindings=extra)
  metrics = report["metrics"]
  metrics["seconds"] = time.time() - start
  metrics["num_examples"] = report["num_examples"]
  logging.info("%s seed %s: %s", row, seed, metrics)
  return metrics


def summarise(results):
  """Mean and spread over seeds of each row's metrics."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  table = {}
  for row, per_seed in results.items():
    table[row] = {}
    for name in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "pck3d_150"):
      values = np.array([m[name] for m in per_seed.values()])
      table[row][name] = (float(values.mean()), float(values.std()))
  return table


def format_table(table, seeds):
  lines = [f"held-out clip(s); mean ± std over seeds {','.join(seeds)}; "
           f"{FLAGS.train_steps} steps; source={FLAGS.source}",
           "| configuration | MPJPE (mm) | P-MPJPE (mm) | N-MPJPE (mm) | PCK3D@150 (%) |",
           "|---|---|---|---|---|"]
  for row, values in table.items():
    cells = [f"{m:.1f} ± {s:.1f}" for m, s in (values[k] for k in (
        "mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "pck3d_150"))]
    lines.append(f"| {ROWS[row][0]} | " + " | ".join(cells) + " |")
  if "aign_1" in table and "paired_1" in table:
    gain = 1.0 - table["aign_1"]["mpjpe_mm"][0] / table["paired_1"]["mpjpe_mm"][0]
    lines.append(f"AIGN 1% vs paired-only 1%: MPJPE {100 * gain:.1f}% lower "
                 f"(claim: >= 15%: {'holds' if gain >= 0.15 else 'does not hold'})")
  if "aign_0" in table and "reprojection" in table:
    better = table["aign_0"]["mpjpe_mm"][0] < table["reprojection"]["mpjpe_mm"][0]
    lines.append(f"AIGN 0% vs reprojection-only: MPJPE {table['aign_0']['mpjpe_mm'][0]:.1f} "
                 f"vs {table['reprojection']['mpjpe_mm'][0]:.1f} "
                 f"(claim: AIGN lower: {'holds' if better else 'does not hold'})")
  return "\n".join(lines)


def main(argv):
  del argv
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  unknown = [r for r in FLAGS.rows if r not in ROWS]
  if unknown:
    raise app.UsageError(f"unknown rows {unknown}; known: {sorted(ROWS)}")
  results_path = os.path.join(FLAGS.output_dir, "results.json")
  results = {}
  if os.path.exists(results_path):
    with open(results_path) as f:
      results = json.load(f)
  for row in FLAGS.rows:
    for seed in FLAGS.seeds:
      if str(seed) in results.get(row, {}):
        continue
      results.setdefault(row, {})[str(seed)] = run_one(row, int(seed))
      with open(results_path, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
  table = summarise({row: {seed: results[row][str(seed)] for seed in FLAGS.seeds}
                     for row in FLAGS.rows})
  text = format_table(table, FLAGS.seeds)
  print(text)
  with open(os.path.join(FLAGS.output_dir, "table.md"), "w") as f:
    f.write(text + "\n")


if __name__ == "__main__":
  app.run(main)
