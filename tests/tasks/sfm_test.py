"""Tests of the sfm task: batches, metrics, pictures, export, real-format wiring."""

import os
import tempfile

import numpy as np
from PIL import Image
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import imaging
from aign_tf.core import keys
from aign_tf.data import sfm as sfm_data
from aign_tf.models import sfm_networks
from aign_tf.objectives import sfm as sfm_objectives
from aign_tf.renderers import view_synthesis
from aign_tf.tasks import sfm
from aign_tf.tasks import sfm_metrics
from aign_tf.tasks import sfm_sources


def _tiny_task(num_train=6, **kwargs):
  defaults = dict(height=16, width=48, num_memory=6, num_eval=4)
  defaults.update(kwargs)
  return sfm.SfmTask(source=sfm_sources.Procedural(num_train=num_train), **defaults)


class SfmTaskDataTest(testing.TestCase):

  def test_train_batch_layout(self):
    task = _tiny_task(paired_fraction=0.5)
    batch = next(iter(task.train_dataset(3, seed=1)))
    self.assertEqual(batch[keys.OBSERVATION]["frames"].shape, (3, 16, 48, 6))
    self.assertEqual(batch[keys.OBSERVATION]["frames"].dtype, tf.float32)
    self.assertEqual(batch[keys.RECONSTRUCTION_TARGET].shape, (3, 16, 48, 3))
    self.assertAllClose(batch[keys.OBSERVATION]["frames"][..., :3],
                        batch[keys.RECONSTRUCTION_TARGET])
    self.assertAllClose(batch[keys.OBSERVATION]["frames"][..., 3:],
                        batch[keys.CONTEXT]["source"])
    self.assertEqual(batch[keys.CONTEXT]["intrinsics"].shape, (3, 4))
    self.assertAllEqual(batch[keys.OBSERVATION]["intrinsics"],
                        batch[keys.CONTEXT]["intrinsics"])
    self.assertEqual(batch[keys.TARGET].shape, (3, 16, 48, 1))
    self.assertEqual(batch[keys.TARGET_MASK].shape, (3,))
    self.assertEqual(batch[keys.MEMORY].shape, (3, 16, 48, 1))
    self.assertBetween(float(tf.reduce_max(batch[keys.OBSERVATION]["frames"])), 0.0, 1.0)

  def test_paired_fraction_is_exact_and_labelled_only(self):
    task = _tiny_task(num_train=10, paired_fraction=0.3)
    masks = np.concatenate([b[keys.TARGET_MASK].numpy() for b in
                            task.train_dataset(2, seed=4).take(5)])
    self.assertEqual(masks.sum(), 3.0)
    only = _tiny_task(num_train=10, paired_fraction=0.3, labelled_only=True)
    batches = list(only.train_dataset(3, seed=4).take(4))
    self.assertTrue(all(np.all(b[keys.TARGET_MASK].numpy() == 1.0) for b in batches))
    with self.assertRaisesRegex(errors.ConfigError, "labelled_only.*paired_fraction=0.0"):
      _tiny_task(labelled_only=True).train_dataset(2)

  def test_blur_levels_stack_blurred_frames(self):
    task = _tiny_task(blur_levels=2)
    batch = next(iter(task.train_dataset(2, seed=1)))
    target = batch[keys.RECONSTRUCTION_TARGET]
    source = batch[keys.CONTEXT]["source"]
    self.assertEqual(target.shape, (2, 16, 48, 9))
    self.assertEqual(source.shape, (2, 16, 48, 9))
    self.assertAllClose(target[..., :3], batch[keys.OBSERVATION]["frames"][..., :3])
    # Blurring keeps the mean and lowers the variation, more for the wider blur.
    variation = [float(tf.reduce_mean(tf.abs(target[:, :, 1:, c:c + 3] -
                                             target[:, :, :-1, c:c + 3])))
                 for c in (0, 3, 6)]
    self.assertGreater(variation[0], variation[1])
    self.assertGreater(variation[1], variation[2])
    self.assertAllClose(tf.reduce_mean(target[..., 6:]), tf.reduce_mean(target[..., :3]),
                        atol=0.02)

  def test_flipped_pairs_are_valid_pairs(self):
    # A mirrored pair warps exactly as well with the mirrored true motion as the original
    # with its own: the flip keeps the geometry (frames, depth, c_x -> W - 1 - c_x).
    task = _tiny_task(num_train=8, height=32, width=96)
    pairs = task._pairs("train")
    examples = {k: tf.constant(v) for k, v in task._examples(pairs).items()}
    egomotion = pairs[sfm.EGOMOTION].astype(np.float32)
    flipped = task.flip_pairs(examples, tf.constant([0, 0], tf.int64))
    again = task.flip_pairs(examples, tf.constant([0, 0], tf.int64))
    self.assertAllEqual(flipped["target_frame"], again["target_frame"])
    was_flipped = np.any(flipped["target_frame"].numpy() != examples["target_frame"].numpy(),
                         axis=(1, 2, 3))
    self.assertTrue(0 < was_flipped.sum() < len(was_flipped))
    mirrored = np.where(was_flipped[:, None],
                        egomotion * np.array([-1, 1, 1, 1, -1, -1], np.float32), egomotion)

    def warp_error(ex, motion):
      target = tf.cast(ex["target_frame"], tf.float32) / 255.0
      source = tf.cast(ex["source_frame"], tf.float32) / 255.0
      warped, valid, _ = view_synthesis.warp(source, tf.cast(ex[keys.TARGET], tf.float32),
                                             motion, ex["intrinsics"])
      return (tf.reduce_sum(tf.abs(warped - target) * valid, [1, 2, 3]) /
              tf.reduce_sum(3.0 * valid, [1, 2, 3])).numpy()

    original = warp_error(examples, egomotion)
    self.assertAllClose(warp_error(flipped, mirrored), original, rtol=1e-4)
    # The unmirrored motion, or a principal point off by one pixel, warps worse.
    self.assertTrue(np.all(warp_error(flipped, egomotion)[was_flipped] >
                           2 * original[was_flipped]))
    shifted = dict(flipped, intrinsics=flipped["intrinsics"] + [0.0, 0.0, 1.0, 0.0])
    self.assertTrue(np.all(warp_error(shifted, mirrored)[was_flipped] >
                           original[was_flipped] * 1.01))
    # In training, each target frame is a training frame or its mirror, and some are mirrored.
    task = _tiny_task(num_train=4, flip_augmentation=True)
    frames = task._pairs("train", seed=3)["target_frame"].astype(np.float32) / 255.0
    seen = np.concatenate([b[keys.RECONSTRUCTION_TARGET].numpy()
                           for b in task.train_dataset(4, seed=3).take(3)])

    def matches(image, candidates):
      return np.any(np.all(np.abs(candidates - image) < 1e-6, axis=(1, 2, 3)))

    self.assertTrue(all(matches(f, frames) or matches(f, frames[:, :, ::-1]) for f in seen))
    self.assertTrue(any(not matches(f, frames) for f in seen))

  def test_condition_splits(self):
    task = _tiny_task()
    batch = next(iter(task.eval_dataset(2, split="occlusions")))
    self.assertEqual(batch[keys.TARGET].shape, (2, 16, 48, 1))
    self.assertEqual(batch[sfm.EGOMOTION].shape, (2, 6))
    standard = next(iter(task.eval_dataset(2, split="eval")))
    self.assertNotAllClose(batch[keys.TARGET], standard[keys.TARGET])
    with self.assertRaisesRegex(errors.ConfigError, "eval, train, textureless, repeated, "
                                "occlusions; not 'foggy'"):
      task.eval_dataset(2, split="foggy")

  def test_eval_batches_have_depth_and_egomotion(self):
    batch = next(iter(_tiny_task().eval_dataset(4)))
    self.assertEqual(batch[keys.TARGET].shape, (4, 16, 48, 1))
    self.assertEqual(batch[sfm.EGOMOTION].shape, (4, 6))
    self.assertAllEqual(batch[keys.TARGET_MASK], tf.ones([4]))
    with self.assertRaises(ValueError):
      _tiny_task().eval_dataset(4, split="test")

  def test_config_exception_raised(self):
    with self.assertRaisesRegex(errors.ConfigError, "SfmTask.source must be one of"):
      sfm.SfmTask(source="kitti")
    with self.assertRaisesRegex(errors.ConfigError, r"sfm_sources.KittiRaw \(tasks.SfmTask."
                                r"source='kitti_raw'\) needs a data_dir: bind "
                                r"sfm_sources.KittiRaw.data_dir"):
      sfm.SfmTask(source="kitti_raw")
    with self.assertRaisesRegex(errors.ConfigError, "multiples of 16"):
      sfm.SfmTask(height=20)


