"""Zipping the observation stream with the unpaired memory stream.

Observations (with their optional context, reconstruction target and paired targets) and
memory samples come from separate pipelines, each shuffled and batched on its own, and are
zipped per batch. Nothing pairs an observation with a memory sample.
"""

import tensorflow as tf

from aign_tf.data import keys


def batched(dataset, batch_size, shuffle_buffer=0, seed=None, repeat=True):
  """Shuffles (optionally), repeats and batches a dataset of examples (drop_remainder)."""
  if shuffle_buffer:
    dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  if repeat:
    dataset = dataset.repeat()
  return dataset.batch(batch_size, drop_remainder=True)


def zip_with_memory(observations, memory):
  """Adds a batched memory stream to a batched observation stream under `keys.MEMORY`.

  Args:
    observations: dataset of batch dicts (without `memory`).
    memory: dataset of memory batches `[B, ...]` (or None: returned unchanged).

  Returns:
    A dataset of batch dicts with `memory` added, prefetched.
  """
  if memory is None:
    return observations.prefetch(tf.data.AUTOTUNE)

  def merge(batch, memory_batch):
    return {**batch, keys.MEMORY: memory_batch}

  return tf.data.Dataset.zip((observations, memory)).map(merge).prefetch(tf.data.AUTOTUNE)
