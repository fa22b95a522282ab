"""Tests of the face tasks: batches, metrics, pictures, manifests and export."""

import json
import os
import tempfile

import numpy as np
import tensorflow as tf

from aign_tf import errors
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.renderers import downsample
from aign_tf.renderers import masking
from aign_tf.tasks import faces


def tiny(seed, count=4, identities=(0, 1)):
  return {"source": "synthetic", "count": count, "identities": list(identities),
          "seed": seed}


def sr_task(**kwargs):
  return faces.FaceSRTask(resolution=16, scale=4, inputs=tiny(1), memory=tiny(2),
                          eval_faces=tiny(3), **kwargs)


def inpaint_task(**kwargs):
  return faces.FaceInpaintTask(resolution=16, inputs=tiny(1), memory=tiny(2),
                               eval_faces=tiny(3), **kwargs)


class MetricFunctionsTest(testing.TestCase):

  def test_psnr_preset(self):
    a = np.zeros([1, 2, 2, 1])
    b = np.full([1, 2, 2, 1], 0.1)
    self.assertAllClose(faces.psnr(a, b), [20.0])
    weights = np.array([1.0, 0.0, 0.0, 0.0]).reshape(1, 2, 2, 1)
    b[0, 0, 0] = 0.01
    self.assertAllClose(faces.psnr(a, b, weights), [40.0])

  def test_mean_fill(self):
    image = np.array([0.2, 0.4, 9.0, 9.0]).reshape(1, 2, 2, 1)
    visibility = np.array([1.0, 1.0, 0.0, 0.0]).reshape(1, 2, 2, 1)
    self.assertAllClose(faces.mean_fill(image, visibility).ravel(), [0.2, 0.4, 0.3, 0.3])

  def test_back_projection_satisfies_the_renderer_and_beats_bicubic(self):
    # A smooth image with detail at several scales, pooled 4x.
    y, x = np.meshgrid(np.linspace(0, 1, 32), np.linspace(0, 1, 32), indexing="ij")
    image = (0.5 + 0.3 * np.sin(6 * x) * np.cos(5 * y) + 0.1 * np.sin(17 * x + 11 * y))
    image = np.repeat(image[None, :, :, None], 3, axis=-1).astype(np.float32)
    low = downsample.average_pool(tf.constant(image), 4).numpy()
    bicubic = faces.bicubic_upsample(low, 4)
    result = faces.back_projection(low, 4)
    rendered = downsample.average_pool(tf.constant(result), 4).numpy()
    self.assertLess(np.abs(rendered - low).max(), 1e-3)
    self.assertGreater(np.abs(downsample.average_pool(tf.constant(bicubic), 4).numpy()
                              - low).max(), 1e-2)
    self.assertGreater(faces.psnr(image, result)[0], faces.psnr(image, bicubic)[0] + 0.5)

  def test_bias_score(self):
    classifier = lambda images: (images.mean(axis=(1, 2, 3)) > 0.5).astype(int)
    images = np.stack([np.full([2, 2, 3], v) for v in (0.1, 0.9, 0.8, 0.7)])
    self.assertAllClose(faces.bias_score(classifier, images, 1), 0.75)