class SfmMetricsTest(testing.TestCase):

  def test_depth_metrics_median_scaling(self):
    rng = np.random.default_rng(0)
    depth = rng.uniform(1.0, 20.0, (2, 4, 6, 1))
    perfect = sfm_metrics.depth_metrics(depth, 3.0 * depth)   # any global scale is forgiven
    self.assertAllClose(perfect["abs_rel"], [0.0, 0.0], atol=1e-12)
    self.assertAllClose(perfect["delta_1.25"], [1.0, 1.0])
    constant = sfm_metrics.depth_metrics(depth, np.ones_like(depth))
    self.assertTrue(np.all(constant["abs_rel"] > 0.1))
    # Hand-computed: true (1, 2, 4, 8), predicted (2, 2, 2, 2) -> median-scaled to 3.
    gt, pred = np.array([[1.0, 2.0, 4.0, 8.0]]), np.full((1, 4), 2.0)
    m = sfm_metrics.depth_metrics(gt, pred)
    self.assertAllClose(m["abs_rel"], [np.mean([2 / 1, 1 / 2, 1 / 4, 5 / 8])])
    self.assertAllClose(m["rmse"], [np.sqrt(np.mean([4.0, 1.0, 1.0, 25.0]))])
    self.assertAllClose(m["delta_1.25"], [0.0])

  def test_egomotion_metrics(self):
    true = np.array([[0.1, 0.0, 0.5, 0.0, 0.1, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    scaled = true.copy()
    scaled[:, :3] *= 7.0
    m = sfm_metrics.egomotion_metrics(true, scaled)
    self.assertAllClose(m["translation_error"], [0.0, 0.0], atol=1e-9)
    self.assertAllClose(m["rotation_error_deg"], [0.0, 0.0], atol=1e-5)
    wrong = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.2, 0.0, 0.0]])
    m = sfm_metrics.egomotion_metrics(true, wrong)
    self.assertAllClose(m["rotation_error_deg"], [np.degrees(0.1), np.degrees(0.2)])
    self.assertAllClose(m["translation_error"][1], 1.0)  # orthogonal: best scale is 0.

  def test_task_metrics_and_images(self):
    task = _tiny_task()
    batch = {k: (v if not isinstance(v, dict) else {kk: vv.numpy() for kk, vv in v.items()})
             for k, v in next(iter(task.eval_dataset(4))).items()}
    batch = {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in batch.items()}
    prediction = {"depth": 2.0 * batch[keys.TARGET], "egomotion": batch[sfm.EGOMOTION]}
    metrics = task.metrics(batch, prediction)
    self.assertAllClose(metrics["abs_rel"], np.zeros(4), atol=1e-9)
    self.assertAllClose(metrics["translation_error"], np.zeros(4), atol=1e-6)
    images = task.images(batch, prediction)
    grid = images["sfm"]
    self.assertEqual(grid.dtype, np.uint8)
    # 4 rows x 5 columns (target | source | predicted | true depth | warped) with 2px pads.
    self.assertEqual(grid.shape, (4 * 18 + 2, 5 * 50 + 2, 3))

  def test_scale_invariant_log_loss(self):
    target = tf.constant(np.random.default_rng(0).uniform(1.0, 20.0, (2, 4, 6, 1)),
                         tf.float32)
    # Any global scale of the exact depth costs nothing.
    self.assertAllClose(sfm_objectives.scale_invariant_log_loss(target, 3.0 * target), [0.0, 0.0],
                        atol=1e-6)
    # A shape error costs: half the pixels twice too far -> g in {0, log 2}: variance
    # (log 2)^2 / 4.
    wrong = tf.concat([target[:, :2], 2.0 * target[:, 2:]], axis=1)
    self.assertAllClose(sfm_objectives.scale_invariant_log_loss(target, wrong),
                        [np.log(2.0) ** 2 / 4] * 2, atol=1e-5)
    # Pixels without depth (0, sparse ground truth) do not count.
    sparse = tf.concat([tf.zeros_like(target[:, :2]), target[:, 2:]], axis=1)
    self.assertAllClose(sfm_objectives.scale_invariant_log_loss(sparse, wrong), [0.0, 0.0], atol=1e-6)

  def test_edge_aware_smoothness(self):
    flat = {"depth": tf.fill([1, 4, 6, 1], 3.0)}
    image = np.zeros([1, 4, 6, 3], np.float32)
    batch = {keys.RECONSTRUCTION_TARGET: tf.constant(image)}
    self.assertAllClose(sfm_objectives.edge_aware_smoothness(flat, batch), [0.0])
    step = np.full([1, 4, 6, 1], 2.0, np.float32)
    step[:, :, 3:] = 8.0
    plain = float(sfm_objectives.edge_aware_smoothness({"depth": tf.constant(step)}, batch)[0])
    image[:, :, 3:] = 1.0  # The depth step now lies on an image edge: it costs less.
    edge = float(sfm_objectives.edge_aware_smoothness(
        {"depth": tf.constant(step)}, {keys.RECONSTRUCTION_TARGET: tf.constant(image)})[0])
    self.assertGreater(plain, 0.0)
    self.assertLess(edge, 0.5 * plain)
    # Invariant to a global scale of the depth.
    scaled = float(sfm_objectives.edge_aware_smoothness({"depth": tf.constant(5.0 * step)}, batch)[0])
    self.assertAllClose(scaled, plain, rtol=1e-5)

  def test_colour_map_monotone_brightness(self):
    colours = imaging.colour_map(np.linspace(0.0, 1.0, 11))
    self.assertTrue(np.all(np.diff(colours.sum(-1)) > 0))

  def test_depth_to_colour_sparse_depth(self):
    depth = np.array([[2.0, 0.0], [4.0, 8.0]])
    colours = imaging.depth_to_colour(depth)
    self.assertAllEqual(colours[0, 1], [0.0, 0.0, 0.0])  # Unknown depth: black.
    brightness = colours.sum(-1)
    self.assertGreater(brightness[0, 0], brightness[1, 0])  # Near is brighter.
    self.assertGreater(brightness[1, 0], brightness[1, 1])
    self.assertAllEqual(imaging.depth_to_colour(np.zeros((2, 3))), np.zeros((2, 3, 3)))


