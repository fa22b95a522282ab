"""benchmarks/train_throughput.py's comparison of a default with other bindings."""

import os

import gin

from aign_tf import errors
from aign_tf import testing

TINY_SFM = [os.path.join(testing.REPO_DIR, "gin", "sfm.gin"),
            os.path.join(testing.REPO_DIR, "gin", "testing", "tiny_sfm.gin")]


def load_script():
  return testing.load_script("benchmarks/train_throughput.py")


class CompareVariantsTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.script = load_script()

  def test_parse_variant(self):
    self.assertEqual(self.script.parse_variant("old | a.b = 1 |c.d = False"),
                     ("old", ["a.b = 1", "c.d = False"]))
    for text in ("old", "|a.b = 1", "old|a.b = 1||"):
      with self.subTest(text=text), self.assertRaisesRegex(ValueError, "NAME\\|binding"):
        self.script.parse_variant(text)

  def test_times_every_configuration_in_every_round(self):
    seconds = self.script.compare_variants(
        TINY_SFM, ["train.batch_size = 2"],
        [("old default", ["tasks.SfmTask.flip_augmentation = False",
                          "models.AIGN.weight_average_decay = 0.0"])], steps=2, rounds=3)
    self.assertEqual(list(seconds), ["as given", "old default"])
    for values in seconds.values():
      self.assertLen(values, 3)
      self.assertTrue(all(v > 0 for v in values))
    # Each configuration's gin config is cleared once it is built.
    self.assertFalse(gin.config._CONFIG)  # pylint: disable=protected-access

  def test_unknown_binding_names_it(self):
    with self.assertRaisesRegex(errors.ConfigError, "no_such_parameter"):
      self.script.compare_variants(TINY_SFM, [],
                                   [("bad", ["tasks.SfmTask.no_such_parameter = 1"])],
                                   steps=1, rounds=1)
