"""Tests of the smoothing filters and the jitter metric (aign_tf/data/mocap/temporal.py)."""

import numpy as np

from aign_tf import errors
from aign_tf import testing
from aign_tf.data.mocap import temporal


def noisy_walk(frames=120, noise_m=0.01, seed=0):
  """`[T, 17, 3]`: smooth sinusoidal joint paths plus i.i.d. Gaussian noise (metres)."""
  rng = np.random.default_rng(seed)
  t = np.arange(frames)[:, None, None] / 15.0
  phase = rng.uniform(0, 2 * np.pi, (1, 17, 3))
  clean = 0.1 * np.sin(2 * np.pi * 0.5 * t + phase)  # ~1 mm / frame^2
  return clean, clean + rng.normal(0.0, noise_m, clean.shape)


class JitterTest(testing.TestCase):

  def test_jitter_hand_computed(self):
    # One joint moving 0, 0, 1, 0, 0 m along x: second differences 1, -2, 1 m (t = 1, 2, 3),
    # so the mean acceleration is 4/3 m = 1333.3 mm / frame^2; a still joint adds zeros.
    joints = np.zeros((5, 2, 3))
    joints[2, 0, 0] = 1.0
    self.assertAllClose(temporal.acceleration_mm(joints),
                        [[1000.0, 0.0], [2000.0, 0.0], [1000.0, 0.0]])
    self.assertAllClose(temporal.jitter_mm(joints), (1000.0 + 2000.0 + 1000.0) / 6)
    # x = t^2 / 2 (metres, along y): a constant acceleration of 1 m = 1000 mm / frame^2.
    parabola = np.zeros((6, 1, 3))
    parabola[:, 0, 1] = np.arange(6) ** 2 / 2.0
    self.assertAllClose(temporal.jitter_mm(parabola), 1000.0)

  def test_acceleration_error_hand_computed(self):
    # Target still, prediction with the 0, 0, 1, 0, 0 spike: the error is the spike's jitter;
    # a still prediction of a moving target (x = t^2 / 2) is off by its 1000 mm / frame^2.
    spike = np.zeros((5, 1, 3))
    spike[2, 0, 0] = 1.0
    self.assertAllClose(temporal.acceleration_error_mm(spike, np.zeros_like(spike)),
                        4000.0 / 3)
    parabola = np.zeros((5, 1, 3))
    parabola[:, 0, 2] = np.arange(5) ** 2 / 2.0
    self.assertAllClose(temporal.acceleration_error_mm(np.zeros_like(parabola), parabola),
                        1000.0)
    self.assertAllClose(temporal.acceleration_error_mm(parabola + 0.3, parabola), 0.0)
    with self.assertRaisesRegex(errors.DataError, "target"):
      temporal.acceleration_error_mm(parabola, parabola[:4])

  def test_jitter_stays_inside_segments(self):
    # Two still segments at different places: the jump between them is not acceleration.
    joints = np.concatenate([np.zeros((4, 1, 3)), np.ones((4, 1, 3))])
    self.assertAllClose(temporal.jitter_mm(joints, segment=[0] * 4 + [1] * 4), 0.0)
    self.assertGreater(temporal.jitter_mm(joints), 100.0)
    # Segments too short for a second difference contribute nothing.
    self.assertEqual(temporal.acceleration_mm(joints[:4], segment=[0, 0, 1, 1]).shape,
                     (0, 1))
    with self.assertRaisesRegex(errors.DataError, "3 frames"):
      temporal.jitter_mm(joints[:2])

  def test_segments_must_be_consecutive(self):
    with self.assertRaisesRegex(errors.DataError, "consecutive"):
      temporal.segment_runs([0, 0, 1, 0])
    self.assertEqual(temporal.segment_runs([3, 3, 5, 7, 7]), [(0, 2), (2, 3), (3, 5)])


class FilterTest(testing.TestCase):

  def linear(self, frames=40):
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    return np.broadcast_to(0.5 + 0.01 * t * np.arange(1, 4), (frames, 17, 3)).copy()

  @testing.parameterized.parameters((5, 1), (9, 2), (15, 3))
  def test_savgol_keeps_constant_and_linear(self, window, polyorder):
    constant = np.full((30, 17, 3), 0.25)
    self.assertAllClose(temporal.savgol(constant, window, polyorder), constant, atol=1e-12)
    linear = self.linear()
    # Also at the ends (the polynomial fitted there, no padding): no lag anywhere.
    self.assertAllClose(temporal.savgol(linear, window, polyorder), linear, atol=1e-12)

  def test_savgol_reduces_jitter_of_noisy_motion(self):
    clean, noisy = noisy_walk()
    smoothed = temporal.savgol(noisy)
    self.assertLess(temporal.jitter_mm(smoothed), 0.3 * temporal.jitter_mm(noisy))
    # ... and moves it towards the clean motion.
    self.assertLess(np.abs(smoothed - clean).mean(), 0.8 * np.abs(noisy - clean).mean())

  def test_savgol_short_sequences(self):
    short = np.arange(12, dtype=np.float64).reshape(4, 1, 3)
    # 4 frames: a window of 3 (the largest odd one that fits); a line stays a line.
    self.assertAllClose(temporal.savgol(short, 9, 1), short)
    self.assertAllClose(temporal.savgol(short[:1], 9, 2), short[:1])
    with self.assertRaisesRegex(errors.ConfigError, "odd"):
      temporal.savgol(short, 8, 2)

  def test_one_euro_keeps_constant_and_follows_linear(self):
    constant = np.full((30, 17, 3), -0.4)
    self.assertAllClose(temporal.one_euro(constant, 15.0), constant, atol=1e-12)
    # A causal low-pass lags a ramp; after the start-up it stays within a bounded lag,
    # shorter with a larger beta (the speed raises the cutoff).
    linear = self.linear(60)
    lag = lambda beta: np.abs(temporal.one_euro(linear, 15.0, min_cutoff=1.0, beta=beta)
                             - linear)[-10:].max()
    self.assertLess(lag(3.0), lag(0.0))
    self.assertLess(lag(0.0), 0.03 * 3)  # under 1 frame-to-frame step x (fps / 2 pi f_c)

  def test_one_euro_reduces_jitter_of_noisy_motion(self):
    _, noisy = noisy_walk()
    self.assertLess(temporal.jitter_mm(temporal.one_euro(noisy, 15.0, min_cutoff=1.0, beta=0.3)),
                    0.5 * temporal.jitter_mm(noisy))
    # The light default (chosen for MPJPE on the pose clips) still takes some out.
    self.assertLess(temporal.jitter_mm(temporal.one_euro(noisy, 15.0)),
                    0.9 * temporal.jitter_mm(noisy))

  def test_smooth_segments_filters_each_segment_alone(self):
    # Two constant segments: smoothing must not blur the step between them.
    sequence = np.concatenate([np.zeros((10, 1, 3)), np.ones((10, 1, 3))])
    segment = [0] * 10 + [1] * 10
    for method in temporal.METHODS:
      self.assertAllClose(temporal.smooth_segments(sequence, segment, method, fps=15.0),
                          sequence, atol=1e-12)
    self.assertGreater(np.abs(temporal.smooth(sequence) - sequence).max(), 0.05)
    with self.assertRaisesRegex(errors.ConfigError, "fps"):
      temporal.smooth(sequence, temporal.ONE_EURO)
    with self.assertRaisesRegex(errors.ConfigError, "unknown smoothing"):
      temporal.smooth(sequence, "kalman")


if __name__ == "__main__":
  testing.main()
