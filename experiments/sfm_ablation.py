"""The sfm ablation and the main job's target: depth error over training time, per variant.

Runs the README's training command (`tools/train.py --gin_file=gin/<variant>.gin`) for each
variant and seed as a separate process (so the wall-clock time is what a user waits,
including start-up and, with --cold_cache, ray-casting the procedural scenes), then
`tools/evaluate.py` on the held-out test scenes (textures from photos never used in
training). Prints

  * the final table (mean +- std over seeds): abs_rel, sq_rel, rmse, log_rmse, delta<1.25
    (per-image median scaling), egomotion translation error (per-pair scale aligned),
    rotation error in degrees and ATE on 5-frame snippets (scale aligned), abs_rel without
    median scaling (`_memory_median`: each prediction scaled to the memory's median depth,
    what a model without a scale of its own reaches without labels; `_memory_mean`: each
    scaled so its mean depth is the memory maps' median mean, the other such constant;
    `_unscaled`: as
    predicted, the normalisation's arbitrary scale for scale-free models), and the minutes
    each run took;
  * the same metrics for trivial predictors (constant depth, the mean depth map of the
    memory, straight-ahead motion) on the same scenes;
  * per scene condition (--splits: the extra procedural test splits "textureless",
    "repeated", "occlusions", `aign_tf.data.sfm.CONDITIONS`, 200 pairs each), abs_rel,
    delta<1.25 and the rotation error of every variant (mean +- std over seeds) beside a
    constant depth's: where a depth prior should help and the photometric loss cannot;
  * each variant against the first one (--reference, default the first of --variants),
    per split: the difference of the mean abs_rel, delta<1.25 and abs_rel_memory_median,
    the seed range of each, and whether the difference exceeds the seed spread (the ranges
    do not overlap; Welch's t-test p-value beside it when both have 2 or more seeds);
  * the abs_rel-over-time curve of every run (from the periodic evaluations the trainer
    appends to `<model_dir>/eval_history.jsonl`), and draws it into `abs_rel_curve.png`.

Variants (all gin files in gin/; same data, same test split, same step budget):
  sfm                    AIGN: photometric + smoothness + depth discriminator (the default)
  sfm_photometric_only   no discriminator
  sfm_paired_only        scale-invariant depth loss on a few labelled pairs only
  sfm_aign_paired        AIGN + the same few labelled pairs

  python experiments/sfm_ablation.py --variants=sfm --seeds=0 --cold_cache
  python experiments/sfm_ablation.py --train_steps=6000 --seeds=0,1
  # the comparison alone, from numbers of runs whose records are gone:
  python experiments/sfm_ablation.py --values=sfm:eval=0.130,0.103,0.100 \
      --values=sfm_photometric_only:eval=0.120,0.112,0.116 --splits=eval
  # two processes side by side, then one table of both:
  python experiments/sfm_ablation.py --variants=sfm_photometric_only --seeds=0 \
      --output_dir=/tmp/a --add_runs=/tmp/b
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = ("sfm", "sfm_photometric_only", "sfm_paired_only", "sfm_aign_paired")
COLUMNS = ("abs_rel", "sq_rel", "rmse", "log_rmse", "delta_1.25", "translation_error",
           "rotation_error_deg", "ate_mean", "abs_rel_memory_median", "abs_rel_memory_mean",
           "abs_rel_unscaled")
# Every evaluation adds the metrics without median scaling (`tasks.sfm.SfmTask`).
UNSCALED_BINDING = "tasks.SfmTask.unscaled_metrics = True"
UNSCALED = f"--gin_bindings={UNSCALED_BINDING}"
# A split evaluated without it is evaluated again (`evaluate_splits`).
LATEST_METRIC = "abs_rel_memory_mean"

flags.DEFINE_list("variants", list(VARIANTS), "gin files (without .gin) under gin/.")
flags.DEFINE_list("seeds", ["0"], "Training seeds.")
flags.DEFINE_integer("train_steps", None, "Steps per run (default: each gin file's).")
flags.DEFINE_string("output_dir", "/tmp/sfm_ablation", "Runs, results.json and the plot.")
flags.DEFINE_bool("cold_cache", False, "Ray-cast the scenes again (a fresh, temporary "
                  "cache) for the first run, so its time includes making the data.")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings for every run.")
flags.DEFINE_list("add_runs", [], "Output directories of earlier calls (e.g. runs made side "
                  "by side with different --output_dir) whose finished runs join the tables "
                  "and the comparison; they are read back (and evaluated on missing "
                  "--splits), never trained.")
flags.DEFINE_string("reference", None, "Variant the others are compared with (default: "
                    "the first of --variants).")
flags.DEFINE_multi_string("values", [], "'VARIANT:SPLIT=v,v,...': abs_rel of finished runs "
                          "whose records are gone (e.g. quoted in the README), one value "
                          "per seed; with it, only the comparison is printed (no training).")
flags.DEFINE_integer("lr_drop_step", 7000, "Step of the learning-rate drop (sfm.gin's "
                     "lr_decay_step), for the training weights' gap to their average.")
flags.DEFINE_list("splits", ["eval", "textureless", "repeated", "occlusions"],
                  "Test splits every run is evaluated on ('eval': the standard test scenes; "
                  "the others: aign_tf.data.sfm.CONDITIONS). Finished runs of an earlier "
                  "call are evaluated on splits they lack.")
FLAGS = flags.FLAGS


def run_one(variant, seed, model_dir, env):
  """Trains and evaluates one run; returns its record. A run whose test report exists is
  read back, not repeated; an unfinished one resumes from its last checkpoint (the trainer
  does that), so the script can be stopped and started again."""
  report_path = os.path.join(model_dir, "test_report.json")
  if os.path.isfile(report_path) and os.path.isfile(model_dir + ".record.json"):
    with open(model_dir + ".record.json") as f:
      record = json.load(f)
    print(f"  {variant} seed {seed}: done before, read from {model_dir}", flush=True)
    return evaluate_splits(record, model_dir, env)
  command = [sys.executable, os.path.join(_ROOT, "tools", "train.py"),
             f"--gin_file=gin/{variant}.gin", f"--model_dir={model_dir}",
             f"--gin_bindings=train.seed = {seed}"]
  if FLAGS.train_steps:
    command.append(f"--gin_bindings=train_steps = {FLAGS.train_steps}")
  command += [f"--gin_bindings={b}" for b in FLAGS.gin_bindings]
  print(" ".join(command), flush=True)
  from aign_tf.core import machine  # pylint: disable=g-import-not-at-top
  peak = machine.matmul_peak_gflops()
  start = time.time()
  with open(os.path.join(model_dir + ".log"), "a") as log:
    subprocess.run(command, cwd=_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                   check=True)
  minutes = (time.time() - start) / 60
  subprocess.run([sys.executable, os.path.join(_ROOT, "tools", "evaluate.py"),
                  f"--model_dir={model_dir}", f"--output_json={report_path}", UNSCALED],
                 cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                 check=True)
  with open(report_path) as f:
    report = json.load(f)
  from aign_tf.train import history as eval_history  # pylint: disable=g-import-not-at-top
  entries = eval_history.read(model_dir)
  train_minutes = entries[-1]["train_seconds"] / 60 if entries else float("nan")
  print(f"  {variant} seed {seed}: {minutes:.1f} min ({train_minutes:.1f} of training, "
        f"{report['step'] / max(train_minutes * 60, 1e-9):.2f} steps/s), step {report['step']}, "
        f"abs_rel {report['metrics']['abs_rel']:.4f}; matmul peak before {peak:.0f} GFLOP/s",
        flush=True)
  record = {"variant": variant, "seed": seed, "minutes": minutes,
            "train_minutes": train_minutes, "matmul_peak_gflops": peak,
            "step": report["step"], "num_examples": report["num_examples"],
            "metrics": report["metrics"],
            "curve": [(h["step"], h["train_seconds"] / 60, h.get("abs_rel")) for h in entries],
            "raw_weights_curve": [(h["step"], h["train_seconds"] / 60,
                                   h.get("raw_weights/abs_rel")) for h in entries]}
  with open(model_dir + ".record.json", "w") as f:
    json.dump(record, f, indent=2)
  return evaluate_splits(record, model_dir, env)


def evaluate_splits(record, model_dir, env):
  """Adds `record["splits"][split]` (the test metrics) for every --splits entry it lacks
  (`tools/evaluate.py --split=...`, reports kept as `test_report_<split>.json`); a split
  evaluated by an older version of this script, without the newest metric without median
  scaling (`LATEST_METRIC`), is evaluated again (the final checkpoint: the other metrics do
  not change)."""
  splits = record.setdefault("splits", {})
  changed = False
  for split in FLAGS.splits:
    if split == "eval" and LATEST_METRIC in record["metrics"]:
      splits.setdefault("eval", record["metrics"])
    if LATEST_METRIC in splits.get(split, {}):
      continue
    path = os.path.join(model_dir, f"test_report_{split}.json")
    stale = os.path.isfile(path) and LATEST_METRIC not in _read_metrics(path)
    if not os.path.isfile(path) or stale:
      subprocess.run([sys.executable, os.path.join(_ROOT, "tools", "evaluate.py"),
                      f"--model_dir={model_dir}", f"--split={split}", f"--output_json={path}",
                      UNSCALED],
                     cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     check=True)
    splits[split] = _read_metrics(path)
    if split == "eval":
      record["metrics"] = {**record["metrics"], **splits[split]}
    changed = True
  if changed:
    with open(model_dir + ".record.json", "w") as f:
      json.dump(record, f, indent=2)
  return record


def _read_metrics(path):
  with open(path) as f:
    return json.load(f)["metrics"]


_RUN_NAME = re.compile(r"[A-Za-z0-9_]+_seed\d+")


def read_runs(directory, env):
  """The finished runs (`<variant>_seed<seed>.record.json` beside a test report) of an
  earlier call's --output_dir, in order of variant and seed."""
  if not os.path.isdir(directory):
    raise app.UsageError(f"--add_runs: {directory} is not a directory")
  records = []
  names = sorted(os.listdir(directory))
  for name in names:
    model_dir = os.path.join(directory, name[:-len(".record.json")])
    if name.endswith(".record.json") and os.path.isfile(
        os.path.join(model_dir, "test_report.json")):
      with open(model_dir + ".record.json") as f:
        record = json.load(f)
      print(f"  {record['variant']} seed {record['seed']}: read from {model_dir}", flush=True)
      records.append(evaluate_splits(record, model_dir, env))
  for name in names:
    model_dir = os.path.join(directory, name)
    if (_RUN_NAME.fullmatch(name) and os.path.isdir(model_dir)
        and not os.path.isfile(model_dir + ".record.json")):
      print(f"  {model_dir}: unfinished (no {name}.record.json), left out; run the call that "
            "made it again with the same --output_dir: it resumes from the last checkpoint "
            "and writes the record", flush=True)
  return records