class FaceSRTaskTest(testing.TestCase):

  def test_train_batch(self):
    batch = next(iter(sr_task().train_dataset(2)))
    self.assertEqual(batch[keys.OBSERVATION].shape, (2, 4, 4, 3))
    self.assertEqual(batch[keys.MEMORY].shape, (2, 16, 16, 3))
    self.assertNotIn(keys.TARGET, batch)

  def test_eval_observation_is_rendered_target(self):
    batch = next(iter(sr_task().eval_dataset(4)))
    self.assertAllClose(batch[keys.OBSERVATION],
                        downsample.Downsample(4)(batch[keys.TARGET]), atol=1e-6)

  def test_grayscale_observation(self):
    batch = next(iter(sr_task(grayscale=True).eval_dataset(2)))
    self.assertEqual(batch[keys.OBSERVATION].shape, (2, 4, 4, 1))

  def test_metrics(self):
    task = sr_task()
    batch = {k: v.numpy() for k, v in next(iter(task.eval_dataset(4))).items()}
    perfect = task.metrics(batch, batch[keys.TARGET])
    self.assertTrue(np.all(perfect["lr_psnr"] > 60))
    self.assertTrue(np.all(perfect["psnr"] > 60))
    self.assertAllClose(perfect["ssim"], np.ones(4), atol=1e-4)
    # Box upsampling is LR-consistent but blurrier than the target.
    boxed = faces.upsample_nearest(batch[keys.OBSERVATION].transpose(1, 2, 0, 3), 4)
    boxed = boxed.transpose(2, 0, 1, 3)
    metrics = task.metrics(batch, boxed)
    self.assertTrue(np.all(metrics["lr_psnr"] > 60))
    self.assertTrue(np.all(metrics["psnr"] < 40))
    self.assertEqual(metrics["bicubic_psnr"].shape, (4,))

  def test_images_grid(self):
    task = sr_task(num_images=2)
    batch = {k: v.numpy() for k, v in next(iter(task.eval_dataset(4))).items()}
    grid = task.images(batch, batch[keys.TARGET])["faces_sr"]
    # 2 rows of input | output | truth | memory, 16 px tiles, 2 px padding.
    self.assertEqual(grid.shape, (2 * 18 + 2, 4 * 18 + 2, 3))
    self.assertEqual(grid.dtype, np.uint8)

  def test_manifests_written(self):
    directory = tempfile.mkdtemp(dir=self.get_temp_dir())
    sr_task(manifest_dir=directory).face_sets()
    with open(os.path.join(directory, "memory_manifest.json")) as f:
      manifest = json.load(f)
    self.assertEqual(manifest["count"], 4)
    self.assertEqual(manifest["spec"]["seed"], 2)
    self.assertLen(manifest["images"], 4)
    self.assertTrue(os.path.isfile(os.path.join(directory, "inputs_manifest.json")))

  def test_max_count_caps_sets(self):
    task = faces.FaceSRTask(resolution=16, scale=4, max_count=3)
    self.assertEqual({s["count"] for s in task.specs.values()}, {3})

  def test_inputs_and_memory_sharing_images_raises(self):
    task = faces.FaceSRTask(resolution=16, scale=4, inputs=tiny(1), memory=tiny(1),
                            eval_faces=tiny(3))
    with self.assertRaisesRegex(errors.DataError, "never share images"):
      task.train_dataset(2)

  def test_indivisible_resolution_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "divisible by scale 3"):
      faces.FaceSRTask(resolution=16, scale=3)

  def test_serve(self):
    task = sr_task()
    generator = lambda x, training=False: downsample.box_upsample(x, 4)
    spec = task.export.input_signature()["image"]
    self.assertEqual(spec.shape.as_list(), [None, 4, 4, 3])
    self.assertEqual(spec.dtype, tf.uint8)
    image = np.random.default_rng(0).integers(0, 256, [2, 4, 4, 3]).astype(np.uint8)
    out = tf.function(task.export.serve)(generator, {"image": tf.constant(image)})
    self.assertEqual(out["image"].dtype, tf.uint8)
    self.assertAllEqual(out["image"][:, ::4, ::4], image)
    self.assertAllClose(out["image_float"][:, ::4, ::4], image / 255.0)
    self.assertEqual(task.export.image_inputs(), ("image",))
    self.assertIn("uint8", task.export.conventions())


  def test_saved_model_round_trip(self):
    from aign_tf.models import face_networks  # pylint: disable=g-import-not-at-top
    task = sr_task()
    generator = face_networks.SRResNet(scale=4, filters=4, num_blocks=1)
    spec = task.export.input_signature()

    class Module(tf.Module):

      def __init__(self):
        super().__init__()
        self.generator = generator

      @tf.function(input_signature=[spec["image"]])
      def serve(self, image):
        return task.export.serve(self.generator, {"image": image})

    path = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "1")
    module = Module()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    loaded = tf.saved_model.load(path).signatures["serving_default"]
    image = np.random.default_rng(1).integers(0, 256, [2, 4, 4, 3]).astype(np.uint8)
    out = loaded(image=tf.constant(image))
    expected = generator(image.astype(np.float32) / 255.0)
    self.assertAllClose(out["image_float"], expected, atol=1e-5)
    self.assertEqual(out["image"].shape, (2, 16, 16, 3))


class FaceInpaintTaskTest(testing.TestCase):

  def test_batch_layout(self):
    batch = next(iter(inpaint_task().eval_dataset(2)))
    observation = batch[keys.OBSERVATION]
    visibility = batch[keys.CONTEXT][masking.VISIBILITY]
    self.assertEqual(observation.shape, (2, 16, 16, 4))
    self.assertAllEqual(observation[..., 3:], visibility)
    self.assertAllClose(observation[..., :3], batch[keys.TARGET] * visibility)
    self.assertAllClose(batch[keys.RECONSTRUCTION_TARGET], observation[..., :3])
    self.assertGreater(float(tf.reduce_sum(1.0 - visibility)), 0)

  def test_train_batch_has_memory(self):
    batch = next(iter(inpaint_task(mask="random").train_dataset(2)))
    self.assertEqual(batch[keys.MEMORY].shape, (2, 16, 16, 3))

  def test_metrics(self):
    task = inpaint_task()
    batch = tf.nest.map_structure(np.asarray, next(iter(task.eval_dataset(4))))
    perfect = task.metrics(batch, batch[keys.TARGET])
    self.assertTrue(np.all(perfect["hole_psnr"] > 60))
    self.assertTrue(np.all(perfect["visible_psnr"] > 60))
    zeros = task.metrics(batch, np.zeros_like(batch[keys.TARGET]))
    self.assertTrue(np.all(zeros["visible_psnr"] < 30))
    self.assertTrue(np.all(zeros["hole_psnr"] < zeros["mean_fill_hole_psnr"]))

  def test_unknown_mask_raises(self):
    with self.assertRaisesRegex(errors.ConfigError, "mask 'ears'"):
      inpaint_task(mask="ears")

  def test_serve_white_is_hole(self):
    task = inpaint_task()
    generator = lambda x, training=False: tf.fill(tf.concat([tf.shape(x)[:3], [3]], 0), 0.5)
    image = np.full([1, 16, 16, 3], 200, np.uint8)
    mask = np.zeros([1, 16, 16, 1], np.uint8)
    mask[0, 4:8, 4:8] = 255
    out = tf.function(task.export.serve)(generator, {"image": image, "mask": mask})
    self.assertAllEqual(out["image"][0, 0, 0], [200, 200, 200])
    self.assertAllEqual(out["image"][0, 5, 5], [128, 128, 128])
    self.assertEqual(task.export.image_inputs(), ("image", "mask"))


if __name__ == "__main__":
  tf.test.main()
