"""The toy task: invert a pair-averaging renderer with an unpaired memory.

Used by the core tests and by `gin/toy.gin` as the smallest complete AIGN run: the
renderer `AveragePooling1D(2)` hides each pair's difference d, and only the memory (or
paired data) says what it should be. Metrics: `factor_error` (mean |y - y*|) and
`predicted_offset` (mean predicted pair difference, to compare with the memory's).

Export: `aign_tf.tasks.toy_export`.
"""

import numpy as np
import tensorflow as tf

from aign_tf.core import keys
from aign_tf.data import pipeline
from aign_tf.data import toy as toy_data
from aign_tf.tasks import base


@base.register_task
class ToyTask(base.Task):
  """Pairs of factors seen only through their average."""

  name = "toy"

  def __init__(self, num_pairs=4, offset=2.0, memory_offset=None, paired_fraction=0.0,
               num_train=4096, num_memory=4096, num_eval=512):
    if not 0.0 <= paired_fraction <= 1.0:
      raise ValueError(f"ToyTask.paired_fraction must be in [0, 1], got {paired_fraction}")
    self.num_pairs = num_pairs
    self.offset = offset
    self.memory_offset = offset if memory_offset is None else memory_offset
    self.paired_fraction = paired_fraction
    self.num_train = num_train
    self.num_memory = num_memory
    self.num_eval = num_eval

  def _examples(self, factors, paired_fraction, seed):
    mask = (np.random.default_rng(seed).random(len(factors)) < paired_fraction)
    return {keys.OBSERVATION: toy_data.observe(factors),
            keys.TARGET: factors,
            keys.TARGET_MASK: mask.astype(np.float32)}

  def train_dataset(self, batch_size, seed=0, with_memory=True):
    factors = toy_data.sample_factors(self.num_train, self.num_pairs, self.offset, seed=seed)
    # The memory comes from other draws than the inputs: nothing pairs the two streams.
    memory = lambda: base.memory_samples(toy_data.sample_factors(  # pylint: disable=g-long-lambda
        self.num_memory, self.num_pairs, self.memory_offset, seed=seed + 1))
    return pipeline.training_stream(
        tf.data.Dataset.from_tensor_slices(
            self._examples(factors, self.paired_fraction, seed + 2)),
        self.num_train, batch_size, seed, memory=memory if with_memory else None,
        memory_seed=seed + 3)

  def eval_dataset(self, batch_size, split="eval"):
    if split not in ("eval", "train"):
      raise ValueError(f"ToyTask has splits 'eval' and 'train', not {split!r}")
    seed = 1000 if split == "eval" else 0
    factors = toy_data.sample_factors(self.num_eval, self.num_pairs, self.offset, seed=seed)
    examples = self._examples(factors, 1.0, seed)
    return tf.data.Dataset.from_tensor_slices(examples).batch(batch_size)

  def metrics(self, batch, prediction):
    target = np.asarray(batch[keys.TARGET])
    prediction = np.asarray(prediction)
    pairs = prediction.reshape(prediction.shape[0], -1, 2)
    return {"factor_error": np.abs(prediction - target).mean(axis=1),
            "predicted_offset": (pairs[..., 0] - pairs[..., 1]).mean(axis=1)}