class SfmExportTest(testing.TestCase):

  def test_serve_outputs(self):
    task = _tiny_task()
    generator = sfm_networks.DepthEgomotionNet(base_filters=4)
    spec = task.export.input_signature()
    self.assertEqual(spec["target_frame"].dtype, tf.uint8)
    inputs = {"target_frame": tf.zeros([2, 16, 48, 3], tf.uint8),
              "source_frame": tf.fill([2, 16, 48, 3], tf.constant(200, tf.uint8)),
              "intrinsics": tf.constant([[30.0, 30.0, 23.5, 7.5]] * 2)}
    outputs = tf.function(lambda x: task.export.serve(generator, x),
                          input_signature=[spec])(inputs)
    self.assertEqual(outputs["depth"].shape, (2, 16, 48, 1))
    self.assertEqual(outputs["egomotion"].shape, (2, 6))
    self.assertAllClose(outputs["points"][..., 2:], outputs["depth"], rtol=1e-5)
    # The principal point's ray is the optical axis: x = y = 0 there... (between pixels)
    self.assertAllClose(outputs["points"][:, 7, 23, 0] / outputs["depth"][:, 7, 23, 0],
                        [-0.5 / 30.0] * 2, atol=1e-6)
    self.assertEqual(set(task.export.image_inputs()), {"target_frame", "source_frame"})
    self.assertIn("egomotion", task.export.conventions())


