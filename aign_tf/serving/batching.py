"""Server-side batching: concurrent requests to one signature run as one batch.

A request waits at most `batch_timeout_micros` for others to join it; a batch holds at most
`max_batch_size` examples. Requests are merged only when every input has the same dtype and
per-example shape, and outputs are split back along the batch axis. If a merged batch fails,
its requests run one by one so that one bad request (an undecodable image) fails alone.

The parameters use TF Serving's names and its `--batching_parameters_file` text format:

    max_batch_size { value: 32 }
    batch_timeout_micros { value: 1000 }
    num_batch_threads { value: 2 }
    max_enqueued_batches { value: 100 }
"""

import collections
import dataclasses
import threading
import time

import numpy as np

from aign_tf import errors
from aign_tf.serving import model_config
from aign_tf.serving import protocol


@dataclasses.dataclass
class BatchingParameters:
  max_batch_size: int = 32
  batch_timeout_micros: int = 1000
  num_batch_threads: int = 2
  max_enqueued_batches: int = 100


def parse_batching_parameters(text, where="batching parameters"):
  """TF Serving's batching parameters text -> `BatchingParameters` (unknown fields fail)."""
  params = BatchingParameters()
  fields = model_config.parse_text(text, where)
  for name, value in fields:
    if not hasattr(params, name):
      raise errors.ConfigError(f"{where}: unknown field {name!r}")
    entries = dict(value) if isinstance(value, list) else {"value": value}
    if set(entries) != {"value"} or not isinstance(entries["value"], int) \
        or entries["value"] < (0 if name == "batch_timeout_micros" else 1):
      raise errors.ConfigError(f"{where}: {name} must be {{ value: <integer> }}")
    setattr(params, name, entries["value"])
  return params


class _Request:
  __slots__ = ("key", "fn", "arrays", "size", "done", "outputs", "error", "arrived")

  def __init__(self, key, fn, arrays, size):
    self.key, self.fn, self.arrays, self.size = key, fn, arrays, size
    self.done = threading.Event()
    self.outputs = self.error = None
    self.arrived = time.monotonic()


class Batcher:
  """Runs `fn(arrays)` calls, merging concurrent ones with the same key into batches."""

  def __init__(self, params=None):
    self.params = params or BatchingParameters()
    self._pending = collections.deque()
    self._cond = threading.Condition()
    self._stopped = False
    self._threads = [threading.Thread(target=self._work, name=f"batcher-{i}", daemon=True)
                     for i in range(max(1, self.params.num_batch_threads))]
    for thread in self._threads:
      thread.start()

  def run(self, key, fn, arrays, timeout=None):
    """Runs `fn(arrays)` (dict name -> `[B, ...]` arrays -> dict of `[B, ...]` arrays),
    possibly batched with other calls of the same `key` and per-example shapes.

    Raises:
      protocol.RequestError: 503 when the queue is full, 504 when `timeout` (seconds)
        passes; otherwise whatever `fn` raises for this request.
    """
    sizes = {a.shape[0] for a in arrays.values() if a.ndim}
    if len(sizes) != 1 or any(a.ndim == 0 for a in arrays.values()):
      return fn(arrays)  # Nothing to batch along.
    size = sizes.pop()
    if size >= self.params.max_batch_size:
      return fn(arrays)
    shapes = tuple(sorted((n, a.dtype.str, a.shape[1:]) for n, a in arrays.items()))
    request = _Request((key, shapes), fn, arrays, size)
    with self._cond:
      limit = self.params.max_enqueued_batches * self.params.max_batch_size
      if len(self._pending) >= limit:
        raise protocol.RequestError(503, "server overloaded: batching queue is full")
      self._pending.append(request)
      self._cond.notify()
    if not request.done.wait(timeout):
      with self._cond:
        if request in self._pending:
          self._pending.remove(request)
      raise protocol.RequestError(504, "timed out waiting for the batch to run")
    if request.error is not None:
      raise request.error
    return request.outputs

  def stop(self):
    with self._cond:
      self._stopped = True
      self._cond.notify_all()

  def _take_batch(self):
    """Blocks until a batch is due; removes and returns it (None once stopped)."""
    timeout = self.params.batch_timeout_micros / 1e6
    with self._cond:
      while True:
        while not self._pending and not self._stopped:
          self._cond.wait()
        if self._stopped:
          return None
        first = self._pending[0]
        group = [r for r in self._pending if r.key == first.key]
        remaining = first.arrived + timeout - time.monotonic()
        if sum(r.size for r in group) >= self.params.max_batch_size or remaining <= 0:
          break
        self._cond.wait(remaining)
      batch, total = [], 0
      for request in group:
        if batch and total + request.size > self.params.max_batch_size:
          break
        batch.append(request)
        total += request.size
      for request in batch:
        self._pending.remove(request)
      return batch

  def _work(self):
    while True:
      batch = self._take_batch()
      if batch is None:
        return
      self._execute(batch)

  def _execute(self, batch):
    if len(batch) > 1:
      try:
        merged = {n: np.concatenate([r.arrays[n] for r in batch]) for n in batch[0].arrays}
        outputs = batch[0].fn(merged)
        total = sum(r.size for r in batch)
        if all(o.ndim and o.shape[0] == total for o in outputs.values()):
          splits = np.cumsum([r.size for r in batch])[:-1]
          parts = {n: np.split(o, splits) for n, o in outputs.items()}
          for i, request in enumerate(batch):
            request.outputs = {n: p[i] for n, p in parts.items()}
            request.done.set()
          return
      except Exception:  # pylint: disable=broad-except
        pass  # Run one by one below, so each request gets its own result or error.
    for request in batch:
      try:
        request.outputs = request.fn(request.arrays)
      except Exception as e:  # pylint: disable=broad-except
        request.error = e
      request.done.set()
