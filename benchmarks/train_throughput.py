"""Training throughput of each task's default config, next to this machine's matmul peak.

For every gin file given (default: all task files under gin/), measures in one process:
  - the full AIGN step (generator + discriminator updates), fed by the task's tf.data pipeline;
  - the same step fed from one cached in-memory batch (the pipeline cannot be the bottleneck
    if the two agree);
  - the generator step alone and the discriminator step alone (cached batch);
  - the same update computed the usual two-pass way (D with its own generator forward pass),
    to show what sharing the forward pass saves;
  - the input pipeline alone (examples/s it delivers);
  - the cached full step of the same model built under a mixed-precision policy
    (`--compare_mixed`, default mixed_bfloat16) and under XLA (`--compare_jit`);
  - FLOPs per step counted by TF's graph profiler (float_ops of the traced step), hence the
    achieved GFLOP/s, and the fp32 matmul peak (1024^3 and 2048^3 products) measured in the
    same run, so the ratio to the hardware limit is visible.

  - with --compare_variant, the full step (pipeline-fed, as training runs it) of the first
    gin file under other bindings against the bindings as given, timed in alternating rounds
    (A B B A A B ...) in this process, so a change of the default is compared with the old one
    on the same machine at the same minutes.

Usage:
  python benchmarks/train_throughput.py [--gin_file=gin/faces_sr.gin ...] [--steps=20]
      [--gin_bindings=...] [--output_json=benchmarks/results.json]
  python benchmarks/train_throughput.py --gin_file=gin/sfm.gin --steps=20 --rounds=6 \
      --compare_variant="old default|tasks.SfmTask.flip_augmentation = False|..."

Timings on this shared 2-core CPU vary by up to 3x between runs: compare ratios taken in the
same run.
"""

import glob
import json
import os
import sys
import time

from absl import app
from absl import flags

import numpy as np

from aign_tf.core import machine

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

flags.DEFINE_multi_string("gin_file", None, "Task gin files (default: gin/*.gin).")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings applied to every task.")
flags.DEFINE_integer("steps", 20, "Timed steps per measurement (after 3 warm-up steps).")
flags.DEFINE_string("output_json", None, "Also write the results here.")
flags.DEFINE_list("compare_mixed", ["mixed_bfloat16"], "Also time the cached full step "
                  "of a model built under these mixed-precision policies (train."
                  "mixed_precision), to justify the default (none).")
flags.DEFINE_bool("compare_jit", True, "Also time the cached full step under XLA "
                  "(jit_compile=True), to justify the default (off).")
flags.DEFINE_multi_string("compare_variant", [], "'NAME|binding|binding...': time the "
                          "first gin file's pipeline-fed full step under these extra "
                          "bindings against it as given, in alternating rounds (only this "
                          "comparison runs when given).")
flags.DEFINE_integer("rounds", 6, "Alternating timing rounds of --compare_variant.")
FLAGS = flags.FLAGS



def count_flops(tf, concrete_function):
  """Float operations of a traced function's graph (TF's v1 graph profiler)."""
  graph = concrete_function.graph
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  stats = tf.compat.v1.profiler.profile(graph, options=options)
  return float(stats.total_float_ops) if stats is not None else float("nan")


