"""TFLite size, LiteRT latency and fidelity for faces_sr and faces_inpaint.

For each task: trains its default gin config (the real network size) for one step, or takes
--<task>_model_dir (a trained run), exports it, converts it with --quantization none,
float16 and int8 (tools/export_tflite.py's library), and reports

- size of the .tflite (KiB);
- latency of one batch-1 call in LiteRT (`ai_edge_litert`, --num_threads threads, median and
  p90 over --runs calls after warm-up), next to the SavedModel's own batch-1 call in
  TensorFlow;
- PSNR (dB) and max abs difference of `image_float` against the SavedModel on held-out
  inputs (the task's eval faces), and the PSNR drop relative to the float (none) model.

Targets (issue 6): float16 within 0.1 dB and int8 within 1 dB of the float model.

Usage:
  python benchmarks/tflite.py [--tasks=faces_sr,faces_inpaint] [--runs=50]
      [--faces_sr_model_dir=runs/faces_sr] [--tiny] [--output_json=...]

Timings on this shared 2-core CPU vary by up to 3x between runs: compare within one run.
"""

import json
import os
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_list("tasks", ["faces_sr", "faces_inpaint"], "gin/<task>.gin files to measure.")
flags.DEFINE_string("faces_sr_model_dir", None, "A trained faces_sr run (default: 1 step).")
flags.DEFINE_string("faces_inpaint_model_dir", None, "A trained faces_inpaint run.")
flags.DEFINE_integer("runs", 50, "Timed calls per model.")
flags.DEFINE_integer("num_threads", 2, "LiteRT threads.")
flags.DEFINE_integer("num_verification_samples", 16, "Held-out inputs for the PSNR.")
flags.DEFINE_integer("num_calibration_samples", 64, "int8 calibration inputs.")
flags.DEFINE_bool("tiny", False, "Use gin/testing/tiny.gin shapes (a smoke run).")
flags.DEFINE_string("output_json", None, "Also write the rows here.")
FLAGS = flags.FLAGS


def export_task(task_name, scratch):
  from aign_tf.serving import export  # pylint: disable=g-import-not-at-top
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  model_dir = getattr(FLAGS, f"{task_name}_model_dir", None)
  if model_dir is None:
    model_dir = os.path.join(scratch, f"run_{task_name}")
    files = [f"{task_name}.gin"] + (["testing/tiny.gin"] if FLAGS.tiny else [])
    bindings = ["train_steps = 1", "batch_size = 2", "train.eval_every = 0",
                "train.checkpoint_every = 1"]
    config.parse(files, bindings)
    try:
      trainer.train(model_dir)
    finally:
      config.gin.clear_config()
  return export.export(model_dir, os.path.join(scratch, "export"), update_config=False)["path"]


def timed(fn, runs):
  for _ in range(3):
    fn()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    fn()
    times.append((time.perf_counter() - start) * 1000.0)
  return float(np.median(times)), float(np.percentile(times, 90))


