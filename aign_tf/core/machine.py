"""What this machine can do, measured in the same run as a benchmark or an experiment.

These shared machines differ up to 3x in speed from day to day, so every quoted time comes
with the fp32 matmul peak measured in the same run (`matmul_peak_gflops`).
"""

import time


def matmul_peak_gflops(sizes=(1024, 2048), repeats=10):
  """Best fp32 matmul rate over square products of `sizes`, in GFLOP/s (2 n^3 per product,
  the mean of `repeats` timed calls after one warm-up)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  best = 0.0
  for n in sizes:
    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    product = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    product(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
      product(a, b).numpy()
    best = max(best, 2.0 * n ** 3 / ((time.perf_counter() - start) / repeats) / 1e9)
  return best
