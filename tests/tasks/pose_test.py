"""Tests of the pose task: metrics, batches, pictures and the export."""

import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.core import skeleton
from aign_tf.data.mocap import procedural
from aign_tf.models import pose_networks
from aign_tf.renderers import projection
from aign_tf.tasks import pose
from aign_tf.tasks import pose_export


def tiny_task(**kwargs):
  import gin  # pylint: disable=g-import-not-at-top
  gin.bind_parameter("data.pose_clips.embedded_clips", (2, 2, 2))
  gin.bind_parameter("data.pose_clips.embedded_frames", 8)
  gin.bind_parameter("data.pose_clips.source", "embedded")
  return pose.PoseTask(**kwargs)


class PoseMetricsTest(testing.TestCase):

  def test_metrics_presets(self):
    target = procedural.generate_clip("walk", num_frames=3, seed=0)
    # A uniform 10 cm shift of every non-root joint: MPJPE = 100 * 16 / 17 mm.
    shifted = target.copy()
    shifted[:, 1:] += [0.1, 0.0, 0.0]
    metrics = pose.pose_metrics(shifted, target)
    self.assertAllClose(metrics["mpjpe_mm"], np.full(3, 100.0 * 16 / 17), rtol=1e-4)
    self.assertAllClose(metrics["pck3d_150"], np.full(3, 100.0))
    # Rotated, scaled and translated copies align perfectly under Procrustes.
    rotation = projection.rotation_matrix([0.3, -1.0, 0.4]).numpy()
    moved = 1.3 * np.einsum("ij,nkj->nki", rotation, target) + [1.0, 2.0, 3.0]
    metrics = pose.pose_metrics(moved, target)
    self.assertAllClose(metrics["p_mpjpe_mm"], np.zeros(3), atol=1e-3)
    self.assertTrue(np.all(metrics["mpjpe_mm"] > 50.0))
    # A scaled copy is exact after scale alignment only.
    metrics = pose.pose_metrics(0.5 * target, target)
    self.assertAllClose(metrics["n_mpjpe_mm"], np.zeros(3), atol=1e-3)
    self.assertTrue(np.all(metrics["mpjpe_mm"] > 50.0))

  def test_procrustes_does_not_reflect(self):
    target = procedural.generate_clip("box", num_frames=1, seed=1)
    mirrored = target * [-1.0, 1.0, 1.0]
    self.assertGreater(pose.pose_metrics(mirrored, target)["p_mpjpe_mm"][0], 10.0)

  def test_metrics_shape_mismatch_raises(self):
    with self.assertRaisesRegex(errors.DataError, "prediction"):
      pose.pose_metrics(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))


class PoseTaskTest(testing.TestCase):

  def test_train_batches(self):
    task = tiny_task(paired_fraction=0.5, dropout=0.2)
    batch = next(iter(task.train_dataset(4)))
    self.assertEqual(batch[keys.OBSERVATION].shape, (4, 17, 2))
    self.assertEqual(batch[keys.MEMORY].shape, (4, 17, 3))
    self.assertEqual(batch[keys.RECONSTRUCTION_WEIGHTS].shape, (4, 17, 1))
    self.assertEqual(batch[keys.CONTEXT][projection.SCALE_2D].shape, (4, 1))
    self.assertEqual(batch[keys.TARGET].shape, (4, 17, 3))

  def test_eval_splits(self):
    task = tiny_task()
    batch, names = task.eval_examples("eval")
    self.assertLen(names, 2)
    self.assertLen(batch[keys.OBSERVATION], 2 * 4)
    one, _ = task.eval_examples(f"clip:{names[1]}")
    self.assertLen(one[keys.OBSERVATION], 4)
    self.assertTrue(np.all(one[pose.CLIP] == 1))
    with self.assertRaisesRegex(errors.ConfigError, "no eval clip"):
      task.eval_examples("clip:nothing")
    with self.assertRaisesRegex(errors.ConfigError, "splits"):
      task.eval_dataset(2, split="test")

  def test_serve_matches_renderer_and_training_normalisation(self):
    task = tiny_task()
    batch, _ = task.eval_examples("eval")
    generator = pose_networks.PoseLifter(hidden_units=8, num_blocks=1)
    outputs = task.export.serve(generator, {pose.KEYPOINTS_2D: batch[pose.KEYPOINTS_2D]})
    prediction = generator(batch[keys.OBSERVATION])
    self.assertAllClose(outputs["joints_3d"], prediction["joints_3d"], atol=1e-5)
    # The camera puts the pelvis on the ray through the observed root.
    translation = outputs["camera_translation"].numpy()
    self.assertAllClose(translation[:, :2] / translation[:, 2:], batch[pose.KEYPOINTS_2D][:, 0],
                        atol=1e-5)
    # Projecting joints_3d + translation renders the training observation's frame.
    image = projection.project(outputs["joints_3d"] + translation[:, None])
    rendered = projection.render_keypoints(
        prediction["joints_3d"], prediction["depth"],
        batch[keys.CONTEXT][projection.ROOT_2D], batch[keys.CONTEXT][projection.SCALE_2D],
        normalise=False)
    self.assertAllClose(image, rendered, atol=1e-5)
    self.assertEqual(outputs["camera_rotation"].shape, (8, 3, 3))
    spec = task.export.input_signature()[pose.KEYPOINTS_2D]
    self.assertEqual(spec.shape.as_list(), [None, skeleton.NUM_JOINTS, 2])
    self.assertIn("normalised camera coordinates", task.export.conventions())
    as_json = pose_export.outputs_to_json(outputs)
    self.assertLen(as_json["people"], 8)
    self.assertLen(as_json["people"][0]["joints_3d"], 17)
    self.assertEqual(as_json["joint_names"][0], "pelvis")

  def test_images_and_metrics_from_a_batch(self):
    task = tiny_task()
    batch, _ = task.eval_examples("eval")
    generator = pose_networks.PoseLifter(hidden_units=8, num_blocks=1)
    prediction = {k: v.numpy() for k, v in generator(batch[keys.OBSERVATION]).items()}
    images = task.images(batch, prediction)
    image = images["pose_skeletons"]
    self.assertEqual(image.dtype, np.uint8)
    self.assertEqual(image.ndim, 3)
    self.assertGreater(image.std(), 5.0)  # Something was drawn.
    metrics = task.metrics(batch, prediction)
    self.assertEqual(metrics["mpjpe_mm"].shape, (8,))

  def test_bad_options_raise(self):
    with self.assertRaisesRegex(errors.ConfigError, "paired_fraction"):
      pose.PoseTask(paired_fraction=2.0)
    with self.assertRaisesRegex(errors.ConfigError, "memory_frame"):
      pose.PoseTask(memory_frame="world")


if __name__ == "__main__":
  tf.test.main()
