"""Why sfm solves the egomotion instead of regressing it: both, given the TRUE depth.

1. A pose network (`DepthEgomotionNet(pose_solver="network")`, shared encoder or
   `--separate_pose_net`) is trained for `--steps` steps by the auto-masked SSIM + L1
   photometric loss of the source frame warped with the true depth (rescaled to the
   network's mean-depth convention) and its predicted motion. Every `--report_every` steps it
   prints the mean absolute rotation error on the training batch next to that of predicting
   the batch's mean rotation (a network that ignores its input).
2. The direct Gauss-Newton solver (`models/direct_pose.py`) is run on held-out test pairs
   from the true depth, from the true depth times log-normal noise, and from a constant
   depth; it prints the rotation and translation errors next to "no motion".

  python experiments/sfm_pose_from_true_depth.py --steps=800
"""

import time

from absl import app
from absl import flags

flags.DEFINE_integer("steps", 800, "Training steps of the pose network.")
flags.DEFINE_integer("report_every", 100, "Steps between lines.")
flags.DEFINE_integer("num_train", 2000, "Training pairs (the sfm.gin default).")
flags.DEFINE_integer("num_test", 64, "Test pairs for the solver.")
flags.DEFINE_bool("separate_pose_net", True, "Pose network with its own encoder.")
flags.DEFINE_float("learning_rate", 5e-4, "Adam learning rate.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  from aign_tf.models import direct_pose  # pylint: disable=g-import-not-at-top
  from aign_tf.models import sfm_networks  # pylint: disable=g-import-not-at-top
  from aign_tf.objectives import reconstruction  # pylint: disable=g-import-not-at-top
  from aign_tf.renderers import view_synthesis  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import sfm  # pylint: disable=g-import-not-at-top
  from aign_tf.tasks import sfm_sources  # pylint: disable=g-import-not-at-top

  task = sfm.SfmTask(source=sfm_sources.Procedural(num_train=FLAGS.num_train), num_eval=200)
  train = task._pairs("train")  # pylint: disable=protected-access
  test = task._pairs("eval")  # pylint: disable=protected-access
  to_float = lambda a: tf.constant(a, tf.float32) / 255.0
  target, source = to_float(train["target_frame"]), to_float(train["source_frame"])
  depth, intrinsics = tf.constant(train["depth"]), tf.constant(train["intrinsics"])
  egomotion = train["egomotion"]

  net = sfm_networks.DepthEgomotionNet(base_filters=16, mean_depth=5.0,
                                       translation_scale=0.1,
                                       separate_pose_net=FLAGS.separate_pose_net)
  optimizer = keras.optimizers.Adam(FLAGS.learning_rate)

  @tf.function
  def step(index):
    t, s = tf.gather(target, index), tf.gather(source, index)
    d, k = tf.gather(depth, index), tf.gather(intrinsics, index)
    with tf.GradientTape() as tape:
      predicted = net(tf.concat([t, s], -1), training=True)["egomotion"]
      # The true depth at the network's scale convention (harmonic mean 5).
      d = d * 5.0 * tf.reduce_mean(1.0 / d, axis=[1, 2, 3], keepdims=True)
      warped, valid, _ = view_synthesis.warp(s, d, predicted, k)
      loss = tf.reduce_mean(reconstruction.photometric_loss(t, warped, valid, baseline=s))
    variables = net.trainable_variables
    gradients = tape.gradient(loss, variables)
    optimizer.apply_gradients([(g, v) for g, v in zip(gradients, variables)
                               if g is not None])
    return loss, predicted

  print(f"1. pose network ({'separate' if FLAGS.separate_pose_net else 'shared'} encoder) "
        "trained with the true depth:")
  rng = np.random.default_rng(0)
  start = time.time()
  for i in range(1, FLAGS.steps + 1):
    index = rng.integers(0, len(egomotion), 8)
    loss, predicted = step(index)
    if i % FLAGS.report_every == 0:
      true_rotation = egomotion[index, 3:]
      error = np.degrees(np.abs(predicted.numpy()[:, 3:] - true_rotation).mean())
      constant = np.degrees(np.abs(true_rotation - true_rotation.mean(0)).mean())
      print(f"  step {i}: loss {float(loss):.4f}  rotation error {error:.3f} deg  "
            f"(batch-mean predictor {constant:.3f} deg)  {time.time() - start:.0f} s",
            flush=True)

  print("2. direct solver on the test pairs:")
  n = FLAGS.num_test
  t, s = to_float(test["target_frame"][:n]), to_float(test["source_frame"][:n])
  d, k, true = tf.constant(test["depth"][:n]), tf.constant(test["intrinsics"][:n]), (
      test["egomotion"][:n])
  solve = tf.function(direct_pose.solve_egomotion)
  median = np.median(test["depth"][:n], axis=(1, 2, 3), keepdims=True).astype(np.float32)
  noise = tf.exp(tf.random.stateless_normal(d.shape, seed=(1, 2), stddev=0.3))
  print(f"  no motion: rotation error {np.degrees(np.abs(true[:, 3:]).mean()):.3f} deg, "
        f"translation error {np.abs(true[:, :3]).mean():.3f}")
  for name, given in (("true depth", d), ("true depth x lognormal(0.3)", d * noise),
                      ("constant depth", tf.constant(np.broadcast_to(median, d.shape)))):
    solved = solve(t, s, given, k).numpy()
    print(f"  {name}: rotation error {np.degrees(np.abs(solved[:, 3:] - true[:, 3:]).mean()):.3f}"
          f" deg, translation error {np.abs(solved[:, :3] - true[:, :3]).mean():.3f}")


if __name__ == "__main__":
  app.run(main)
