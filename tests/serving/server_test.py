"""Tests of the REST server: endpoints, formats, every bad input, failed versions, new
versions picked up without a restart, batching. The server runs in this process on a free
127.0.0.1 port with fake models exported by `aign_tf.serving.testing` (no training)."""

import base64
import http.client
import json
import os
import shutil
import socket
import tempfile
import time

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.serving import batching
from aign_tf.serving import client as client_lib
from aign_tf.serving import model_config
from aign_tf.serving import repository
from aign_tf.serving import server
from aign_tf.serving import testing as serving_testing


def request(srv, method, path, body=None, headers=None):
  """(status, parsed JSON) of one request on a fresh connection."""
  return serving_testing.request(srv, method, path, body, headers)[:2]


class ServerTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.base = os.path.join(tf.compat.v1.test.get_temp_dir(), "server_models")
    fakes, cls.repo = serving_testing.fake_repository(cls.base, poll_seconds=0.2,
                                                      image_labels={"stable": 1})
    (cls.toy_task, cls.toy_generator), (cls.image_task, cls.image_generator) = (
        fakes["toy"], fakes["image"])
    cls.srv = server.ModelServer(cls.repo, port=0, max_body_bytes=200_000).start()

  @classmethod
  def tearDownClass(cls):
    cls.srv.shutdown()
    super().tearDownClass()

  def toy_expected(self, observation):
    return self.toy_task.export.serve(self.toy_generator,
                                      {"observation": tf.constant(observation)})

  def assert_error(self, status, result, expected_status, needle):
    self.assertEqual(status, expected_status, result)
    self.assertEqual(set(result), {"error"})
    self.assertIn(needle, result["error"])
    self.assertNotIn(self.base, result["error"])  # No file system paths leak.

  def assert_still_serving(self):
    status, result = request(self.srv, "POST", "/v1/models/toy:predict",
                             {"instances": [[0.5, 0.5, 0.5, 0.5]]})
    self.assertEqual(status, 200, result)
    status, result = request(self.srv, "GET", "/v1/models/image")
    self.assertEqual(status, 200, result)

  # Endpoints --------------------------------------------------------------------------------

  def test_binds_localhost(self):
    self.assertEqual(self.srv.host, "127.0.0.1")

  def test_status(self):
    status, result = request(self.srv, "GET", "/v1/models/toy")
    self.assertEqual(status, 200)
    self.assertEqual(result, {"model_version_status": [
        {"version": "1", "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}}]})
    self.assertEqual(request(self.srv, "GET", "/v1/models/toy/versions/1")[0], 200)
    self.assertEqual(request(self.srv, "GET", "/v1/models/image/labels/stable")[0], 200)

  def test_metadata(self):
    status, result = request(self.srv, "GET", "/v1/models/image/metadata")
    self.assertEqual(status, 200)
    self.assertEqual(result["model_spec"], {"name": "image", "signature_name": "",
                                            "version": "1"})
    defs = result["metadata"]["signature_def"]["signature_def"]
    self.assertSameElements(defs, ["serving_default", "serving_bytes", "serving_png",
                                   "metadata"])
    self.assertEqual({n: o["dtype"] for n, o in defs["serving_png"]["outputs"].items()},
                     {"image_png_bytes": "DT_STRING"})
    image = defs["serving_default"]["inputs"]["image"]
    self.assertEqual(image["dtype"], "DT_UINT8")
    self.assertEqual([d["size"] for d in image["tensor_shape"]["dim"]], ["-1", "8", "8", "3"])
    self.assertEqual(defs["serving_bytes"]["inputs"]["image"]["dtype"], "DT_STRING")

  def test_predict_row_and_columnar(self):
    observation = np.array([[1, 2, 3, 4], [0, 0, 0, 0.5]], np.float32)
    expected = self.toy_expected(observation)
    status, rows = request(self.srv, "POST", "/v1/models/toy:predict",
                           {"instances": observation.tolist()})
    self.assertEqual(status, 200, rows)
    self.assertLen(rows["predictions"], 2)
    self.assertAllClose([p["factors"] for p in rows["predictions"]], expected["factors"],
                        atol=1e-6)
    status, columns = request(self.srv, "POST", "/v1/models/toy/versions/1:predict",
                              {"inputs": {"observation": observation.tolist()},
                               "signature_name": "serving_default"})
    self.assertEqual(status, 200, columns)
    self.assertAllClose(columns["outputs"]["pair_difference"], expected["pair_difference"],
                        atol=1e-6)

  def test_predict_b64_images(self):
    images = serving_testing.random_inputs(self.image_task.export.input_signature(),
                                           3)["image"]
    expected = self.image_task.export.serve(self.image_generator, {"image": tf.constant(images)})
    instances = [{"b64": base64.b64encode(serving_testing.encode_png(x)).decode()}
                 for x in images]
    status, result = request(self.srv, "POST", "/v1/models/image/labels/stable:predict",
                             {"signature_name": "serving_bytes", "instances": instances})
    self.assertEqual(status, 200, result)
    self.assertAllEqual([p["image"] for p in result["predictions"]], expected["image"])
    # The same images as uint8 numbers through serving_default.
    status, result = request(self.srv, "POST", "/v1/models/image:predict",
                             {"inputs": images.tolist()})
    self.assertEqual(status, 200, result)
    self.assertAllClose(result["outputs"]["image_float"], expected["image_float"], atol=1e-6)

  def test_predict_png_outputs(self):
    images = serving_testing.random_inputs(self.image_task.export.input_signature(),
                                           2)["image"]
    expected = self.image_task.export.serve(self.image_generator, {"image": tf.constant(images)})
    encoded = [{"b64": base64.b64encode(serving_testing.encode_png(x)).decode()}
               for x in images]
    # One output: row format gives a bare list, columnar a bare value; `*_bytes` strings
    # come back as {"b64": ...}, as TF Serving returns them.
    for body, key in (({"signature_name": "serving_png", "instances": encoded}, "predictions"),
                      ({"signature_name": "serving_png", "inputs": {"image": encoded}},
                       "outputs")):
      status, result = request(self.srv, "POST", "/v1/models/image:predict", body)
      self.assertEqual(status, 200, result)
      self.assertLen(result[key], 2)
      for item, picture in zip(result[key], expected["image"]):
        self.assertEqual(set(item), {"b64"})
        self.assertAllEqual(tf.io.decode_png(base64.b64decode(item["b64"])), picture)

  def test_metadata_signature(self):
    status, result = request(self.srv, "POST", "/v1/models/toy:predict",
                             {"signature_name": "metadata", "inputs": {}})
    self.assertEqual(status, 200, result)
    self.assertEqual(result["outputs"]["task"], "toy")
    self.assertEqual(result["outputs"]["step"], 7)
    self.assertLen(result["outputs"]["config_digest"], 64)

  def test_keep_alive_connection_serves_several_requests(self):
    connection = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=60)
    body = json.dumps({"instances": [[1, 2, 3, 4]]})
    for _ in range(3):
      connection.request("POST", "/v1/models/toy:predict", body=body)
      response = connection.getresponse()
      self.assertEqual(response.status, 200)
      response.read()
    connection.close()

  # Bad input: each a 4xx {"error": ...}, and the server keeps serving -----------------------

  @testing.parameterized.named_parameters(
      ("malformed_json", "/v1/models/toy:predict", '{"instances": [[1, 2', 400,
       "malformed JSON"),
      ("both_formats", "/v1/models/toy:predict",
       {"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}, 400, "not both"),
      ("neither_format", "/v1/models/toy:predict", {"signature_name": "serving_default"},
       400, "neither"),
      ("missing_input", "/v1/models/toy:predict", {"inputs": {"other": [[1]]}}, 400,
       "unknown input 'other'"),
      ("wrong_dtype", "/v1/models/toy:predict", {"instances": [["a", "b", "c", "d"]]}, 400,
       "expected numbers"),
      ("wrong_shape", "/v1/models/toy:predict", {"instances": [[1, 2, 3]]}, 400,
       "wrong shape [1, 3]"),
      ("uint8_out_of_range", "/v1/models/image:predict",
       {"inputs": [[[[300, 0, 0]] * 8] * 8]}, 400, "[0, 255]"),
      ("undecodable_image", "/v1/models/image:predict",
       {"signature_name": "serving_bytes",
        "instances": [{"b64": base64.b64encode(b"not an image").decode()}]}, 400,
       "Unknown image file format"),
      ("wrong_image_size", "/v1/models/image:predict",
       {"signature_name": "serving_bytes",
        "instances": [{"b64": base64.b64encode(serving_testing.encode_png(
            np.zeros([4, 4, 3], np.uint8))).decode()}]}, 400, "must be 8x8"),
      ("bad_base64", "/v1/models/image:predict",
       {"signature_name": "serving_bytes", "instances": [{"b64": "***"}]}, 400,
       "invalid base64"),
      ("unknown_model", "/v1/models/nope:predict", {"instances": [[1]]}, 404,
       "model 'nope' not found"),
      ("unknown_version", "/v1/models/toy/versions/99:predict", {"instances": [[1]]}, 404,
       "version 99"),
      ("unknown_label", "/v1/models/image/labels/nope:predict", {"instances": [[1]]}, 404,
       "no version label"),
      ("unknown_signature", "/v1/models/toy:predict",
       {"signature_name": "nope", "instances": [[1, 2, 3, 4]]}, 400,
       "unknown signature 'nope'"),
      ("traversal_name", "/v1/models/..%2F..%2Fetc:predict", {"instances": [[1]]}, 404,
       "not found"),
      ("dot_dot_name", "/v1/models/..:predict", {"instances": [[1]]}, 400,
       "invalid model name"),
      ("unsupported_method", "/v1/models/toy:classify", {"examples": []}, 501, "classify"),
      ("deep_nesting", "/v1/models/toy:predict", '{"instances": ' + "[" * 50000 + "]" * 50000
       + "}", 400, "JSON"))
  def test_bad_request(self, path, body, status, needle):
    got_status, result = request(self.srv, "POST", path, body)
    self.assert_error(got_status, result, status, needle)
    self.assert_still_serving()

  def test_body_over_the_limit(self):
    # Refused from the Content-Length alone, before the body is read (or even sent).
    sock = socket.create_connection((self.srv.host, self.srv.port), timeout=30)
    sock.sendall(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 300000\r\n\r\n")
    data = sock.recv(65536).decode()
    sock.close()
    head, _, body = data.partition("\r\n\r\n")
    self.assertTrue(head.startswith("HTTP/1.1 413"), data)
    self.assert_error(413, json.loads(body), 413, "over the limit of 200000 bytes")
    self.assert_still_serving()

  def test_missing_content_length(self):
    sock = socket.create_connection((self.srv.host, self.srv.port), timeout=30)
    sock.sendall(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    data = sock.recv(65536).decode()
    sock.close()
    self.assertTrue(data.startswith("HTTP/1.1 411"), data)
    self.assert_still_serving()

  def test_garbage_request_line(self):
    sock = socket.create_connection((self.srv.host, self.srv.port), timeout=30)
    sock.sendall(b"\x00\x01 garbage\r\n\r\n")
    data = sock.recv(65536).decode("latin-1")
    sock.close()
    self.assertRegex(data, r"^HTTP/1\.[01] 4\d\d")
    self.assert_still_serving()

  def test_http_0_9_request_gets_a_json_answer(self):
    # Regression (fuzz run): a well-formed "HTTP/0.9" request line made the handler fail
    # while writing the answer, so the client got a bare close and no status.
    for path, status in (("/v1/models/toy", 200), ("/v1/models/nope", 404)):
      sock = socket.create_connection((self.srv.host, self.srv.port), timeout=30)
      sock.sendall(f"GET {path} HTTP/0.9\r\nHost: x\r\n\r\n".encode())
      data = b""
      while chunk := sock.recv(65536):
        data += chunk
      sock.close()
      head, _, body = data.decode().partition("\r\n\r\n")
      self.assertTrue(head.startswith(f"HTTP/1.1 {status}"), data)
      self.assertIn("content-type: application/json", head.lower())  # Names are case-blind.
      self.assertEqual("error" in json.loads(body), status != 200, body)
    self.assert_still_serving()

  def test_get_on_predict_and_other_methods(self):
    self.assert_error(*request(self.srv, "GET", "/v1/models/toy:predict"), 405, "POST")
    self.assert_error(*request(self.srv, "DELETE", "/v1/models/toy"), 405, "DELETE")
    self.assert_error(*request(self.srv, "GET", "/etc/passwd"), 404, "not found")

  # Versions ---------------------------------------------------------------------------------

  def test_new_version_is_picked_up_and_broken_one_is_reported(self):
    base = os.path.join(self.base, "toy")
    observation = [[1.0, 2.0, 3.0, 4.0]]
    _, before = request(self.srv, "POST", "/v1/models/toy:predict", {"instances": observation})
    # A version that fails to load: reported in the status, version 1 keeps serving.
    os.makedirs(os.path.join(base, "2"))
    with open(os.path.join(base, "2", "saved_model.pb"), "wb") as f:
      f.write(b"this is not a SavedModel")
    deadline = time.time() + 60
    while time.time() < deadline:
      status, result = request(self.srv, "GET", "/v1/models/toy")
      if len(result["model_version_status"]) == 2:
        break
      time.sleep(0.2)
    states = {s["version"]: s for s in result["model_version_status"]}
    self.assertEqual(states["2"]["state"], "END")
    self.assertNotEqual(states["2"]["status"]["error_code"], "OK")
    self.assertNotIn(self.base, json.dumps(result))
    self.assertEqual(states["1"]["state"], "AVAILABLE")
    _, still = request(self.srv, "POST", "/v1/models/toy:predict", {"instances": observation})
    self.assertEqual(still, before)
    self.assert_error(*request(self.srv, "POST", "/v1/models/toy/versions/2:predict",
                               {"instances": observation}), 404, "failed to load")
    # A good version 3 (other weights) is served as the latest without a restart.
    serving_testing.export_fake("toy", os.path.join(base, ".tmp-3"), seed=3)
    os.rename(os.path.join(base, ".tmp-3"), os.path.join(base, "3"))
    deadline = time.time() + 60
    while time.time() < deadline:
      status, result = request(self.srv, "GET", "/v1/models/toy/versions/3")
      if status == 200:
        break
      time.sleep(0.2)
    self.assertEqual(status, 200, result)
    _, after = request(self.srv, "POST", "/v1/models/toy:predict", {"instances": observation})
    self.assertNotEqual(after, before)
    # The latest policy unloads version 1; the image model is unaffected throughout.
    self.assertEqual(request(self.srv, "GET", "/v1/models/toy/versions/1")[0], 404)
    self.assert_still_serving()
    shutil.rmtree(os.path.join(base, "2"))
    shutil.rmtree(os.path.join(base, "3"))
    deadline = time.time() + 60
    while time.time() < deadline and request(self.srv, "GET", "/v1/models/toy/versions/1")[0] != 200:
      time.sleep(0.2)

  # Client -------------------------------------------------------------------------------------

  def test_client(self):
    client = client_lib.Client(self.srv.url)
    self.assertEqual(client.status("toy")["model_version_status"][0]["state"], "AVAILABLE")
    signatures = client.signatures("image")
    self.assertEqual(signatures["serving_default"]["inputs"]["image"],
                     ("uint8", [None, 8, 8, 3]))
    observation = np.array([[1, 2, 3, 4]], np.float32)
    outputs = client.predict("toy", inputs={"observation": observation})
    self.assertAllClose(outputs["factors"], self.toy_expected(observation)["factors"],
                        atol=1e-6)
    with self.assertRaises(client_lib.ServingError) as caught:
      client.predict("toy", instances=[[1, 2]])
    self.assertEqual(caught.exception.status, 400)

  def test_client_image_mode_writes_pngs(self):
    from PIL import Image  # pylint: disable=g-import-not-at-top
    directory = tempfile.mkdtemp(dir=self.get_temp_dir())
    images = serving_testing.random_inputs(self.image_task.export.input_signature(),
                                           1)["image"]
    path = os.path.join(directory, "in.png")
    with open(path, "wb") as f:
      f.write(serving_testing.encode_png(images[0]))
    expected = self.image_task.export.serve(self.image_generator, {"image": tf.constant(images)})
    # By default through serving_png: the model's PNG of its uint8 output, written as is.
    written = client_lib.predict_images(client_lib.Client(self.srv.url), "image", [path],
                                        os.path.join(directory, "png"))
    self.assertEqual(written, [os.path.join(directory, "png", "in_image.png")])
    self.assertAllEqual(np.asarray(Image.open(written[0])), expected["image"][0])
    # Without it, serving_bytes: every output.
    written = client_lib.predict_images(client_lib.Client(self.srv.url), "image", [path],
                                        os.path.join(directory, "out"), png_outputs=False)
    out = os.path.join(directory, "out")
    self.assertSameElements([os.path.basename(p) for p in written],
                            ["in_image.png", "in_image_float.png", "in_image_float.npy",
                             "in.json"])
    self.assertAllEqual(np.asarray(Image.open(os.path.join(out, "in_image.png"))),
                        expected["image"][0])
    self.assertAllClose(np.load(os.path.join(out, "in_image_float.npy")),
                        expected["image_float"][0], atol=1e-6)


class BatchingServerTest(testing.TestCase):

  def test_concurrent_requests_with_batching(self):
    base = os.path.join(self.get_temp_dir(), "toy")
    task, generator = serving_testing.export_fake("toy", os.path.join(base, "1"))
    repo = repository.Repository([model_config.ModelConfig("toy", base)], poll_seconds=0)
    repo.start()
    batcher = batching.Batcher(batching.BatchingParameters(
        max_batch_size=8, batch_timeout_micros=20000, num_batch_threads=1))
    srv = server.ModelServer(repo, port=0, batcher=batcher).start()
    try:
      observations = np.random.default_rng(0).normal(size=[8, 1, 4]).astype(np.float32)
      import concurrent.futures  # pylint: disable=g-import-not-at-top
      with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda o: request(srv, "POST", "/v1/models/toy:predict",
                              {"instances": o.tolist()}), observations))
      for observation, (status, result) in zip(observations, results):
        self.assertEqual(status, 200, result)
        expected = task.export.serve(generator, {"observation": tf.constant(observation)})
        self.assertAllClose([p["factors"] for p in result["predictions"]],
                            expected["factors"], atol=1e-5)
      status, result = request(srv, "POST", "/v1/models/toy:predict", {"instances": [[1]]})
      self.assertEqual(status, 400, result)
    finally:
      srv.shutdown()


if __name__ == "__main__":
  tf.test.main()
