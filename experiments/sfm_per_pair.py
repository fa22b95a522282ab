r"""Training weights against their average, pair by pair: is a spike a few pairs or all?

Restores one checkpoint of an sfm run twice, with the generator's weight average and with
the training weights (`models.AIGN.weight_average_decay = 0`), evaluates both on every test
pair and prints, for each: abs_rel (mean, median, 90th percentile, max), the rotation error,
the median per-map spread of log depth (the depth's contrast; the truth's is printed too),
the mean and std of the depth logits over all pixels (values far from 0 sit in the flat part
of the depth's soft bound: a frozen depth),
and how the per-pair difference is distributed (its median, the pairs worse by more than
0.1, the share of the mean difference carried by the worst tenth of the pairs).
The per-image scale, median(predicted) / median(true) depth, is printed as its median,
quartiles and the share of images within 10% of the truth, for the model and for one
constant scale fitted on the memory (each map scaled to the memory's median depth): for a
metric-scale model (`gin/sfm_metric_scale.gin`) the scale is its own; a scale-normalised
model's is arbitrary.

    python experiments/sfm_per_pair.py --model_dir=runs/sfm [--split=eval]

A run keeps its last few checkpoints; to look at an older step, copy `ckpt-<step>.*` and
`operative_config.gin` into a folder of their own with a `checkpoints/checkpoint` file naming
that step, and pass the folder.
"""

from absl import app
from absl import flags

flags.DEFINE_string("model_dir", None, "An sfm run (or a folder holding one checkpoint).")
flags.DEFINE_string("split", "eval", "Test split (SfmTask.eval_dataset).")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS


def per_pair(model_dir, split, bindings):
  """abs_rel, rotation error (degrees) and log-depth spread per pair, the true spread, the
  depth logits of every pixel, and the checkpoint's step."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from aign_tf import runs  # pylint: disable=g-import-not-at-top
  from aign_tf.core import keys  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import sfm  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import sfm_metrics  # pylint: disable=g-import-not-at-top
  task, model, step = runs.restore(model_dir, bindings)
  # The depth logits (the output layer's values before the soft bound), recorded as the
  # generator runs.
  logits = []
  layer_call = model.generator.disparity.call
  model.generator.disparity.call = lambda x: logits.append(layer_call(x)) or logits[-1]
  abs_rel, rotation, spread, true_spread, scale, memory_scale = [], [], [], [], [], []
  for batch in task.eval_dataset(8, split=split):
    prediction = model.generator(batch[keys.OBSERVATION], training=False)
    abs_rel.append(sfm_metrics.depth_metrics(batch[keys.TARGET], prediction["depth"])["abs_rel"])
    rotation.append(sfm_metrics.egomotion_metrics(
        batch[sfm.EGOMOTION], prediction["egomotion"])["rotation_error_deg"])
    spread.append(sfm.log_depth_spread(prediction["depth"]))
    true_spread.append(sfm.log_depth_spread(batch[keys.TARGET]))
    scale.append(sfm.unscaled_depth_metrics(batch[keys.TARGET],
                                            prediction["depth"])["scale_ratio"])
    memory_scale.append(sfm.unscaled_depth_metrics(
        batch[keys.TARGET], prediction["depth"], to_median=task._memory_median(),  # pylint: disable=protected-access
        suffix=sfm.MEMORY_MEDIAN_SUFFIX)[f"scale_ratio{sfm.MEMORY_MEDIAN_SUFFIX}"])
  logits = np.concatenate([np.asarray(l, np.float64).ravel() for l in logits])
  return (np.concatenate(abs_rel), np.concatenate(rotation), np.concatenate(spread),
          np.concatenate(true_spread), logits, step, np.concatenate(scale),
          np.concatenate(memory_scale))


def describe_scale(ratios):
  """median, quartiles and the share within 10% of per-image scale ratios."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  ratios = ratios[np.isfinite(ratios)]
  q25, q50, q75 = np.percentile(ratios, [25, 50, 75])
  error = np.abs(np.log(ratios))
  return (f"scale ratio median {q50:.3f} (quartiles {q25:.3f}-{q75:.3f}), |log ratio| median "
          f"{np.median(error):.3f}, {np.mean(error < np.log(1.1)):.0%} of images within 10%")


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  results = {}
  for name, bindings in (("average", ()),
                         ("training weights", ("models.AIGN.weight_average_decay = 0.0",))):
    abs_rel, rotation, spread, true_spread, logits, step, scale, memory_scale = per_pair(
        FLAGS.model_dir, FLAGS.split, bindings)
    results[name] = abs_rel
    print(f"{name:<17} step {step}: abs_rel mean {abs_rel.mean():.4f} median "
          f"{np.median(abs_rel):.4f} p90 {np.percentile(abs_rel, 90):.4f} max "
          f"{abs_rel.max():.4f}; rotation error {rotation.mean():.3f} deg; log-depth spread "
          f"median {np.median(spread):.3f} (true {np.median(true_spread):.3f}); depth logits "
          f"{logits.mean():.4g} +- {logits.std():.4g}")
    print(f"{'':<17} per image, as predicted: {describe_scale(scale)}")
    print(f"{'':<17} per image, one constant scale from the memory: "
          f"{describe_scale(memory_scale)}")
  difference = results["training weights"] - results["average"]
  worst = np.sort(difference)[-max(1, len(difference) // 10):]
  print(f"training weights - average, per pair: mean {difference.mean():+.4f}, median "
        f"{np.median(difference):+.4f}; {int((difference > 0.1).sum())} of {len(difference)} "
        f"pairs worse by > 0.1; the worst tenth carries "
        f"{worst.sum() / difference.sum() if difference.sum() else float('nan'):.0%} of the "
        "mean difference")


if __name__ == "__main__":
  app.run(main)
