"""experiments/sfm_ablation.py's comparison of variants against the seed spread."""

import json
import os
from unittest import mock

from aign_tf import testing


def load_script():
  return testing.load_script("experiments/sfm_ablation.py")


def record(variant, seed, abs_rel, textureless=None):
  splits = {"eval": {"abs_rel": abs_rel, "delta_1.25": 1 - abs_rel,
                     "abs_rel_unscaled": 2 * abs_rel, "abs_rel_memory_mean": 1.5 * abs_rel}}
  if textureless is not None:
    splits["textureless"] = {"abs_rel": textureless}
  return {"variant": variant, "seed": seed, "metrics": splits["eval"], "splits": splits}


class CompareTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.script = load_script()

  def rows(self, records, **kwargs):
    return {(r["variant"], r["split"], r["column"]): r
            for r in self.script.compare(records, "sfm", **kwargs)}

  def test_separated_seed_ranges_exceed_the_spread(self):
    records = ([record("sfm", s, v) for s, v in enumerate((0.10, 0.11, 0.12))] +
               [record("photo", s, v) for s, v in enumerate((0.15, 0.16, 0.17))])
    row = self.rows(records)[("photo", "eval", "abs_rel")]
    self.assertAlmostEqual(row["difference"], 0.05)
    self.assertEqual(row["range"], [0.15, 0.17])
    self.assertEqual(row["seeds"], [3, 3])
    self.assertTrue(row["exceeds_spread"])
    self.assertLess(row["p_value"], 0.05)

  def test_overlapping_seed_ranges_do_not(self):
    records = ([record("sfm", s, v) for s, v in enumerate((0.10, 0.13, 0.12))] +
               [record("photo", s, v) for s, v in enumerate((0.11, 0.14, 0.13))])
    row = self.rows(records)[("photo", "eval", "abs_rel")]
    self.assertAlmostEqual(row["difference"], 0.01)
    self.assertFalse(row["exceeds_spread"])
    self.assertGreater(row["p_value"], 0.05)

  def test_one_seed_each_has_no_spread_and_missing_splits_are_skipped(self):
    records = [record("sfm", 0, 0.10, textureless=0.2), record("photo", 0, 0.12)]
    rows = self.rows(records, splits=("eval", "textureless"))
    self.assertIsNone(rows[("photo", "eval", "abs_rel")]["exceeds_spread"])
    self.assertIsNone(rows[("photo", "eval", "abs_rel")]["p_value"])
    self.assertNotIn(("photo", "textureless", "abs_rel"), rows)
    self.assertNotIn(("sfm", "eval", "abs_rel"), rows)

  def test_one_seed_against_three_gets_no_verdict(self):
    # The single run lies outside the three's range, but its own spread is unknown.
    records = ([record("sfm", 2, 0.10)] +
               [record("photo", s, v) for s, v in enumerate((0.112, 0.116, 0.120))])
    row = self.rows(records)[("photo", "eval", "abs_rel")]
    self.assertEqual(row["seeds"], [1, 3])
    self.assertIsNone(row["exceeds_spread"])
    self.assertIsNone(row["p_value"])

  def test_quoted_values_compare_like_records(self):
    records = self.script.records_from_values(
        ["sfm:eval=0.10,0.11,0.12", "sfm:repeated=0.2,0.2,0.2", "photo:eval=0.15,0.16,0.17"])
    self.assertLen(records, 6)
    rows = self.rows(records, splits=("eval", "repeated"))
    self.assertTrue(rows[("photo", "eval", "abs_rel")]["exceeds_spread"])
    self.assertAlmostEqual(rows[("photo", "eval", "abs_rel")]["difference"], 0.05)
    self.assertNotIn(("photo", "repeated", "abs_rel"), rows)
    with self.assertRaisesRegex(Exception, "VARIANT:SPLIT"):
      self.script.records_from_values(["sfm=0.1"])

  def test_scale_summary_only_for_runs_with_a_scale(self):
    scaled = record("metric", 0, 0.15)
    scaled["metrics"].update(scale_ratio=1.1, scale_error=0.2, scale_within_10pct=0.25)
    with mock.patch("builtins.print") as printed:
      self.script.summarise_scale([record("sfm", 0, 0.1)])
    printed.assert_not_called()
    with mock.patch("builtins.print") as printed:
      self.script.summarise_scale([record("sfm", 0, 0.1), scaled])
    lines = [" ".join(str(a) for a in c.args) for c in printed.call_args_list]
    rows = [line for line in lines if line.startswith(("metric", "sfm"))]
    self.assertLen(rows, 1)
    self.assertIn("1.1000 +- 0.0000", rows[0])
    self.assertIn("0.2500 +- 0.0000", rows[0])

  def test_stability_is_the_largest_deviation_after_the_first_third(self):
    curve = [(1000, 1.0, 0.30), (3000, 3.0, 0.20), (4000, 4.0, 0.13), (5000, 5.0, 0.105),
             (9000, 9.0, 0.11)]
    deviation, step = self.script.stability(curve)
    self.assertAlmostEqual(deviation, 0.02)  # Step 4000; step 3000 is inside the first third.
    self.assertEqual(step, 4000)
    self.assertIsNone(self.script.stability([(1000, 1.0, 0.3)]))
    self.assertIsNone(self.script.stability([(1000, 1.0, None), (2000, 2.0, 0.3)]))

  def test_weight_gaps_before_and_after_the_drop(self):
    average = [(1000, 1, 0.3), (4000, 4, 0.15), (6000, 6, 0.14), (8000, 8, 0.13),
               (9000, 9, 0.12)]
    raw = [(1000, 1, 0.5), (4000, 4, 0.19), (6000, 6, 0.12), (8000, 8, 0.131),
           (9000, 9, 0.125)]
    gaps = self.script.weight_gaps(average, raw, drop_step=7000)
    self.assertAllClose(gaps["before the drop"], (0.03, 0.04))  # Step 1000 is left out.
    self.assertAllClose(gaps["after"], (0.003, 0.005))
    self.assertEqual(list(self.script.weight_gaps(average, raw, drop_step=10000)),
                     ["before the drop"])
    self.assertEqual(self.script.weight_gaps(average, [], drop_step=7000), {})

  def test_earlier_output_directories_are_read_back(self):
    directory = self.get_temp_dir()
    for variant, seed in (("sfm", 2), ("photo", 0)):
      model_dir = os.path.join(directory, f"{variant}_seed{seed}")
      os.makedirs(model_dir)
      with open(os.path.join(model_dir, "test_report.json"), "w") as f:
        json.dump({"metrics": {}}, f)
      with open(model_dir + ".record.json", "w") as f:
        json.dump(record(variant, seed, 0.1), f)
    os.makedirs(os.path.join(directory, "unfinished_seed0"))
    with open(os.path.join(directory, "unfinished_seed0.record.json"), "w") as f:
      json.dump(record("unfinished", 0, 0.1), f)
    # A run stopped before its end (a training directory, no record): named, left out.
    os.makedirs(os.path.join(directory, "sfm_seed1", "checkpoints"))
    self.script.FLAGS(["sfm_ablation", "--splits=eval"])
    with mock.patch("builtins.print") as printed:
      records = self.script.read_runs(directory, env={})
    self.assertEqual([(r["variant"], r["seed"]) for r in records], [("photo", 0), ("sfm", 2)])
    said = " ".join(str(c.args[0]) for c in printed.call_args_list)
    self.assertRegex(said, r"sfm_seed1: unfinished .*same --output_dir: it resumes")
    self.assertNotIn("photo_seed0: unfinished", said)
    with self.assertRaisesRegex(Exception, "--add_runs: .*missing is not a directory"):
      self.script.read_runs(os.path.join(directory, "missing"), env={})

  def test_nothing_to_summarise_is_a_usage_error(self):
    empty = self.get_temp_dir()
    self.script.FLAGS(["sfm_ablation", "--variants=", "--seeds=", f"--add_runs={empty}",
                       f"--output_dir={os.path.join(empty, 'out')}"])
    with self.assertRaisesRegex(Exception, "no finished runs to summarise"):
      self.script.main([])

  def test_splits_evaluated_without_the_unscaled_metrics_are_evaluated_again(self):
    model_dir = os.path.join(self.get_temp_dir(), "sfm_seed0")
    os.makedirs(model_dir)
    # textureless: before any metric without median scaling; occlusions: before the newest
    # (the memory-mean constant); repeated: current.
    reports = {"textureless": {"abs_rel": 0.2},
               "occlusions": {"abs_rel": 0.2, "abs_rel_unscaled": 0.4},
               "repeated": {"abs_rel": 0.3, "abs_rel_unscaled": 0.5,
                            "abs_rel_memory_mean": 0.45}}
    for split, metrics in reports.items():
      with open(os.path.join(model_dir, f"test_report_{split}.json"), "w") as f:
        json.dump({"metrics": metrics}, f)
    calls = []

    def evaluate(command, **kwargs):
      del kwargs
      calls.append(command)
      path = next(a for a in command if a.startswith("--output_json="))[len("--output_json="):]
      with open(path, "w") as f:
        json.dump({"metrics": {"abs_rel": 0.25, "abs_rel_unscaled": 0.6,
                               "abs_rel_memory_mean": 0.55}}, f)

    self.enter_context(mock.patch.object(self.script.subprocess, "run", evaluate))
    self.script.FLAGS(["sfm_ablation", "--splits=eval,textureless,repeated,occlusions"])
    old = {"variant": "sfm", "seed": 0, "metrics": {"abs_rel": 0.1}}
    result = self.script.evaluate_splits(old, model_dir, env={})
    evaluated = sorted(next(a for a in c if a.startswith("--split=")) for c in calls)
    self.assertEqual(evaluated, ["--split=eval", "--split=occlusions", "--split=textureless"])
    self.assertTrue(all(self.script.UNSCALED in c for c in calls))
    self.assertEqual(result["splits"]["repeated"]["abs_rel_unscaled"], 0.5)
    self.assertEqual(result["splits"]["textureless"]["abs_rel_unscaled"], 0.6)
    self.assertEqual(result["metrics"]["abs_rel_unscaled"], 0.6)
    self.assertEqual(result["splits"]["occlusions"]["abs_rel_memory_mean"], 0.55)
    with open(model_dir + ".record.json") as f:
      self.assertEqual(json.load(f)["splits"]["textureless"]["abs_rel"], 0.25)


if __name__ == "__main__":
  testing.main()