def baselines():
  """Metrics of trivial predictors on the same test scenes (gin/sfm.gin's task)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from aign_tf.data import sfm as sfm_data  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import sfm_metrics  # pylint: disable=g-import-not-at-top
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.core import keys  # pylint: disable=g-import-not-at-top
  config.parse(["sfm.gin"], list(FLAGS.gin_bindings) + [UNSCALED_BINDING])
  task = config.resolve("train.task")
  pairs = task._pairs("eval")  # pylint: disable=protected-access
  depth, egomotion = pairs["depth"], pairs["egomotion"]
  memory_mean = sfm_data.generate_depth_memory(500, task.height, task.width,
                                               seed=123).mean(axis=0, keepdims=True)
  forward = np.zeros_like(egomotion)
  forward[:, 2] = 1.0
  mean = lambda d: {k: float(np.mean(v)) for k, v in d.items()}
  # With and without median scaling ("_memory_median": a constant depth at the memory's
  # median, the best a model without a scale of its own can do without labels).
  scores = lambda true, predicted: mean(task.metrics({keys.TARGET: true}, {"depth": predicted}))
  constant = {"eval": scores(depth, np.ones_like(depth))}
  for split in FLAGS.splits:
    if split not in constant:
      true_depth = task._pairs(split)["depth"]  # pylint: disable=protected-access
      constant[split] = scores(true_depth, np.ones_like(true_depth))
  return {
      "constant depth": constant["eval"],
      "mean memory depth map": scores(depth, np.broadcast_to(memory_mean, depth.shape)),
      "straight ahead (t=(0,0,1), R=I)": mean(sfm_metrics.egomotion_metrics(egomotion, forward)),
  }, constant


def summarise(records, trivial, constant_by_split):
  import numpy as np  # pylint: disable=g-import-not-at-top
  print(f"\n{'variant':<24}{'minutes':>9}" + "".join(f"{c:>22}" for c in COLUMNS))
  for variant in dict.fromkeys(r["variant"] for r in records):
    runs = [r for r in records if r["variant"] == variant]
    cells = []
    for column in COLUMNS:
      values = [r["metrics"][column] for r in runs if column in r["metrics"]]
      cells.append(f"{np.mean(values):.4f} +- {np.std(values):.4f}" if values else "-")
    minutes = np.mean([r["minutes"] for r in runs])
    print(f"{variant:<24}{minutes:>9.1f}" + "".join(f"{c:>22}" for c in cells))
  for name, metrics in trivial.items():
    print(f"{name[:33]:<33}" + "".join(
        f"{metrics[c]:>22.4f}" if c in metrics else f"{'-':>22}" for c in COLUMNS))
  summarise_scale(records)
  summarise_splits(records, constant_by_split)
  print("\nabs_rel over training time (step, minutes of training, abs_rel):")
  for r in records:
    curve = "  ".join(f"{s}:{m:.1f}m:{a:.3f}" for s, m, a in r["curve"] if a is not None)
    print(f"  {r['variant']} seed {r['seed']}: {curve}")
  print("\nstability (issue 18: every evaluation after the first third within 0.02 of the "
        "final one): largest |abs_rel - final| after the first third")
  for r in records:
    cells = []
    for name in ("curve", "raw_weights_curve"):
      deviation = stability(r.get(name) or [])
      if deviation is not None:
        cells.append(f"{'average' if name == 'curve' else 'training weights'} "
                     f"{deviation[0]:.3f} at step {deviation[1]} "
                     f"({'within' if deviation[0] <= 0.02 else 'exceeds'} 0.02)")
    print(f"  {r['variant']} seed {r['seed']}: " + ("; ".join(cells) or "no curve"))
  print(f"\ntraining weights against their average, mean |abs_rel difference| (max) over "
        f"the evaluations after the first third and up to the learning-rate drop at step "
        f"{FLAGS.lr_drop_step}, then after it:")
  for r in records:
    gaps = weight_gaps(r.get("curve") or [], r.get("raw_weights_curve") or [],
                       FLAGS.lr_drop_step)
    if gaps:
      print(f"  {r['variant']} seed {r['seed']}: " + "; ".join(
          f"{name} {mean:.4f} ({top:.3f})" for name, (mean, top) in gaps.items()))


def weight_gaps(curve, raw_curve, drop_step):
  """{"before the drop": (mean, max), "after": (mean, max)} of |training weights' abs_rel -
  the average's| at the same evaluations, after the first third of training; a side without
  evaluations is left out."""
  average = {step: value for step, _, value in curve if value is not None}
  raw = {step: value for step, _, value in raw_curve if value is not None}
  steps = sorted(set(average) & set(raw))
  if not steps:
    return {}
  later = [s for s in steps if s > steps[-1] / 3]
  out = {}
  for name, chosen in (("before the drop", [s for s in later if s <= drop_step]),
                       ("after", [s for s in later if s > drop_step])):
    if chosen:
      gaps = [abs(raw[s] - average[s]) for s in chosen]
      out[name] = (sum(gaps) / len(gaps), max(gaps))
  return out


def stability(curve, tolerance_from=1 / 3):
  """(largest |abs_rel - final abs_rel|, its step) over the evaluations after the first
  third of training (`curve`: (step, minutes, abs_rel) rows), or None without two of them."""
  points = [(step, value) for step, _, value in curve if value is not None]
  if len(points) < 2:
    return None
  last_step, final = points[-1]
  later = [(abs(value - final), step) for step, value in points[:-1]
           if step > tolerance_from * last_step]
  return max(later) if later else (0.0, last_step)


SPLIT_COLUMNS = ("abs_rel", "delta_1.25", "rotation_error_deg")
# Per-image scale (runs with a scale of their own, `tasks.SfmTask.metric_scale`): the ratio
# median(predicted) / median(true), |log ratio|, the share of images within 10%, and the
# same for one constant scale from the memory.
SCALE_COLUMNS = ("scale_ratio", "scale_error", "scale_within_10pct",
                 "scale_error_memory_median", "scale_within_10pct_memory_median",
                 "scale_error_memory_mean", "scale_within_10pct_memory_mean",
                 "ate_unscaled_mean")


def summarise_scale(records):
  """The per-image scale columns (mean +- std over seeds) of the variants that have them."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  scaled = [r for r in records if "scale_ratio" in r["metrics"]]
  if not scaled:
    return
  print("\nper-image scale (means over the test images; mean +- std over seeds):")
  print(f"{'variant':<24}" + "".join(f"{c:>34}" for c in SCALE_COLUMNS))
  for variant in dict.fromkeys(r["variant"] for r in scaled):
    runs = [r["metrics"] for r in scaled if r["variant"] == variant]
    cells = []
    for column in SCALE_COLUMNS:
      values = [m[column] for m in runs if column in m]
      cells.append(f"{np.mean(values):.4f} +- {np.std(values):.4f}" if values else "-")
    print(f"{variant:<24}" + "".join(f"{c:>34}" for c in cells))


