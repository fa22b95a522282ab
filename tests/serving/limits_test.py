"""Tests of the REST server against issue 15's attacks and of its limits: HTTP desync
headers, GET with a body, empty and boolean inputs, batch and pixel limits, slow and idle
clients, a full request queue, request timeouts, graceful shutdown (in process and by
SIGTERM to tools/serve.py). Fake models from `aign_tf.serving.testing`; small limits so
every case is fast."""

import base64
import concurrent.futures
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from unittest import mock

import numpy as np
import tensorflow as tf

from aign_tf import testing
from aign_tf.serving import hostile
from aign_tf.serving import limits as limits_lib
from aign_tf.serving import model_config
from aign_tf.serving import repository
from aign_tf.serving import server
from aign_tf.serving import testing as serving_testing

LIMITS = limits_lib.Limits(
    max_body_bytes=200_000, max_header_bytes=4096, max_batch_size=4,
    max_pixels_per_image=100, max_pixels_per_request=200, request_timeout_seconds=20.0,
    read_timeout_seconds=1.0, idle_timeout_seconds=2.0, num_request_threads=2,
    max_queued_requests=2, shutdown_grace_seconds=20.0)
TOY = json.dumps({"instances": [[1.0, 2.0, 3.0, 4.0]]}).encode()


request = serving_testing.request


def png_b64(side):
  return base64.b64encode(serving_testing.encode_png(np.zeros([side, side, 3], np.uint8))
                          ).decode()


class Gate:
  """Replaces `Signature.__call__`: each call waits until `open()`, so tests can hold
  requests in flight."""

  def __init__(self):
    self.event = threading.Event()
    self.entered = threading.Semaphore(0)
    self.original = repository.Signature.__call__

  def patch(self):
    gate = self

    def call(signature, arrays):
      gate.entered.release()
      gate.event.wait(60)
      return gate.original(signature, arrays)
    return mock.patch.object(repository.Signature, "__call__", call)

  def open(self):
    self.event.set()