def sync(out):
  """Waits for a step's outputs (reads every tensor back)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, out)


def build_configured_model(mixed_precision=None):
  """The AIGN model and optimizers the parsed gin config binds, as training builds them."""
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  return trainer.build_model(config.resolve("train.model"),
                             config.resolve("train.generator_optimizer"),
                             config.resolve("train.discriminator_optimizer"), mixed_precision)


def time_call(fn, steps):
  for _ in range(3):
    sync(fn())
  start = time.perf_counter()
  for _ in range(steps):
    out = fn()
  sync(out)
  return (time.perf_counter() - start) / steps


def benchmark(gin_file, steps):
  """Measures one task; returns a dict of results."""
  import gin  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  from aign_tf.core import keys  # pylint: disable=g-import-not-at-top
  from aign_tf.models import aign as aign_lib  # pylint: disable=g-import-not-at-top
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top

  config.parse([gin_file], FLAGS.gin_bindings)
  task = config.resolve("train.task")
  batch_size = config.resolve("train.batch_size")
  model = build_configured_model()
  dataset = task.train_dataset(batch_size, seed=0)
  iterator = iter(dataset)
  cached = next(iterator)
  trainer.build_variables(model, cached)

  full_step = tf.function(model.train_step)
  results = {"task": task.name, "gin_file": gin_file, "batch_size": batch_size}
  results["pipeline_step_s"] = time_call(lambda: full_step(next(iterator)), steps)
  results["cached_step_s"] = time_call(lambda: full_step(cached), steps)

  if FLAGS.compare_jit:
    try:
      jit_step = tf.function(model.train_step, jit_compile=True)
      results["jit_cached_step_s"] = time_call(lambda: jit_step(cached), steps)
    except Exception as e:  # pylint: disable=broad-except
      results["jit_error"] = str(e).splitlines()[0][:200]

  for policy in FLAGS.compare_mixed:
    from aign_tf.models import precision  # pylint: disable=g-import-not-at-top
    mixed = build_configured_model(policy)
    with precision.policy_scope(policy):  # layers built lazily get the same policy
      trainer.build_variables(mixed, cached)
    mixed_step = tf.function(mixed.train_step)
    results[f"{policy}_cached_step_s"] = time_call(lambda: mixed_step(cached), steps)

  def generator_step(batch):
    with tf.GradientTape() as tape:
      prediction = model.generator(batch[keys.OBSERVATION], training=True)
      fake_logits = None
      if model.uses_discriminator:
        fake_logits = model.discriminator(
            aign_lib.select(prediction, model.discriminator_input_key), training=True)
      total, _ = model._reduce_generator_losses(  # pylint: disable=protected-access
          batch, model.generator_losses(batch, prediction, fake_logits))
    variables = model.generator.trainable_variables
    model.generator_optimizer.apply_gradients(zip(tape.gradient(total, variables),
                                                  variables))
    return total

  g_step = tf.function(generator_step)
  results["generator_step_s"] = time_call(lambda: g_step(cached), steps)
  if model.uses_discriminator:
    fake = tf.stop_gradient(aign_lib.select(model.generator(cached[keys.OBSERVATION]),
                                            model.discriminator_input_key))
    d_step = tf.function(
        lambda: model._discriminator_only_step(  # pylint: disable=protected-access
            cached[keys.MEMORY], fake) or tf.constant(0))
    results["discriminator_step_s"] = time_call(d_step, steps)

  if model.uses_discriminator:
    # The same update without sharing: D gets its own generator forward pass, then the
    # generator step runs G and D(G(x)) again (the usual two-pass GAN step).
    def unshared_step(batch):
      fake = tf.stop_gradient(aign_lib.select(
          model.generator(batch[keys.OBSERVATION], training=True),
          model.discriminator_input_key))
      model._discriminator_only_step(batch[keys.MEMORY], fake)  # pylint: disable=protected-access
      return generator_step(batch)

    u_step = tf.function(unshared_step)
    results["unshared_step_s"] = time_call(lambda: u_step(cached), steps)

  pipeline = iter(dataset)
  results["pipeline_only_examples_per_s"] = batch_size / time_call(
      lambda: next(pipeline), steps * 3)
  flops = count_flops(tf, full_step.get_concrete_function(cached))
  results["flops_per_step"] = flops
  results["gflops_per_s"] = flops / results["cached_step_s"] / 1e9
  for name in ("pipeline_step", "cached_step"):
    results[f"{name}_examples_per_s"] = batch_size / results[f"{name}_s"]
  results["pipeline_over_cached"] = results["cached_step_s"] / results["pipeline_step_s"]
  gin.clear_config()
  return results


def parse_variant(text):
  """'NAME|binding|binding' -> (NAME, [bindings]); a clear error for anything else."""
  name, *bindings = [part.strip() for part in text.split("|")]
  if not name or not bindings or not all(bindings):
    raise ValueError(f"--compare_variant={text!r}: expected 'NAME|binding|binding...' with a "
                     "name and at least one gin binding")
  return name, bindings


def compare_variants(gin_files, bindings, variants, steps, rounds):
  """Seconds per pipeline-fed full training step of `gin_files` + `bindings` and under each
  variant's extra bindings. Every configuration is built, traced and warmed up first (each
  with its own gin config, cleared before the next), then timed in `rounds` rounds of
  `steps` steps whose order alternates (A B, then B A, ...), so a drift of the machine's
  speed during the run hits all configurations alike. Returns {name: [seconds per step of
  each round]} with the configuration as given under "as given".
  """
  import gin  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top

  runs = {}
  for name, extra in [("as given", [])] + list(variants):
    config.parse(gin_files, list(bindings) + extra)
    task = config.resolve("train.task")
    batch_size = config.resolve("train.batch_size")
    model = build_configured_model()
    iterator = iter(task.train_dataset(batch_size, seed=0))
    trainer.build_variables(model, next(iterator))
    step = tf.function(model.train_step)
    time_call(lambda step=step, iterator=iterator: step(next(iterator)), 1)  # traces
    runs[name] = lambda step=step, iterator=iterator: step(next(iterator))
    gin.clear_config()
  names = list(runs)
  seconds = {name: [] for name in names}
  for r in range(rounds):
    for name in (names if r % 2 == 0 else names[::-1]):
      seconds[name].append(time_call(runs[name], steps))
  return seconds


def _is_task_default(path):
  """A task's default gin file includes base.gin itself (variants include a task file)."""
  with open(path) as f:
    return "include 'base.gin'" in f.read()


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  gin_files = FLAGS.gin_file or sorted(
      f for f in glob.glob(os.path.join(repo, "gin", "*.gin")) if _is_task_default(f))
  peak = machine.matmul_peak_gflops()
  if FLAGS.compare_variant:
    variants = [parse_variant(text) for text in FLAGS.compare_variant]
    seconds = compare_variants(gin_files[:1], FLAGS.gin_bindings, variants, FLAGS.steps,
                               FLAGS.rounds)
    peak_after = machine.matmul_peak_gflops()
    print(f"TensorFlow {tf.__version__}; {os.path.relpath(gin_files[0], repo)}; fp32 matmul "
          f"peak {peak:.1f} GFLOP/s before, {peak_after:.1f} after; {FLAGS.rounds} "
          f"alternating rounds of {FLAGS.steps} pipeline-fed steps")
    print("| configuration | steps/s (median of rounds) | per round | time / as given |")
    print("|---|---|---|---|")
    base = float(np.median(seconds["as given"]))
    for name, values in seconds.items():
      median = float(np.median(values))
      print(f"| {name} | {1 / median:.2f} | {' '.join(f'{1 / v:.2f}' for v in values)} | "
            f"{median / base:.3f} |")
    if FLAGS.output_json:
      with open(FLAGS.output_json, "w") as f:
        json.dump({"tensorflow": tf.__version__, "gin_file": gin_files[0],
                   "matmul_peak_gflops": [peak, peak_after],
                   "variants": dict(variants), "seconds_per_step": seconds}, f, indent=2)
    return
  rows = [benchmark(f, FLAGS.steps) for f in gin_files]
  print(f"TensorFlow {tf.__version__}; fp32 matmul peak {peak:.1f} GFLOP/s; "
        f"{FLAGS.steps} timed steps each; TF_ENABLE_ONEDNN_OPTS="
        f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset (on)')}")
  header = ("| task | batch | full step ms | ex/s (pipeline) | ex/s (cached) | pipeline/cached "
            "| G step ms | D step ms | pipeline alone ex/s | GFLOP/step | GFLOP/s | % of peak |")
  print(header)
  print("|" + "---|" * (header.count("|") - 1))
  for r in rows:
    print(f"| {r['task']} | {r['batch_size']} | {1e3 * r['pipeline_step_s']:.1f} | "
          f"{r['pipeline_step_examples_per_s']:.1f} | {r['cached_step_examples_per_s']:.1f} | "
          f"{r['pipeline_over_cached']:.2f} | {1e3 * r['generator_step_s']:.1f} | "
          f"{1e3 * r.get('discriminator_step_s', float('nan')):.1f} | "
          f"{r['pipeline_only_examples_per_s']:.0f} | {r['flops_per_step'] / 1e9:.3f} | "
          f"{r['gflops_per_s']:.1f} | {100 * r['gflops_per_s'] / peak:.0f}% |")
  for r in rows:
    if "unshared_step_s" in r:
      print(f"{r['task']}: shared G/D forward step {1e3 * r['cached_step_s']:.1f} ms vs "
            f"two-pass step {1e3 * r['unshared_step_s']:.1f} ms "
            f"(ratio {r['unshared_step_s'] / r['cached_step_s']:.2f})")
  for r in rows:
    if "jit_cached_step_s" in r:
      print(f"{r['task']}: XLA (jit_compile=True) step / default step time = "
            f"{r['jit_cached_step_s'] / r['cached_step_s']:.2f}")
    elif "jit_error" in r:
      print(f"{r['task']}: XLA failed: {r['jit_error']}")
  for r in rows:
    for policy in FLAGS.compare_mixed:
      print(f"{r['task']}: {policy} step / float32 step time = "
            f"{r[f'{policy}_cached_step_s'] / r['cached_step_s']:.2f}")
  if FLAGS.output_json:
    with open(FLAGS.output_json, "w") as f:
      json.dump({"tensorflow": tf.__version__, "matmul_peak_gflops": peak, "rows": rows}, f,
                indent=2)


if __name__ == "__main__":
  app.run(main)
