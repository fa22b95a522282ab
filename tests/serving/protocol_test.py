"""Tests of the REST protocol layer: URLs, request bodies, conversions, responses."""

import base64
import json

import numpy as np

from aign_tf import testing
from aign_tf.serving import protocol

FLOAT = protocol.Spec("float32", (None, 4))
IMAGE = protocol.Spec("uint8", (None, 2, 2, 3))
STRING = protocol.Spec("string", (None,))


class UrlTest(testing.TestCase):

  @testing.parameterized.parameters(
      ("/v1/models/toy", "GET", "toy", "status", None, None),
      ("/v1/models/toy/versions/12", "GET", "toy", "status", 12, None),
      ("/v1/models/toy/labels/stable/metadata", "GET", "toy", "metadata", None, "stable"),
      ("/v1/models/faces_sr/versions/3:predict", "POST", "faces_sr", "predict", 3, None),
      ("/v1/models/toy:predict?x=1", "POST", "toy", "predict", None, None))
  def test_parse_url(self, path, method, name, kind, version, label):
    self.assertEqual(protocol.parse_url(path, method),
                     protocol.Route(name=name, kind=kind, version=version, label=label))

  @testing.parameterized.parameters(
      ("/v1/models/../etc/passwd", "GET", 404),
      ("/v1/models/..%2F..%2Fetc", "GET", 404),
      ("/v1/models/..", "GET", 400),
      ("/v1/models/%2e%2e", "GET", 400),
      ("/v1/models/toy/versions/one", "GET", 400),
      ("/v1/models/toy/versions/-1:predict", "POST", 400),
      ("/v1/models/toy:predict", "GET", 405),
      ("/v1/models/toy", "POST", 405),
      ("/v1/models/toy:classify", "POST", 501),
      ("/v1/models/toy:explode", "POST", 404),
      ("/v2/models/toy", "GET", 404),
      ("/", "GET", 404))
  def test_bad_url(self, path, method, status):
    with self.assertRaises(protocol.RequestError) as caught:
      protocol.parse_url(path, method)
    self.assertEqual(caught.exception.status, status)


class BodyTest(testing.TestCase):

  def test_row_and_columnar(self):
    self.assertEqual(protocol.parse_body(b'{"instances": [1]}'),
                     ("serving_default", "row", [1]))
    self.assertEqual(protocol.parse_body(b'{"inputs": {"a": 1}, "signature_name": "s"}'),
                     ("s", "columnar", {"a": 1}))

  @testing.parameterized.named_parameters(
      ("malformed", b'{"instances": [1', "malformed JSON"),
      ("not_utf8", b'\xff\xfe{}', "not UTF-8"),
      ("not_object", b'[1, 2]', "JSON object"),
      ("both", b'{"instances": [], "inputs": {}}', "not both"),
      ("neither", b'{"signature_name": "x"}', "neither"),
      ("signature_not_string", b'{"inputs": {}, "signature_name": 3}', "signature_name"),
      ("deep", b'[' * 100000 + b']' * 100000, "JSON"))
  def test_bad_body(self, body, needle):
    with self.assertRaises(protocol.RequestError) as caught:
      protocol.parse_body(body)
    self.assertEqual(caught.exception.status, 400)
    self.assertIn(needle, caught.exception.message)


