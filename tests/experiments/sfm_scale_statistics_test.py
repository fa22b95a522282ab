"""experiments/sfm_scale_statistics.py: the scale error a constant statistic leaves."""

import numpy as np

from aign_tf import testing


class ScaleStatisticsTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.script = testing.load_script("experiments/sfm_scale_statistics.py")

  def test_the_constant_statistic_wins(self):
    # Maps of two pixels (near, far): the far pixel varies, the arithmetic mean does not.
    near = np.array([0.5, 1.0, 2.0, 4.0])
    maps = np.stack([near, 20.0 - near], axis=1)
    mean_errors = self.script.scale_errors(maps, maps, self.script.STATISTICS["mean"])
    self.assertAllClose(mean_errors, np.zeros(4), atol=1e-12)
    harmonic = self.script.scale_errors(maps, maps, self.script.STATISTICS["harmonic mean"])
    self.assertGreater(harmonic.max(), 0.3)
    summary = self.script.summary(np.array([0.0, 0.05, 0.2, 0.3]))
    self.assertAlmostEqual(summary["within_10pct"], 0.5)
    self.assertAlmostEqual(summary["median"], 0.125)

  def test_a_doubled_memory_is_off_by_log_2(self):
    maps = np.exp(np.random.default_rng(0).normal(1.5, 0.3, (5, 12)))
    statistic = self.script.STATISTICS["median"]
    middle = maps[np.argsort(statistic(maps))[2]][None]  # The map of the median statistic.
    self.assertAllClose(self.script.scale_errors(middle, maps, statistic), [0.0])
    self.assertAllClose(self.script.scale_errors(middle, 2.0 * maps, statistic), [np.log(2.0)])
    with self.assertRaisesRegex(ValueError, "depths must be > 0"):
      self.script.scale_errors(np.zeros((1, 3)), maps, self.script.STATISTICS["mean"])


if __name__ == "__main__":
  testing.main()
