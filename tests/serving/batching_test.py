"""Tests of server-side batching: merging, splitting, isolation of bad requests."""

import threading

import numpy as np

from aign_tf import testing
from aign_tf.serving import batching
from aign_tf.serving import protocol


class Recorder:
  """fn(arrays) doubling `x`, recording each call's batch size; rows < 0 fail."""

  def __init__(self):
    self.sizes = []
    self.lock = threading.Lock()

  def __call__(self, arrays):
    with self.lock:
      self.sizes.append(len(arrays["x"]))
    if np.any(arrays["x"] < 0):
      raise ValueError("negative input")
    return {"y": arrays["x"] * 2, "n": np.full([len(arrays["x"])], len(arrays["x"]))}


def run_concurrently(batcher, fn, inputs, key="k"):
  results = [None] * len(inputs)
  barrier = threading.Barrier(len(inputs))

  def worker(i):
    barrier.wait()
    try:
      results[i] = batcher.run(key, fn, {"x": inputs[i]}, timeout=30)
    except Exception as e:  # pylint: disable=broad-except
      results[i] = e

  threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  return results


class BatcherTest(testing.TestCase):

  def test_concurrent_requests_are_merged_and_split(self):
    batcher = batching.Batcher(batching.BatchingParameters(
        max_batch_size=8, batch_timeout_micros=200000, num_batch_threads=1))
    fn = Recorder()
    inputs = [np.full([2, 3], i, np.float32) for i in range(4)]
    results = run_concurrently(batcher, fn, inputs)
    batcher.stop()
    for x, result in zip(inputs, results):
      self.assertAllEqual(result["y"], x * 2)
    self.assertEqual(sum(fn.sizes), 8)
    self.assertLess(len(fn.sizes), 4)  # At least two requests shared a batch.
    self.assertGreater(max(r["n"][0] for r in results), 2)

  def test_bad_request_fails_alone(self):
    batcher = batching.Batcher(batching.BatchingParameters(
        max_batch_size=16, batch_timeout_micros=200000, num_batch_threads=1))
    inputs = [np.ones([1, 2], np.float32), -np.ones([1, 2], np.float32),
              np.ones([1, 2], np.float32)]
    results = run_concurrently(batcher, Recorder(), inputs)
    batcher.stop()
    self.assertIsInstance(results[1], ValueError)
    self.assertAllEqual(results[0]["y"], [[2, 2]])
    self.assertAllEqual(results[2]["y"], [[2, 2]])

  def test_different_shapes_are_not_merged(self):
    batcher = batching.Batcher(batching.BatchingParameters(
        max_batch_size=16, batch_timeout_micros=50000, num_batch_threads=1))
    fn = Recorder()
    inputs = [np.ones([1, 2], np.float32), np.ones([1, 3], np.float32)]
    results = run_concurrently(batcher, fn, inputs)
    batcher.stop()
    self.assertEqual(results[0]["y"].shape, (1, 2))
    self.assertEqual(results[1]["y"].shape, (1, 3))
    self.assertEqual(sorted(fn.sizes), [1, 1])

  def test_full_queue_is_503(self):
    batcher = batching.Batcher(batching.BatchingParameters(
        max_batch_size=2, batch_timeout_micros=0, num_batch_threads=1,
        max_enqueued_batches=1))
    batcher.stop()  # No worker: the queue only fills.
    threads = [threading.Thread(target=lambda: self._swallow(batcher), daemon=True)
               for _ in range(2)]
    for t in threads:
      t.start()
    for t in threads:
      t.join(timeout=1)
    with self.assertRaises(protocol.RequestError) as caught:
      batcher.run("k", Recorder(), {"x": np.ones([1, 1])}, timeout=0.1)
    self.assertIn(caught.exception.status, (503, 504))

  @staticmethod
  def _swallow(batcher):
    try:
      batcher.run("k", Recorder(), {"x": np.ones([1, 1])}, timeout=0.5)
    except protocol.RequestError:
      pass
