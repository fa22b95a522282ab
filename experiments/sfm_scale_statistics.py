r"""How well can one constant scale, known from the memory alone, fix each image's scale?

A model with one global scale (`generators.DepthEgomotionNet.metric_scale = 'global'`)
normalises every depth map so that some statistic of it (`scale_statistic`) is the same for
all images, then multiplies by one learned number. However well it predicts each map's
shape, its per-image scale is then only as right as that statistic is constant across
scenes. This measures that bound on the true depth maps of the test splits: each map is
normalised so its statistic equals the statistic's median over the depth memory (other
scenes: no label involved), and the per-image scale ratio median(normalised) /
median(true) is summarised (mean and median |log ratio|, the share within 10%), for the
median, arithmetic mean, geometric mean and harmonic mean of the depth.

    python experiments/sfm_scale_statistics.py [--gin_file=gin/sfm.gin] [--splits=eval,...]
"""

from absl import app
from absl import flags

flags.DEFINE_string("gin_file", "gin/sfm.gin", "The configuration whose data are measured.")
flags.DEFINE_list("splits", ["eval", "textureless", "repeated", "occlusions"], "Test splits.")
flags.DEFINE_multi_string("gin_bindings", [], "Extra bindings.")
FLAGS = flags.FLAGS


def _median(depth):
  import numpy as np  # pylint: disable=g-import-not-at-top
  return np.median(depth, axis=1)


def _mean(depth):
  return depth.mean(axis=1)


def _geometric_mean(depth):
  import numpy as np  # pylint: disable=g-import-not-at-top
  return np.exp(np.log(depth).mean(axis=1))


def _harmonic_mean(depth):
  return 1.0 / (1.0 / depth).mean(axis=1)


STATISTICS = {"median": _median, "mean": _mean, "geometric mean": _geometric_mean,
              "harmonic mean": _harmonic_mean}


def scale_errors(true_depth, memory, statistic):
  """|log scale ratio| per map of `true_depth` `[N, ...]` normalised so that `statistic`
  equals its median over the `memory` maps `[M, ...]` (every depth must be > 0)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  flat = lambda d: np.asarray(d, np.float64).reshape(len(d), -1)
  true_depth, memory = flat(true_depth), flat(memory)
  if np.any(true_depth <= 0) or np.any(memory <= 0):
    raise ValueError("scale_errors: depths must be > 0")
  constant = np.median(statistic(memory))
  # Normalised: true * constant / statistic(true); its median over the true median:
  return np.abs(np.log(constant / statistic(true_depth)))


def summary(errors):
  import numpy as np  # pylint: disable=g-import-not-at-top
  return {"mean": float(errors.mean()), "median": float(np.median(errors)),
          "within_10pct": float(np.mean(errors < np.log(1.1)))}


def main(argv):
  del argv
  import os  # pylint: disable=g-import-not-at-top
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  config.parse([os.path.join(root, FLAGS.gin_file)], FLAGS.gin_bindings)
  task = config.resolve("train.task")
  memory = task._memory(0)  # pylint: disable=protected-access
  print(f"memory: {task._describe_memory()}, {len(memory)} maps")  # pylint: disable=protected-access
  print(f"{'split':<13}{'statistic':<16}{'mean |log ratio|':>18}{'median':>9}"
        f"{'within 10%':>12}")
  for split in FLAGS.splits:
    true_depth = task._pairs(split)["depth"]  # pylint: disable=protected-access
    for name, statistic in STATISTICS.items():
      s = summary(scale_errors(true_depth, memory, statistic))
      print(f"{split:<13}{name:<16}{s['mean']:>18.3f}{s['median']:>9.3f}"
            f"{s['within_10pct']:>12.0%}")


if __name__ == "__main__":
  app.run(main)