def _write_png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)


class SfmRealDataTest(testing.TestCase):

  def test_sfmlearner_source(self):
    root = tempfile.mkdtemp(dir=self.get_temp_dir())
    rng = np.random.default_rng(0)
    for split, names in (("train", ["000001", "000002"]), ("val", ["000003"])):
      for name in names:
        _write_png(os.path.join(root, "s", name + ".png"),
                   rng.integers(0, 255, (32, 288, 3), dtype=np.uint8))
        with open(os.path.join(root, "s", name + "_cam.txt"), "w") as f:
          f.write("50,0,48,0,50,16,0,0,1")
      with open(os.path.join(root, f"{split}.txt"), "w") as f:
        f.write("".join(f"s {n}\n" for n in names))
    task = sfm.SfmTask(source=sfm_sources.SfmLearner(data_dir=root), height=16, width=48,
                       num_memory=4)
    batch = next(iter(task.train_dataset(2)))
    self.assertEqual(batch[keys.OBSERVATION]["frames"].shape, (2, 16, 48, 6))
    self.assertNotIn(keys.TARGET, batch)
    self.assertEqual(batch[keys.MEMORY].shape, (2, 16, 48, 1))
    eval_batch = next(iter(task.eval_dataset(2)))
    self.assertEqual(eval_batch[keys.OBSERVATION]["frames"].shape[0], 1)
    self.assertEqual(task.metrics({k: np.asarray(v) for k, v in eval_batch.items()
                                   if k != keys.CONTEXT}, {}), {})

  def test_kitti_raw_source_with_poses_and_memory_file(self):
    root = tempfile.mkdtemp(dir=self.get_temp_dir())
    date = os.path.join(root, "2011_09_26")
    os.makedirs(date)
    with open(os.path.join(date, "calib_cam_to_cam.txt"), "w") as f:
      f.write("P_rect_02: 70 0 47.5 0 0 70 15.5 0 0 0 1 0\n")
    for i in range(5):
      _write_png(os.path.join(date, "2011_09_26_drive_0002_sync", "image_02", "data",
                              f"{i:010d}.png"), np.full((32, 96, 3), 30 * i, np.uint8))
    poses_path = os.path.join(root, "poses.txt")
    with open(poses_path, "w") as f:
      for i in range(5):
        f.write(f"1 0 0 0 0 1 0 0 0 0 1 {0.5 * i}\n")
    memory_path = os.path.join(root, "memory.npy")
    np.save(memory_path, np.full((3, 32, 96), 4.0, np.float32))
    task = sfm.SfmTask(source=sfm_sources.KittiRaw(data_dir=root, poses_file=poses_path,
                                                   eval_fraction=0.25),
                       memory_file=memory_path, height=16, width=48)
    batch = next(iter(task.train_dataset(2)))
    self.assertAllClose(batch[keys.MEMORY], np.full((2, 16, 48, 1), 4.0))
    eval_batch = next(iter(task.eval_dataset(4)))
    self.assertEqual(eval_batch[keys.OBSERVATION]["frames"].shape[0], 1)     # the last of 4 pairs
    self.assertAllClose(eval_batch[sfm.EGOMOTION], [[0.0, 0.0, 0.5, 0.0, 0.0, 0.0]])
    self.assertAllClose(eval_batch[keys.CONTEXT]["intrinsics"][0],
                        [35.0, 35.0, 23.5, 7.5])

  def test_bad_pose_and_memory_files(self):
    root = tempfile.mkdtemp(dir=self.get_temp_dir())
    bad = os.path.join(root, "poses.txt")
    with open(bad, "w") as f:
      f.write("1 2 3 4 5\n")
    with self.assertRaisesRegex(errors.DataError, "poses.txt: 5 columns"):
      sfm_data.load_poses(bad)
    memory = os.path.join(root, "memory.npy")
    np.save(memory, np.zeros((2, 3)))
    with self.assertRaisesRegex(errors.DataError, r"memory.npy: depth memory must be \[N"):
      sfm_data.load_depth_memory(memory, 16, 48)
    np.save(memory, np.zeros((2, 3, 4)))
    with self.assertRaisesRegex(errors.DataError, "memory.npy: invalid depth memory: 24 zero "
                                "or negative depths in 2 of 2 maps"):
      sfm_data.load_depth_memory(memory, 16, 48)