def summarise_splits(records, constant):
  """Per scene condition: each variant's metrics (mean +- std over seeds) and a constant
  depth's (`constant`: split -> metrics)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  splits = [s for s in FLAGS.splits if any(s in r.get("splits", {}) for r in records)]
  if not splits:
    return
  print(f"\nper test split ({', '.join(SPLIT_COLUMNS)}; mean +- std over seeds):")
  for split in splits:
    print(f"  {split}:")
    for variant in dict.fromkeys(r["variant"] for r in records):
      runs = [r["splits"][split] for r in records
              if r["variant"] == variant and split in r.get("splits", {})]
      cells = []
      for column in SPLIT_COLUMNS:
        values = [m[column] for m in runs if column in m]
        cells.append(f"{np.mean(values):.4f} +- {np.std(values):.4f}" if values else "-")
      print(f"    {variant:<24}" + "".join(f"{c:>20}" for c in cells) + f"   ({len(runs)} runs)")
    if split in constant:
      print(f"    {'constant depth':<24}" + "".join(
          f"{constant[split][c]:>20.4f}" if c in constant[split] else f"{'-':>20}"
          for c in SPLIT_COLUMNS))


COMPARE_COLUMNS = ("abs_rel", "delta_1.25", "abs_rel_memory_median")


def compare(records, reference, splits=("eval",), columns=COMPARE_COLUMNS):
  """Each variant against `reference`, per split and column: a list of dicts with the means,
  the seed ranges, their difference (variant - reference), Welch's t-test p-value (None
  with fewer than 2 seeds on a side or no spread) and `exceeds_spread`: True when the two
  ranges of seeds do not overlap, None with fewer than 2 seeds on a side (a single run's
  spread is unknown: it may lie anywhere in its own range, so three seeds against one
  cannot tell)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from scipy import stats  # pylint: disable=g-import-not-at-top

  def values(variant, split, column):
    out = []
    for r in records:
      metrics = r.get("splits", {}).get(split) or (r["metrics"] if split == "eval" else None)
      if r["variant"] == variant and metrics and column in metrics:
        out.append(float(metrics[column]))
    return out

  rows = []
  for variant in dict.fromkeys(r["variant"] for r in records):
    if variant == reference:
      continue
    for split in splits:
      for column in columns:
        a, b = values(reference, split, column), values(variant, split, column)
        if not a or not b:
          continue
        p_value = None
        if len(a) >= 2 and len(b) >= 2 and (np.std(a) > 0 or np.std(b) > 0):
          p_value = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
        exceeds = None
        if len(a) >= 2 and len(b) >= 2:
          exceeds = bool(max(a) < min(b) or max(b) < min(a))
        rows.append({"variant": variant, "reference": reference, "split": split,
                     "column": column, "reference_mean": float(np.mean(a)),
                     "mean": float(np.mean(b)), "difference": float(np.mean(b) - np.mean(a)),
                     "reference_range": [min(a), max(a)], "range": [min(b), max(b)],
                     "seeds": [len(a), len(b)], "p_value": p_value,
                     "exceeds_spread": exceeds})
  return rows