class ArraysTest(testing.TestCase):

  def test_row_single_input(self):
    arrays = protocol.request_arrays("row", [[1, 2, 3, 4], [5, 6, 7, 8.5]], {"x": FLOAT})
    self.assertEqual(arrays["x"].dtype, np.float32)
    self.assertAllClose(arrays["x"], [[1, 2, 3, 4], [5, 6, 7, 8.5]])

  def test_row_named_inputs(self):
    inputs = {"x": FLOAT, "s": STRING}
    rows = [{"x": [1, 2, 3, 4], "s": "a"}, {"x": [0, 0, 0, 0], "s": {"b64": "aGk="}}]
    arrays = protocol.request_arrays("row", rows, inputs)
    self.assertEqual(list(arrays["s"]), [b"a", b"hi"])
    self.assertEqual(arrays["x"].shape, (2, 4))

  def test_columnar_bare_value_and_b64(self):
    data = bytes(range(256))
    arrays = protocol.request_arrays(
        "columnar", [{"b64": base64.b64encode(data).decode()}], {"png": STRING})
    self.assertEqual(arrays["png"][0], data)

  def test_no_input_signature(self):
    self.assertEqual(protocol.request_arrays("columnar", {}, {}), {})
    with self.assertRaises(protocol.RequestError):
      protocol.request_arrays("row", [], {})

  @testing.parameterized.named_parameters(
      ("missing", {"y": [[1, 2, 3, 4]]}, {"x": FLOAT, "y": FLOAT}, "missing input 'x'"),
      ("unknown", {"x": [[1, 2, 3, 4]], "z": 1}, {"x": FLOAT}, "unknown input 'z'"),
      ("wrong_shape", {"x": [[1, 2, 3]]}, {"x": FLOAT}, "wrong shape [1, 3]"),
      ("wrong_rank", {"x": [1, 2, 3, 4]}, {"x": FLOAT}, "wrong shape [4]"),
      ("ragged", {"x": [[1, 2, 3, 4], [1]]}, {"x": FLOAT}, "rectangular"),
      ("strings_for_floats", {"x": [["a", "b", "c", "d"]]}, {"x": FLOAT}, "got strings"),
      ("null", {"x": [[None, 1, 2, 3]]}, {"x": FLOAT}, "rectangular"),
      ("huge_int", {"x": [[10 ** 40, 1, 2, 3]]}, {"x": FLOAT}, "too large"),
      ("uint8_range", {"i": [[[[0, 0, 256]] * 2] * 2]}, {"i": IMAGE}, "[0, 255]"),
      ("uint8_fraction", {"i": [[[[0, 0, 0.5]] * 2] * 2]}, {"i": IMAGE}, "fractions"),
      ("uint8_nan", {"i": [[[[0, 0, float("nan")]] * 2] * 2]}, {"i": IMAGE}, "non-finite"),
      ("bad_b64", {"s": [{"b64": "not base64!"}]}, {"s": STRING}, "invalid base64"),
      ("b64_extra_key", {"s": [{"b64": "aGk=", "x": 1}]}, {"s": STRING}, "b64"),
      ("number_for_string", {"s": [3]}, {"s": STRING}, "expected strings"),
      ("several_inputs_bare", [[1, 2, 3, 4]], {"x": FLOAT, "y": FLOAT}, "several inputs"),
      ("empty_strings", {"s": []}, {"s": STRING}, "input 's': empty (shape [0])"),
      ("nested_empty_strings", {"s": [[]]}, {"s": STRING}, "input 's': empty (shape [1, 0])"),
      ("empty_numbers", {"x": [[]]}, {"x": FLOAT}, "input 'x': empty"),
      ("bool_with_floats", {"x": [[True, 0.5, 0.5, 0.5]]}, {"x": FLOAT}, "got booleans"),
      ("bool_with_ints", {"x": [[1, 2, 3, False]]}, {"x": FLOAT}, "got booleans"),
      ("all_bool", {"x": [[True, False, True, True]]}, {"x": FLOAT}, "got booleans"),
      ("bool_for_uint8", {"i": [[[[True, 0, 0]] * 2] * 2]}, {"i": IMAGE}, "got booleans"))
  def test_bad_input(self, payload, inputs, needle):
    with self.assertRaises(protocol.RequestError) as caught:
      protocol.request_arrays("columnar", payload, inputs)
    self.assertEqual(caught.exception.status, 400)
    self.assertIn(needle, caught.exception.message)

  def test_row_instances_must_be_a_list(self):
    for payload in ({"x": 1}, [], "abc"):
      with self.assertRaises(protocol.RequestError):
        protocol.request_arrays("row", payload, {"x": FLOAT})

  def test_nan_and_infinity_are_floats(self):
    arrays = protocol.request_arrays(
        "columnar", json.loads('[[NaN, Infinity, -Infinity, 1e400]]'), {"x": FLOAT})
    self.assertTrue(np.isnan(arrays["x"][0, 0]))
    self.assertEqual(arrays["x"][0, 3], np.inf)


class ResponseTest(testing.TestCase):

  def test_row_and_columnar_layouts(self):
    outputs = {"a": np.arange(4, dtype=np.float32).reshape(2, 2),
               "b": np.array([1, 2], np.int64)}
    self.assertEqual(protocol.response("row", outputs),
                     {"predictions": [{"a": [0.0, 1.0], "b": 1}, {"a": [2.0, 3.0], "b": 2}]})
    self.assertEqual(protocol.response("columnar", outputs),
                     {"outputs": {"a": [[0.0, 1.0], [2.0, 3.0]], "b": [1, 2]}})
    self.assertEqual(protocol.response("row", {"a": outputs["a"]}),
                     {"predictions": [[0.0, 1.0], [2.0, 3.0]]})
    self.assertEqual(protocol.response("columnar", {"b": outputs["b"]}), {"outputs": [1, 2]})

  def test_strings(self):
    outputs = {"png_bytes": np.array([b"\x89PNG"], object), "text": np.array(b"hello")}
    result = protocol.response("columnar", outputs)["outputs"]
    self.assertEqual(result["text"], "hello")
    self.assertEqual(base64.b64decode(result["png_bytes"][0]["b64"]), b"\x89PNG")

  def test_row_needs_a_batch_axis(self):
    with self.assertRaises(protocol.RequestError):
      protocol.response("row", {"step": np.array(3), "x": np.zeros([2])})

