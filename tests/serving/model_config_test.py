"""Tests of TF Serving's model-config text format and the batching parameters file."""

from aign_tf import errors
from aign_tf import testing
from aign_tf.serving import batching
from aign_tf.serving import model_config

TEXT = """
# A comment.
model_config_list {
  config {
    name: "faces_sr"
    base_path: "/models/faces_sr"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 3 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 3 }
  }
  config: { name: 'toy' base_path: "/models/with \\"quote\\"" }
}
"""


class ModelConfigTest(testing.TestCase):

  def test_parse(self):
    faces, toy = model_config.parse_config(TEXT)
    self.assertEqual(faces.name, "faces_sr")
    self.assertEqual(faces.policy, "specific")
    self.assertEqual(faces.versions, (1, 3))
    self.assertEqual(faces.labels, {"stable": 1, "canary": 3})
    self.assertEqual(toy.base_path, '/models/with "quote"')
    self.assertEqual((toy.policy, toy.num_versions), ("latest", 1))

  def test_format_round_trip(self):
    models = model_config.parse_config(TEXT)
    models.append(model_config.ModelConfig("all", "/m/all", policy="all"))
    models.append(model_config.ModelConfig("two", "/m/two", num_versions=2))
    text = model_config.format_config(models)
    self.assertEqual(sorted(model_config.parse_config(text), key=lambda m: m.name),
                     sorted(models, key=lambda m: m.name))
    self.assertIn("model_version_policy { all {} }", text)

  @testing.parameterized.named_parameters(
      ("unknown_field", 'model_config_list { config { name: "a" base_path: "/a" x: 1 } }',
       "unknown field 'x'"),
      ("no_base_path", 'model_config_list { config { name: "a" } }', "no base_path"),
      ("traversal_name", 'model_config_list { config { name: "../a" base_path: "/a" } }',
       "invalid model name"),
      ("duplicate", 'model_config_list { config { name: "a" base_path: "/a" } '
       'config { name: "a" base_path: "/b" } }', "listed twice"),
      ("platform", 'model_config_list { config { name: "a" base_path: "/a" '
       'model_platform: "pytorch" } }', "model_platform"),
      ("unbalanced", 'model_config_list { config { name: "a" base_path: "/a" }', "missing '}'"),
      ("extra_brace", 'model_config_list { } }', "unbalanced"),
      ("top_level", 'models { }', "model_config_list"),
      ("garbage", 'model_config_list { config { name: "a" @@ } }', "cannot parse"))
  def test_bad_config(self, text, needle):
    with self.assertRaisesRegex(errors.ConfigError, needle):
      model_config.parse_config(text)

  def test_valid_model_name(self):
    for name in ("toy", "faces_sr", "pose.v2", "a-b"):
      self.assertTrue(model_config.valid_model_name(name), name)
    for name in ("", "..", "../x", "a/b", ".hidden", "a..b", "x y"):
      self.assertFalse(model_config.valid_model_name(name), name)

  def test_batching_parameters(self):
    params = batching.parse_batching_parameters(
        "max_batch_size { value: 8 }\nbatch_timeout_micros { value: 0 }")
    self.assertEqual((params.max_batch_size, params.batch_timeout_micros), (8, 0))
    for bad in ("max_batch_size { value: 0 }", "nope { value: 1 }",
                "max_batch_size { value: 'x' }"):
      with self.assertRaises(errors.ConfigError):
        batching.parse_batching_parameters(bad)
