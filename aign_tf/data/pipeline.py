"""Zipping the observation stream with the unpaired memory stream.

Observations (with their optional context, reconstruction target and paired targets) and
memory samples come from separate pipelines, each shuffled and batched on its own, and are
zipped per batch. Nothing pairs an observation with a memory sample.
"""

import tensorflow as tf

from aign_tf.core import keys


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


def training_stream(examples, num_examples, batch_size, seed, memory=None, memory_seed=None,
                    batch_fn=None, augment_fn=None):
  """The AIGN training stream, written once for every task: shuffled, repeated batches of
  observations, zipped with an independently shuffled stream of unpaired memory samples.

  Args:
    examples: a dataset of single examples (dicts of tensors; keys in `aign_tf.core.keys`
      or task-specific ones that `batch_fn` maps to them).
    num_examples: the number of examples (the shuffle buffer: a full shuffle).
    batch_size: examples per batch (drop_remainder).
    seed: the observation stream's shuffle seed.
    memory: None (no memory: a model without a discriminator), or a callable returning
      (dataset of single memory samples, their number). It is only called when given, so a
      task's memory (e.g. ray-cast depth maps) is never built for a model that ignores it.
    memory_seed: the memory stream's shuffle seed.
    batch_fn: optional function applied to each observation batch.
    augment_fn: optional random augmentation `augment_fn(batch, seed)` applied to each
      observation batch before `batch_fn`; `seed` is a `[2]` int64 tensor (the stream's
      seed, the batch's index) for stateless random ops, so the augmentation of batch n is
      the same in every run and process, whatever ran before it.

  Returns:
    An infinite, prefetched dataset of batch dicts.
  """
  observations = batched(examples, batch_size, shuffle_buffer=num_examples, seed=seed)
  if augment_fn is not None:
    stream_seed = tf.constant(int(seed or 0), tf.int64)
    observations = observations.enumerate().map(
        lambda index, batch: augment_fn(batch, tf.stack([stream_seed, index])))
  if batch_fn is not None:
    observations = observations.map(batch_fn)
  if memory is None:
    return zip_with_memory(observations, None)
  memory_samples, count = memory()
  return zip_with_memory(observations, batched(memory_samples, batch_size,
                                               shuffle_buffer=count, seed=memory_seed))
