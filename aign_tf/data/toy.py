"""Toy data: an ambiguous pooling renderer whose missing half the memory supplies.

Latent factors y in R^{2N} come in pairs (a_i + d_i / 2, a_i - d_i / 2) with a_i ~ N(0, 1)
and d_i ~ N(offset, spread). The observation is the pair average x_i = a_i, so x says
nothing about d: reconstruction alone cannot recover it, the memory's distribution can.
"""

import numpy as np


def sample_factors(num_examples, num_pairs, offset, spread=0.1, seed=0):
  """Returns factors `[num_examples, 2 * num_pairs]` float32."""
  rng = np.random.default_rng(seed)
  a = rng.normal(size=(num_examples, num_pairs))
  d = rng.normal(offset, spread, size=(num_examples, num_pairs))
  pairs = np.stack([a + d / 2, a - d / 2], axis=-1)
  return pairs.reshape(num_examples, 2 * num_pairs).astype(np.float32)


def observe(factors):
  """The toy renderer in NumPy: pair averages `[B, 2N] -> [B, N]`."""
  return factors.reshape(factors.shape[0], -1, 2).mean(axis=-1)