class LimitsTest(testing.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.base = os.path.join(tf.compat.v1.test.get_temp_dir(), "limits_models")
    _, cls.repo = serving_testing.fake_repository(cls.base)
    cls.configs = [model_config.ModelConfig(kind, os.path.join(cls.base, kind))
                   for kind in ("toy", "image")]  # For servers of the tests' own.
    cls.srv = server.ModelServer(cls.repo, port=0, limits=LIMITS).start()

  @classmethod
  def tearDownClass(cls):
    cls.srv.shutdown()
    super().tearDownClass()

  def raw(self, data, wait=5.0):
    return hostile.exchange(self.srv.host, self.srv.port, data, wait)

  def assert_one_error(self, data, status, needle):
    statuses, raw = self.raw(data)
    self.assertEqual(statuses, [status], raw)
    body = hostile.json_bodies(raw)[0]
    self.assertEqual(set(body), {"error"}, raw)
    self.assertIn(needle, body["error"])
    self.assertIn(b"content-type: application/json", raw.lower())

  def assert_still_serving(self):
    status, result, _ = request(self.srv, "POST", "/v1/models/toy:predict", TOY)
    self.assertEqual(status, 200, result)

  # HTTP desync (issue 15, 2) --------------------------------------------------------------

  def test_conflicting_content_lengths_are_refused(self):
    smuggled = b"GET /v1/models/toy HTTP/1.1\r\nHost: x\r\n\r\n"
    body = TOY + smuggled
    self.assert_one_error(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n"
                          % (len(TOY), len(body)) + body, 400, "Content-Length")
    self.assert_still_serving()

  def test_get_with_a_body_gets_one_response(self):
    smuggled = b"GET /v1/models/toy HTTP/1.1\r\nHost: x\r\n\r\n"
    self.assert_one_error(b"GET /v1/models/toy HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                          b"\r\n\r\n" % len(smuggled) + smuggled, 400, "must not have a body")

  @testing.parameterized.parameters(b"+66", b"1_2_3", b"0x42", b"-1", b"66 66", b"")
  def test_malformed_content_length(self, value):
    self.assert_one_error(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: " + value + b"\r\n\r\n" + TOY, 400,
                          "malformed HTTP request")

  def test_pipelined_requests_are_answered_in_order(self):
    one = (b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
           % len(TOY) + TOY)
    last = b"GET /v1/models/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    statuses, raw = self.raw(one + one + last)
    self.assertEqual(statuses, [200, 200, 404], raw)

  def test_transfer_encoding_with_content_length_is_refused(self):
    self.assert_one_error(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
                          % len(TOY) + b"0\r\n\r\n" + TOY, 411, "Content-Length")

  def test_headers_over_the_limit(self):
    # One write (checked by the application) and a trickle (h11's buffer limit).
    self.assert_one_error(b"GET /v1/models/toy HTTP/1.1\r\nHost: x\r\nX-Big: "
                          + b"a" * 8000 + b"\r\n\r\n", 431, "max_header_bytes")
    sock = socket.create_connection((self.srv.host, self.srv.port), timeout=10)
    sock.sendall(b"GET /v1/models/toy HTTP/1.1\r\nHost: x\r\nX-Big: ")
    for _ in range(3):
      sock.sendall(b"a" * 3000)
      time.sleep(0.05)
    data = sock.recv(65536)
    sock.close()
    self.assertTrue(data.startswith(b"HTTP/1.1 431"), data)
    self.assertIn("max_header_bytes", hostile.json_bodies(data)[0]["error"])

  def test_body_over_the_limit_names_it(self):
    self.assert_one_error(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 200001\r\n\r\n" + TOY, 413, "max_body_bytes")

  # Inputs (issue 15, 3 and 5) --------------------------------------------------------------

  @testing.parameterized.named_parameters(
      ("columnar_empty", {"signature_name": "serving_bytes", "inputs": {"image": []}}),
      ("columnar_bare_empty", {"signature_name": "serving_bytes", "inputs": []}),
      ("row_empty", {"signature_name": "serving_bytes", "instances": [[]]}),
      ("row_named_empty", {"signature_name": "serving_bytes", "instances": [{"image": []}]}))
  def test_empty_strings_are_a_400_naming_the_input(self, body):
    status, result, _ = request(self.srv, "POST", "/v1/models/image:predict", body)
    self.assertEqual(status, 400, result)
    self.assertIn("input 'image'", result["error"])
    self.assertIn("empty", result["error"])

  @testing.parameterized.parameters(
      [[True, 0.5, 0.5, 0.5]], [[0.5, 0.5, 0.5, False]], [[True, False, True, True]],
      [[1, 2, 3, True]])
  def test_booleans_are_refused_in_numeric_inputs(self, *instance):
    status, result, _ = request(self.srv, "POST", "/v1/models/toy:predict",
                                {"instances": list(instance)})
    self.assertEqual(status, 400, result)
    self.assertIn("input 'observation'", result["error"])
    self.assertIn("booleans", result["error"])

  # Batch and pixel limits (issue 15, 1) ----------------------------------------------------

  def test_batch_over_the_limit(self):
    for body in ({"instances": [[1, 2, 3, 4]] * 5}, {"inputs": [[1, 2, 3, 4]] * 5},
                 {"inputs": {"observation": [[1, 2, 3, 4]] * 5}}):
      status, result, _ = request(self.srv, "POST", "/v1/models/toy:predict", body)
      self.assertEqual(status, 400, result)
      self.assertIn("batch of 5 examples", result["error"])
      self.assertIn("max_batch_size", result["error"])
    status, result, _ = request(self.srv, "POST", "/v1/models/toy:predict",
                                {"instances": [[1, 2, 3, 4]] * 4})
    self.assertEqual(status, 200, result)

  def test_many_tiny_pngs_are_refused_by_the_batch_limit(self):
    body = hostile.tiny_png_batch_body(serving_testing.encode_png(
        np.zeros([8, 8, 3], np.uint8)), 1500)
    status, result, _ = request(self.srv, "POST", "/v1/models/image:predict", body)
    self.assertEqual(status, 400, result)
    self.assertIn("max_batch_size", result["error"])

  def test_pixels_per_image(self):
    body = {"signature_name": "serving_bytes", "instances": [{"b64": png_b64(11)}]}
    status, result, _ = request(self.srv, "POST", "/v1/models/image:predict", body)
    self.assertEqual(status, 400, result)
    self.assertIn("input 'image': image 0 has 121 pixels", result["error"])
    self.assertIn("max_pixels_per_image", result["error"])

  def test_decompression_bomb_is_refused_before_decoding(self):
    body = {"signature_name": "serving_bytes",
            "instances": [{"b64": base64.b64encode(hostile.bomb_png()).decode()}]}
    status, result, _ = request(self.srv, "POST", "/v1/models/image:predict", body)
    self.assertEqual(status, 400, result)
    self.assertIn("268435456 pixels", result["error"])
    self.assertIn("max_pixels_per_image", result["error"])

  def test_pixels_per_request(self):
    body = {"signature_name": "serving_bytes", "instances": [{"b64": png_b64(8)}] * 4}
    status, result, _ = request(self.srv, "POST", "/v1/models/image:predict", body)
    self.assertEqual(status, 400, result)
    self.assertIn("max_pixels_per_request", result["error"])
    body["instances"] = body["instances"][:3]
    status, result, _ = request(self.srv, "POST", "/v1/models/image:predict", body)
    self.assertEqual(status, 200, result)

  def test_response_over_the_limit(self):
    srv = server.ModelServer(self.repo, port=0, limits=dataclasses.replace(
        LIMITS, max_response_bytes=10_000)).start()
    try:
      instances = [{"b64": png_b64(8)}] * 3
      status, result, _ = request(srv, "POST", "/v1/models/image:predict",
                                  {"signature_name": "serving_bytes", "instances": instances})
      self.assertEqual(status, 400, result)
      self.assertIn("max_response_bytes", result["error"])
      status, result, _ = request(srv, "POST", "/v1/models/image:predict",
                                  {"signature_name": "serving_png", "instances": instances})
      self.assertEqual(status, 200, result)
    finally:
      srv.shutdown()

  # Slow and idle clients (issue 15, 4) ----------------------------------------------------

  def test_slow_headers_are_cut_off(self):
    data = b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    seconds, answer = hostile.slow_client(self.srv.host, self.srv.port, data,
                                          seconds_per_byte=0.2, limit=20)
    self.assertIsNotNone(seconds, "the slow client was never cut off")
    self.assertLess(seconds, LIMITS.read_timeout_seconds + 5)
    self.assertTrue(answer.startswith(b"HTTP/1.1 408"), answer)
    self.assertIn("read_timeout_seconds", hostile.json_bodies(answer)[0]["error"])

  def test_slow_body_is_cut_off(self):
    data = (b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            % len(TOY) + TOY)
    sock = socket.create_connection((self.srv.host, self.srv.port), timeout=20)
    start = time.monotonic()
    sock.sendall(data[:-10])  # The head and most of the body, then nothing.
    answer = sock.recv(65536)
    sock.close()
    self.assertLess(time.monotonic() - start, LIMITS.read_timeout_seconds + 5)
    self.assertTrue(answer.startswith(b"HTTP/1.1 408"), answer)
    self.assertIn("request body", hostile.json_bodies(answer)[0]["error"])

  def test_many_slow_clients_do_not_block_others(self):
    socks = []
    for _ in range(50):
      sock = socket.create_connection((self.srv.host, self.srv.port), timeout=20)
      sock.sendall(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n")
      socks.append(sock)
    self.assert_still_serving()  # While all 50 hold a half-sent head.
    start = time.monotonic()
    for sock in socks:
      sock.recv(65536)  # Each is answered (408) and closed after the read timeout.
    self.assertLess(time.monotonic() - start, LIMITS.read_timeout_seconds + 10)
    for sock in socks:
      sock.close()

  def test_idle_connection_is_closed(self):
    sock = socket.create_connection((self.srv.host, self.srv.port), timeout=20)
    start = time.monotonic()
    self.assertEqual(sock.recv(65536), b"")
    self.assertLess(time.monotonic() - start, LIMITS.idle_timeout_seconds + 5)
    sock.close()

  # Concurrency and time limits -------------------------------------------------------------

  def test_full_queue_gets_503_with_retry_after(self):
    # A request timeout far above the waits below: on a loaded machine the held requests
    # must not time out (504) while the queue fills.
    srv = server.ModelServer(self.repo, port=0, limits=LIMITS, timeout_seconds=300).start()
    gate = Gate()
    try:
      with gate.patch(), concurrent.futures.ThreadPoolExecutor(8) as pool:
        held = [pool.submit(request, srv, "POST", "/v1/models/toy:predict", TOY)
                for _ in range(LIMITS.num_request_threads + LIMITS.max_queued_requests)]
        for _ in range(LIMITS.num_request_threads):
          gate.entered.acquire(timeout=30)
        deadline = time.monotonic() + 30
        while True:  # The queued requests may still be on their way in.
          status, result, headers = request(srv, "POST", "/v1/models/toy:predict", TOY)
          if status == 503 or time.monotonic() > deadline:
            break
        gate.open()
        self.assertEqual([f.result()[0] for f in held], [200] * len(held))
      self.assertEqual(status, 503, result)
      self.assertEqual(headers.get("Retry-After") or headers.get("retry-after"), "1")
      self.assertIn("max_queued_requests", result["error"])
      status, result, _ = request(srv, "POST", "/v1/models/toy:predict", TOY)
      self.assertEqual(status, 200, result)
    finally:
      srv.shutdown()

  def test_request_timeout_is_504(self):
    srv = server.ModelServer(self.repo, port=0, limits=LIMITS, timeout_seconds=0.5).start()
    gate = Gate()
    try:
      with gate.patch():
        status, result, _ = request(srv, "POST", "/v1/models/toy:predict", TOY)
        gate.open()
      self.assertEqual(status, 504, result)
      self.assertIn("request_timeout_seconds", result["error"])
    finally:
      srv.shutdown()

  def test_shutdown_finishes_requests_in_flight(self):
    repo = repository.Repository(self.configs, poll_seconds=0)
    repo.start()
    srv = server.ModelServer(repo, port=0, limits=LIMITS).start()
    gate = Gate()
    with gate.patch(), concurrent.futures.ThreadPoolExecutor(2) as pool:
      in_flight = pool.submit(request, srv, "POST", "/v1/models/toy:predict", TOY)
      gate.entered.acquire(timeout=30)
      stopping = pool.submit(srv.shutdown)
      time.sleep(0.5)
      # No new connections once shutdown began; the request in flight is still answered.
      with self.assertRaises(OSError):
        request(srv, "GET", "/v1/models/toy")
      gate.open()
      status, result, _ = in_flight.result(timeout=60)
      stopping.result(timeout=60)
    self.assertEqual(status, 200, result)
    self.assertLen(result["predictions"], 1)


class SigtermTest(testing.TestCase):

  def test_sigterm_lets_a_request_in_flight_finish(self):
    base = os.path.join(self.get_temp_dir(), "toy")
    serving_testing.export_fake("toy", os.path.join(base, "1"))
    process = subprocess.Popen(
        [sys.executable, "tools/serve.py", f"--model_base_path={base}", "--model_name=toy",
         "--rest_api_port=0", "--port=0", "--file_system_poll_wait_seconds=0"],
        cwd=testing.REPO_DIR, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
      line = process.stdout.readline()
      self.assertIn("serving toy at http://127.0.0.1:", line, line or process.stderr.read())
      self.assertTrue(process.stdout.readline().startswith("grpc at 127.0.0.1:"))
      port = int(line.strip().rsplit(":", 1)[1])
      # A request whose body is half sent when SIGTERM arrives.
      sock = socket.create_connection(("127.0.0.1", port), timeout=30)
      head = (b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % len(TOY))
      sock.sendall(head + TOY[:10])
      time.sleep(0.5)
      process.send_signal(signal.SIGTERM)
      time.sleep(0.5)
      sock.sendall(TOY[10:])
      data = b""
      while chunk := sock.recv(65536):
        data += chunk
      sock.close()
      self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
      self.assertLen(hostile.json_bodies(data)[0]["predictions"], 1)
      _, stderr = process.communicate(timeout=60)
      self.assertEqual(process.returncode, 0, stderr[-3000:])
      self.assertNotIn("Traceback", stderr)
    finally:
      if process.poll() is None:
        process.kill()
        process.communicate()


if __name__ == "__main__":
  tf.test.main()
