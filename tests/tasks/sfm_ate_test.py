"""Tests of the sfm task's snippet ATE (`SfmTask.extra_metrics`) and its use by evaluate."""

import os
import tempfile

import numpy as np
import tensorflow as tf

from aign_tf import config
from aign_tf import runs
from aign_tf import testing
from aign_tf.core import keys
from aign_tf.data import sfm as sfm_data
from aign_tf.tasks import base
from aign_tf.tasks import sfm
from aign_tf.tasks import sfm_sources
from aign_tf.train import evaluation
from aign_tf.train import trainer


def _tiny_task(num_snippets=3, **kwargs):
  defaults = dict(height=16, width=48, num_memory=2, num_eval=2, cache_dir=None)
  defaults.update(kwargs)
  return sfm.SfmTask(source=sfm_sources.Procedural(num_train=2, num_snippets=num_snippets),
                     **defaults)


class LookupGenerator:
  """A generator stub that recognises each (target, source) pair of the snippets by its
  pixels and answers its true egomotion (target camera -> source camera; with `inverse`,
  source -> target)."""

  def __init__(self, snippets, inverse=False):
    self.inverse = inverse
    self.frames = snippets["frames"].astype(np.float32) / 255.0
    self.poses = snippets["poses"]
    self.calls = 0

  def _find(self, image):
    matches = np.argwhere(np.all(self.frames == image[None, None], axis=(2, 3, 4)))
    assert len(matches) == 1, f"{len(matches)} frames match"
    return tuple(matches[0])

  def __call__(self, observation, training=False):
    assert not training
    self.calls += 1
    observation = np.asarray(observation["frames"])
    egomotion = []
    for pair in observation:
      target, source = self._find(pair[..., :3]), self._find(pair[..., 3:])
      if self.inverse:
        target, source = source, target
      egomotion.append(sfm_data.relative_egomotion(self.poses[target], self.poses[source]))
    return {"egomotion": tf.constant(np.stack(egomotion))}


def zero_generator(observation, training=False):
  del training
  return {"egomotion": tf.zeros([tf.shape(observation["frames"])[0], 6])}


class ExtraMetricsTest(testing.TestCase):

  def test_true_egomotion_gives_zero_ate(self):
    task = _tiny_task()
    generator = LookupGenerator(task._snippets())
    metrics = task.extra_metrics(generator, "eval", batch_size=5)
    self.assertSameElements(metrics, ["ate_mean", "ate_std"])
    self.assertAllClose([metrics["ate_mean"], metrics["ate_std"]], [0.0, 0.0], atol=1e-6)
    self.assertEqual(generator.calls, 3)  # 3 snippets x 4 pairs in batches of 5.

  def test_swapped_pairs_give_large_ate(self):
    # Pairs fed the other way round (or the inverse convention) do not give 0, so the test
    # above checks the convention. The error is small: the least-squares scale may be
    # negative and reverses most of the inverted translations; the turns stay wrong.
    task = _tiny_task()
    metrics = task.extra_metrics(LookupGenerator(task._snippets(), inverse=True), "eval")
    self.assertGreater(metrics["ate_mean"], 0.01)

  def test_zero_egomotion_ate_by_hand(self):
    task = _tiny_task()
    poses = task._snippets()["poses"]
    # No predicted motion: the best scale is 0 and each error is the true distance from the
    # first frame; Zhou et al.'s reduction is sqrt(sum of squares) / number of frames.
    relative = np.linalg.inv(poses[:, :1]) @ poses
    distances = np.linalg.norm(relative[:, :, :3, 3], axis=-1)
    per_snippet = np.sqrt(np.sum(distances ** 2, axis=1)) / poses.shape[1]
    metrics = task.extra_metrics(zero_generator, "eval")
    self.assertAllClose(metrics["ate_mean"], per_snippet.mean())
    self.assertAllClose(metrics["ate_std"], per_snippet.std())
    self.assertGreater(metrics["ate_mean"], 0.3)

  def test_snippets_are_cached_on_disk(self):
    cache_dir = tempfile.mkdtemp(dir=self.get_temp_dir())
    task = _tiny_task(num_snippets=2, cache_dir=cache_dir)
    first = task._snippets()
    self.assertEqual(first["frames"].shape, (2, 5, 16, 48, 3))
    names = os.listdir(cache_dir)
    self.assertEqual(names, [f"{sfm_sources.PROCEDURAL_VERSION}_snippets5_photos_16x48_2.npz"])
    again = _tiny_task(num_snippets=2, cache_dir=cache_dir)._snippets()
    for key in first:
      self.assertAllEqual(again[key], first[key])

  def test_no_ate_without_procedural_eval_snippets(self):
    def failing_generator(observation, training=False):
      raise AssertionError("the generator must not run")
    self.assertEqual(_tiny_task(num_snippets=0).extra_metrics(failing_generator, "eval"), {})
    self.assertEqual(_tiny_task().extra_metrics(failing_generator, "train"), {})
    self.assertEqual(base.Task().extra_metrics(failing_generator, "eval"), {})


class EvaluateTest(testing.TestCase):

  def test_evaluate_reports_ate(self):
    model_dir = os.path.join(self.get_temp_dir(), "run")
    try:
      config.parse([os.path.join(testing.GIN_DIR, "sfm.gin"),
                    os.path.join(testing.GIN_DIR, "testing", "tiny.gin")])
      trainer.train(model_dir)
      history_path = os.path.join(model_dir, runs.EVAL_HISTORY)
      report = evaluation.evaluate(model_dir, num_batches=1)
    finally:
      config.gin.clear_config()
    self.assertEqual(report["task"], "sfm")
    self.assertIn("rotation_error_deg", report["metrics"])
    self.assertIn("ate_mean", report["metrics"])
    self.assertIn("ate_std", report["metrics"])
    self.assertTrue(np.isfinite(report["metrics"]["ate_mean"]))
    self.assertIn("ate_mean", evaluation.format_table(report))
    # Training evaluations stay cheap: no snippets there.
    with open(history_path) as f:
      history = f.read()
    self.assertIn("rotation_error_deg", history)
    self.assertNotIn("ate_mean", history)


if __name__ == "__main__":
  tf.test.main()