def print_comparison(rows):
  if not rows:
    return
  print(f"\nagainst {rows[0]['reference']} (difference of means; seed ranges; "
        "exceeds the spread = the ranges do not overlap; Welch's t-test p):")
  for row in rows:
    verdict = {True: "exceeds the seed spread", False: "within the seed spread",
               None: "one seed on a side: no verdict"}[row["exceeds_spread"]]
    p = "" if row["p_value"] is None else f", p={row['p_value']:.3f}"
    print(f"  {row['variant']:<22} {row['split']:<12} {row['column']:<21} "
          f"{row['difference']:+.4f}  ({row['mean']:.4f} in [{row['range'][0]:.4f}, "
          f"{row['range'][1]:.4f}] vs {row['reference_mean']:.4f} in "
          f"[{row['reference_range'][0]:.4f}, {row['reference_range'][1]:.4f}], "
          f"{row['seeds'][1]} vs {row['seeds'][0]} seeds{p}): {verdict}")


def plot(records, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  figure, axes = plt.subplots(figsize=(7, 4.5))
  for r in records:
    points = [(m, a) for _, m, a in r["curve"] if a is not None]
    if points:
      axes.plot(*zip(*points), marker="o", label=f"{r['variant']} (seed {r['seed']})")
  axes.axhline(0.15, color="grey", linestyle="--", linewidth=1, label="target 0.15")
  axes.set_xlabel("training minutes (2 CPU cores)")
  axes.set_ylabel("abs_rel on held-out scenes")
  axes.grid(alpha=0.3)
  axes.legend(fontsize=8)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def records_from_values(texts):
  """Records (abs_rel per split and seed) from 'VARIANT:SPLIT=v,v,...' strings."""
  records = {}
  for text in texts:
    try:
      head, numbers = text.split("=", 1)
      variant, split = head.split(":", 1)
      values = [float(v) for v in numbers.split(",")]
    except ValueError as e:
      raise app.UsageError(f"--values={text!r}: expected 'VARIANT:SPLIT=v,v,...' ({e})")
    for seed, value in enumerate(values):
      record = records.setdefault((variant, seed), {"variant": variant, "seed": seed,
                                                    "metrics": {}, "splits": {}})
      record["splits"][split] = {"abs_rel": value}
      if split == "eval":
        record["metrics"] = record["splits"][split]
  return list(records.values())


def main(argv):
  del argv
  if FLAGS.values:
    records = records_from_values(FLAGS.values)
    print_comparison(compare(records, FLAGS.reference or records[0]["variant"], FLAGS.splits,
                             columns=("abs_rel",)))
    return
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  env = dict(os.environ)
  records = []
  for variant in FLAGS.variants:
    if not os.path.isfile(os.path.join(_ROOT, "gin", f"{variant}.gin")):
      raise app.UsageError(f"--variants: gin/{variant}.gin does not exist")
  # Seeds outside, variants inside: a stopped script leaves whole seeds of every variant.
  for j, seed in enumerate(FLAGS.seeds):
    for i, variant in enumerate(FLAGS.variants):
      run_env = env
      if FLAGS.cold_cache and i == 0 and j == 0:
        run_env = {**env, "AIGN_TF_CACHE": tempfile.mkdtemp(prefix="aign_tf_cold_cache_")}
      model_dir = os.path.join(FLAGS.output_dir, f"{variant}_seed{seed}")
      records.append(run_one(variant, int(seed), model_dir, run_env))
      with open(os.path.join(FLAGS.output_dir, "results.json"), "w") as f:
        json.dump(records, f, indent=2)
  known = {(r["variant"], r["seed"]) for r in records}
  for directory in FLAGS.add_runs:
    records += [r for r in read_runs(directory, env) if (r["variant"], r["seed"]) not in known]
    known = {(r["variant"], r["seed"]) for r in records}
  if not records:
    raise app.UsageError("no finished runs to summarise: give --variants and --seeds, or "
                         "--add_runs with the --output_dir of an earlier call")
  trivial, constant_by_split = baselines()
  summarise(records, trivial, constant_by_split)
  comparison = compare(records, FLAGS.reference or records[0]["variant"], FLAGS.splits)
  print_comparison(comparison)
  with open(os.path.join(FLAGS.output_dir, "results.json"), "w") as f:
    json.dump({"runs": records, "baselines": trivial,
               "constant_depth_by_split": constant_by_split,
               "comparison": comparison}, f, indent=2)
  plot(records, os.path.join(FLAGS.output_dir, "abs_rel_curve.png"))
  print(f"\nwrote {FLAGS.output_dir}/results.json and abs_rel_curve.png")


if __name__ == "__main__":
  app.run(main)