def measure(task_name, saved_model, scratch):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import tflite  # pylint: disable=g-import-not-at-top
  _, signature = tflite.load_saved_model(saved_model)
  specs = tflite.input_specs(signature)
  task = tflite.task_from_saved_model(saved_model)
  example, _ = tflite.example_inputs(task, specs, "eval", 1)
  tf_inputs = {k: tf.constant(v) for k, v in example.items()}
  sm_median, sm_p90 = timed(lambda: signature(**tf_inputs), FLAGS.runs)
  rows = [{"task": task_name, "format": "SavedModel (TF)", "size_kib": None,
           "latency_ms_median": sm_median, "latency_ms_p90": sm_p90, "psnr_db": None,
           "max_abs_diff": None, "drop_db": None,
           "inputs": {k: [1] + s.shape.as_list()[1:] for k, s in specs.items()}}]
  # Task-level fidelity: PSNR of each model's image_float against the ground-truth eval
  # faces; "drop" = SavedModel's PSNR - this model's (the issue's targets).
  held_out, targets = eval_inputs_and_targets(task, specs, FLAGS.num_verification_samples)

  def task_psnr(call):
    outputs = np.concatenate([call({k: v[i:i + 1] for k, v in held_out.items()})
                              for i in range(len(targets))])
    return tflite.psnr(targets, outputs, 1.0)

  reference_psnr = task_psnr(lambda x: signature(
      **{k: tf.constant(v) for k, v in x.items()})["image_float"].numpy())
  rows[0]["task_psnr_db"] = reference_psnr
  for quantization in tflite.QUANTIZATIONS:
    output = os.path.join(scratch, f"{task_name}_{quantization}.tflite")
    start = time.perf_counter()
    report = tflite.convert(saved_model, quantization, output=output,
                            num_calibration_samples=FLAGS.num_calibration_samples,
                            num_verification_samples=FLAGS.num_verification_samples,
                            min_psnr=0.0, num_threads=FLAGS.num_threads)
    seconds = time.perf_counter() - start
    runner, _ = tflite.signature_runner(output, FLAGS.num_threads)
    median, p90 = timed(lambda: runner(**example), FLAGS.runs)  # pylint: disable=cell-var-from-loop
    psnr = report["psnr_db"]
    psnr = float("inf") if psnr == "inf" else psnr
    own = task_psnr(lambda x: runner(**x)["image_float"])  # pylint: disable=cell-var-from-loop
    drop = reference_psnr - own
    rows.append({"task": task_name, "format": f"tflite {quantization}",
                 "size_kib": report["size_bytes"] / 1024.0, "latency_ms_median": median,
                 "latency_ms_p90": p90, "psnr_db": psnr, "max_abs_diff": report["max_abs_diff"],
                 "drop_db": drop, "task_psnr_db": own, "convert_seconds": seconds})
  return rows


def eval_inputs_and_targets(task, specs, count):
  """Serving inputs and ground-truth float faces `[N, H, W, 3]` from the eval split."""
  from aign_tf.core import keys  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import tflite  # pylint: disable=g-import-not-at-top
  inputs, targets = [], []
  for batch in task.eval_dataset(batch_size=count, split="eval").take(1):
    inputs.append(tflite.serving_inputs_from_batch(batch, specs))
    targets.append(np.asarray(batch[keys.TARGET], np.float32))
  merged = {k: np.concatenate([x[k] for x in inputs]) for k in specs}
  return merged, np.concatenate(targets)


def fmt(value, spec):
  if value is None:
    return "-"
  if value == float("inf"):
    return "inf"
  return format(value, spec)


def table(rows):
  lines = ["| task | model | inputs | size KiB | latency ms (median / p90) | PSNR vs SavedModel dB "
           "| max abs diff | PSNR vs ground truth dB | drop vs SavedModel dB |",
           "|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    inputs = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in r.get("inputs", {}).items())
    lines.append(f"| {r['task']} | {r['format']} | {inputs} | {fmt(r['size_kib'], '.1f')} | "
                 f"{fmt(r['latency_ms_median'], '.2f')} / {fmt(r['latency_ms_p90'], '.2f')} | "
                 f"{fmt(r['psnr_db'], '.2f')} | {fmt(r['max_abs_diff'], '.3g')} | "
                 f"{fmt(r.get('task_psnr_db'), '.3f')} | {fmt(r['drop_db'], '.3f')} |")
  return "\n".join(lines)


def main(argv):
  del argv
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  scratch = tempfile.mkdtemp(prefix="tflite_benchmark-")
  rows = []
  for task_name in FLAGS.tasks:
    saved_model = export_task(task_name, scratch)
    rows.extend(measure(task_name, saved_model, scratch))
  print(table(rows))
  print(f"\n(LiteRT {FLAGS.num_threads} threads, batch 1, {FLAGS.runs} timed calls; PSNR of "
        f"image_float on {FLAGS.num_verification_samples} held-out eval faces; int8 "
        f"calibrated on {FLAGS.num_calibration_samples} training faces; untrained weights "
        "unless --<task>_model_dir)")
  if FLAGS.output_json:
    with open(FLAGS.output_json, "w") as f:
      json.dump(rows, f, indent=2, default=str)
  sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