class SfmNetworksTest(testing.TestCase):

  def test_generator_outputs(self):
    net = sfm_networks.DepthEgomotionNet(base_filters=4, min_depth=0.5, max_depth=50.0)
    out = net(tf.random.uniform([2, 16, 48, 6]))
    self.assertEqual(out["depth"].shape, (2, 16, 48, 1))
    self.assertBetween(float(tf.reduce_min(out["depth"])), 0.5, 50.0)
    self.assertBetween(float(tf.reduce_max(out["depth"])), 0.5, 50.0)
    self.assertEqual(out["egomotion"].shape, (2, 6))
    self.assertLess(float(tf.reduce_max(tf.abs(out["egomotion"]))), 0.1)
    with self.assertRaisesRegex(ValueError, "divisible by 16"):
      net(tf.zeros([1, 20, 48, 6]))

  def test_generator_mean_depth_and_pose_scales(self):
    frames = tf.random.uniform([2, 16, 48, 6])
    net = sfm_networks.DepthEgomotionNet(base_filters=4, mean_depth=5.0,
                                         translation_scale=1.0, pose_scale=0.01)
    out = net(frames)
    # The harmonic mean of each depth map is mean_depth, whatever the weights.
    self.assertAllClose(1.0 / tf.reduce_mean(1.0 / out["depth"], axis=[1, 2, 3]),
                        [5.0, 5.0], rtol=1e-5)
    # Same weights, other scales: translation and rotation scale separately.
    other = sfm_networks.DepthEgomotionNet(base_filters=4, mean_depth=5.0,
                                           translation_scale=0.5, pose_scale=0.02)
    other(frames)
    other.set_weights(net.get_weights())
    moved = other(frames)["egomotion"]
    self.assertAllClose(moved[:, :3], 0.5 * out["egomotion"][:, :3], rtol=1e-5, atol=1e-7)
    self.assertAllClose(moved[:, 3:], 2.0 * out["egomotion"][:, 3:], rtol=1e-5, atol=1e-7)
    separate = sfm_networks.DepthEgomotionNet(base_filters=4, separate_pose_net=True)
    self.assertEqual(separate(frames)["egomotion"].shape, (2, 6))

  def test_generator_ignores_a_common_offset_of_its_logits(self):
    # A common offset of the log-disparity logits (the drift that froze a full run) changes
    # neither the depth nor its gradients; without centring, the logits sit in tanh's flat
    # part, the depth is constant and no gradient reaches the weights.
    frames = tf.random.uniform([2, 16, 48, 6], seed=1)
    grads = {}
    for center in (True, False):
      net = sfm_networks.DepthEgomotionNet(base_filters=4, mean_depth=5.0,
                                           center_log_disparity=center)
      net(frames)
      depth = net(frames)["depth"]
      kernel, bias = net.disparity.kernel, net.disparity.bias
      bias.assign(bias + 1000.0)
      with tf.GradientTape() as tape:
        shifted = net(frames)["depth"]
        loss = tf.reduce_mean(tf.math.log(shifted) * tf.random.normal(shifted.shape, seed=2))
      grads[center] = float(tf.norm(tape.gradient(loss, kernel)))
      if center:
        self.assertAllClose(shifted, depth, rtol=1e-4)
        self.assertGreater(float(tf.math.reduce_std(tf.math.log(shifted))), 1e-3)
      else:
        self.assertLess(float(tf.math.reduce_std(tf.math.log(shifted))), 1e-4)
    self.assertGreater(grads[True], 1e-6)
    self.assertLess(grads[False], 1e-3 * grads[True])

  def test_discriminator_ignores_depth_scale(self):
    disc = sfm_networks.DepthDiscriminator(base_filters=4)
    depth = tf.random.uniform([3, 16, 48, 1], 1.0, 10.0)
    self.assertAllClose(disc(depth), disc(5.0 * depth), atol=1e-5)
    self.assertNotAllClose(disc(depth), disc(depth[::-1]))
    disc(depth, training=True)  # the spectral-norm power iteration runs
    self.assertNotEmpty(disc.non_trainable_weights)

  def test_instance_noise_only_while_training(self):
    depth = tf.random.uniform([4, 16, 48, 1], 1.0, 10.0)
    plain = sfm_networks.DepthDiscriminator(base_filters=4, spectral_norm=False)
    noisy = sfm_networks.DepthDiscriminator(base_filters=4, spectral_norm=False,
                                            instance_noise=0.5)
    plain(depth)
    noisy(depth)
    noisy.set_weights(plain.get_weights())
    self.assertEqual(len(noisy.trainable_weights), len(plain.trainable_weights))
    # Inference: the same network (no noise).
    self.assertAllClose(noisy(depth), plain(depth))
    # Training: every map's logit moves, and differently each call.
    first, second = noisy(depth, training=True), noisy(depth, training=True)
    self.assertTrue(np.all(np.abs(first - plain(depth, training=True)) > 0))
    self.assertNotAllClose(first, second)
    # The noise is in normalised log-depth units, so it does not depend on the scale.
    self.assertAllClose(noisy(3.0 * depth), plain(depth), atol=1e-5)
    for bad in (-0.1, float("nan"), float("inf")):
      with self.assertRaisesRegex(errors.ConfigError, "instance_noise must be a finite"):
        sfm_networks.DepthDiscriminator(instance_noise=bad)


if __name__ == "__main__":
  tf.test.main()
