"""A bounded, seeded fuzz run against `tools/serve.py` on 127.0.0.1 (issue 7, "Server").

A few thousand generated requests (random JSON, wrong shapes and dtypes, huge numbers,
NaN/Infinity, deep nesting, oversize bodies, bad base64, path tricks, wrong methods, header
junk, slow and half-closed connections) go to a real server process serving two fake models.
Every response must be a 4xx/5xx with a JSON `{"error": ...}` body or a valid prediction, the
server must stay up with bounded memory, no error may name a file system path, and a valid
request after the run must return the prediction it returned before. The counts per category
and per status are printed (run pytest with -s to see them).
"""

import base64
import collections
import json
import os
import random
import socket
import subprocess
import sys
import time

from aign_tf import testing
from aign_tf.serving import model_config
from aign_tf.serving import testing as serving_testing

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
SEED = 7
NUM_REQUESTS = 1500  # Fixed: the test never depends on how fast the machine is.
MAX_BODY_BYTES = 100_000
SERVER_TIMEOUT_MS = 1500
RSS_GROWTH_LIMIT_MB = 300  # Generous: TF allocator pools grow with the first odd shapes.
VALID_TOY = {"instances": [[0.5, -1.0, 2.0, 0.25], [1.0, 2.0, 3.0, 4.0]]}


def rss_mb(pid):
  with open(f"/proc/{pid}/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) / 1024.0
  return 0.0


def http_request(method, path, body=b"", headers=None, version="HTTP/1.1"):
  if isinstance(body, (dict, list)):
    body = json.dumps(body).encode()
  elif isinstance(body, str):
    body = body.encode("utf-8", "surrogatepass")
  head = [f"{method} {path} {version}", "Host: 127.0.0.1", "Connection: close"]
  lines = dict(headers or {})
  if "Content-Length" not in lines and (method == "POST" or body):
    lines["Content-Length"] = str(len(body))
  head += [f"{k}: {v}" for k, v in lines.items() if v is not None]
  return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + body


def read_response(sock, head_request=False):
  """(status, headers, body) of the first final response on `sock`, or ("closed", ...) when
  the server closed it without one, ("reset", ...) on a reset. The answer to a HEAD request
  has no body (RFC 9110), whatever its Content-Length says."""
  data = b""
  try:
    while True:
      while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
          return ("closed" if not data else "truncated"), {}, data
        data += chunk
      head, _, data = data.partition(b"\r\n\r\n")
      lines = head.decode("latin-1").split("\r\n")
      status = int(lines[0].split()[1])
      headers = {k.strip().lower(): v.strip() for k, _, v in
                 (l.partition(":") for l in lines[1:])}
      if 100 <= status < 200:  # e.g. "100 Continue": the final response follows.
        continue
      length = 0 if head_request else int(headers.get("content-length", "0"))
      while len(data) < length:
        chunk = sock.recv(65536)
        if not chunk:
          return "truncated", headers, data
        data += chunk
      return status, headers, data[:length]
  except ConnectionResetError:
    return "reset", {}, data


def exchange(port, data, chunks=1, delay=0.0, shut_wr=False, timeout=15.0):
  sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
  try:
    try:
      step = max(1, -(-len(data) // chunks))
      for i in range(0, len(data), step):
        sock.sendall(data[i:i + step])
        if delay:
          time.sleep(delay)
      if shut_wr:
        sock.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
      pass  # The server may refuse before the whole request is sent; read its answer.
    return read_response(sock, head_request=data.startswith(b"HEAD "))
  finally:
    sock.close()


class Fuzzer:
  """Seeded generators of hostile requests: `next()` -> (category, request bytes, options,
  outcomes allowed besides an HTTP response)."""

  def __init__(self, seed, base_path):
    self.rng = random.Random(seed)
    self.base_path = base_path
    png = serving_testing.encode_png([[[i * 30 % 256, 7, 200]] * 8 for i in range(8)])
    self.png_b64 = base64.b64encode(png).decode()
    self.categories = [
        ("random_json", self.random_json), ("wrong_shape", self.wrong_shape),
        ("wrong_dtype", self.wrong_dtype), ("huge_numbers", self.huge_numbers),
        ("nan_infinity", self.nan_infinity), ("deep_nesting", self.deep_nesting),
        ("oversize", self.oversize), ("bad_base64", self.bad_base64),
        ("path_tricks", self.path_tricks), ("wrong_method", self.wrong_method),
        ("header_junk", self.header_junk), ("random_bytes", self.random_bytes),
        ("half_closed", self.half_closed), ("valid", self.valid)]

  def next(self):
    category, make = self.rng.choice(self.categories)
    return (category,) + make()

  # Values -----------------------------------------------------------------------------------

  def value(self, depth=0):
    r = self.rng.random()
    if depth > 4 or r < 0.3:
      return self.rng.choice([
          None, True, False, 0, -1, 255, 256, 2 ** 63, -2 ** 64, 1e308, -1e-308, 0.5,
          self.rng.uniform(-1e6, 1e6), self.rng.randint(-1000, 1000), "", "a", "\u00e9\u4e2d",
          "\ud800", {"b64": "AAAA"}, {"b64": 5}, "../../etc/passwd"])
    if r < 0.65:
      return [self.value(depth + 1) for _ in range(self.rng.randint(0, 5))]
    keys = ["instances", "inputs", "signature_name", "observation", "image", "b64", "x", ""]
    return {self.rng.choice(keys): self.value(depth + 1) for _ in range(self.rng.randint(0, 4))}

  def model_path(self):
    return self.rng.choice(["/v1/models/toy:predict", "/v1/models/image:predict",
                            "/v1/models/toy/versions/1:predict",
                            "/v1/models/image/labels/stable:predict"])

  def post(self, body, path=None, **headers):
    return http_request("POST", path or self.model_path(), body, headers), {}, ()

  # Categories -------------------------------------------------------------------------------

  def random_json(self):
    body = self.value()
    if self.rng.random() < 0.5:
      body = {self.rng.choice(["instances", "inputs"]): body}
      if self.rng.random() < 0.3:
        body["signature_name"] = self.rng.choice(["serving_bytes", "metadata", "nope", 3, ""])
    return self.post(json.dumps(body))

  def wrong_shape(self):
    dims = [self.rng.randint(0, 9) for _ in range(self.rng.randint(0, 5))]
    def nested(shape):
      if not shape:
        return self.rng.randint(0, 255)
      return [nested(shape[1:]) for _ in range(shape[0])]
    if self.rng.random() < 0.3:  # Ragged.
      value = [[1, 2, 3, 4], [1, 2]]
    else:
      value = nested(dims)
    key = self.rng.choice(["instances", "inputs"])
    return self.post({key: value})

  def wrong_dtype(self):
    leaf = self.rng.choice(["1", True, None, {"a": 1}, 1.5, -3, 300, "nan", [], {"b64": "AA=="}])
    if self.rng.random() < 0.5:
      return self.post({"instances": [[leaf, 0.5, 0.5, 0.5]]}, "/v1/models/toy:predict")
    image = [[[leaf, 0, 0]] * 8] * 8
    return self.post({"inputs": {"image": [image]}}, "/v1/models/image:predict")

  def huge_numbers(self):
    number = self.rng.choice(["1e309", "-1e309", "1" * 5000, "-" + "9" * 400, "1e-400",
                              str(2 ** 64), "123456789012345678901234567890.5", "0." + "0" * 4000 + "1",
                              "1e999999999", "18446744073709551616"])
    if self.rng.random() < 0.5:
      body = '{"instances": [[%s, 1, 2, 3]]}' % number
      return self.post(body, "/v1/models/toy:predict")
    body = '{"inputs": {"image": [[[[%s, 0, 0]]]]}}' % number
    return self.post(body, "/v1/models/image:predict")

  def nan_infinity(self):
    literal = self.rng.choice(["NaN", "Infinity", "-Infinity", "-NaN", "nan", "inf"])
    if self.rng.random() < 0.6:
      body = '{"instances": [[%s, %s, 0.5, 0.5]]}' % (literal, self.rng.choice(["1", literal]))
      return self.post(body, "/v1/models/toy:predict")
    body = '{"inputs": {"image": [%s]}}' % json.dumps([[[0, 0, 0]] * 8] * 8).replace(
        "0", literal, 1)
    return self.post(body, "/v1/models/image:predict")

  def deep_nesting(self):
    depth = self.rng.choice([40, 100, 999, 1000, 5000, 100_000])
    kind = self.rng.random()
    if kind < 0.4:
      body = '{"instances": ' + "[" * depth + "1" + "]" * depth + "}"
    elif kind < 0.7:
      body = '{"inputs": ' + '{"image": ' * depth + "1" + "}" * depth + "}"
    else:
      body = ('{"signature_name": "serving_bytes", "inputs": {"image": '
              + "[" * min(depth, 900) + '{"b64": "AA=="}' + "]" * min(depth, 900) + "}}")
    return self.post(body[:MAX_BODY_BYTES + 10])

  def oversize(self):
    kind = self.rng.random()
    if kind < 0.4:  # Claims a huge body, sends a little of it.
      length = self.rng.choice([MAX_BODY_BYTES + 1, 10 ** 9, 10 ** 30])
      data = http_request("POST", self.model_path(), b"", {"Content-Length": str(length)})
      return data + b'{"instances": [[1,2,3,4]' , {}, ("reset",)
    if kind < 0.7:  # Really sends a body over the limit.
      body = '{"instances": [' + ",".join(["[1,2,3,4]"] * (MAX_BODY_BYTES // 9 + 10)) + "]}"
      return http_request("POST", self.model_path(), body), {}, ("reset",)
    # Under the limit but many examples (a large, legal batch), or a long string.
    if self.rng.random() < 0.5:
      body = {"instances": [[1.0, 2.0, 3.0, 4.0]] * self.rng.randint(100, 2000)}
      return self.post(body, "/v1/models/toy:predict")
    body = {"instances": ["x" * self.rng.randint(1, MAX_BODY_BYTES - 100)]}
    return self.post(body, "/v1/models/toy:predict")

  def bad_base64(self):
    b64 = self.rng.choice([
        "!!!!", "AAA", "A===", "====", "AA==AA==", "\u00e9", "AA\nAA==", self.png_b64[:-3],
        self.png_b64[:40], base64.b64encode(b"not an image at all").decode(),
        base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(50)).decode(), self.png_b64,
        base64.b64encode(serving_testing.encode_png([[[1, 2, 3]] * 5] * 3)).decode(), ""])
    value = {"b64": b64}
    if self.rng.random() < 0.2:
      value = {"b64": b64, "extra": 1}
    if self.rng.random() < 0.75:
      body = {"signature_name": "serving_bytes", "instances": [value]}
      return self.post(body, "/v1/models/image:predict")
    return self.post({"instances": [value]}, self.model_path())

  def path_tricks(self):
    path = self.rng.choice([
        "/v1/models/../../../etc/passwd", "/v1/models/%2e%2e/%2e%2e/etc/passwd",
        "/v1/models/%2e%2e:predict", "/v1/models/..%2f..%2fetc:predict",
        "//etc/passwd", "/etc/passwd", self.base_path + "/toy/1/saved_model.pb",
        "/v1/models/" + self.base_path.replace("/", "%2f"), "/v1/models/toy%00",
        "/v1/models/toy%00/../../x", "/v1/models/toy/versions/1%2f..%2f..:predict",
        "/v1/models/toy/versions/-1", "/v1/models/toy/versions/99999999999999999999",
        "/v1/models/toy/labels/..", "/v1/models/toy/labels/%2e%2e%2fx/metadata",
        "/v1/models/%5c..%5c..%5cwindows", "/v1/models/toy:predict?x=../../etc/passwd",
        "/v1/models/toy#frag", "/v1/models/" + "a" * 5000, "/" + "x/" * 3000,
        "http://127.0.0.1/v1/models/toy", "*", "/v1/models/file:%2f%2f%2fetc%2fpasswd",
        "/v1/models/.hidden", "/v1/models/toy/metadata/../../..", "/v1/models/~root",
        "/v1/models/\u00e9:predict", "/v1/models/toy:predict\x00.json"])
    method = self.rng.choice(["GET", "POST"])
    return http_request(method, path, VALID_TOY if method == "POST" else b""), {}, ()

  def wrong_method(self):
    method = self.rng.choice(["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE",
                              "CONNECT", "FOO", "get", "POST", "GET", "G\x00T"])
    path = self.rng.choice(["/v1/models/toy", "/v1/models/toy:predict", "/v1/models/image/metadata",
                            "/"])
    return http_request(method, path, VALID_TOY), {}, ()

  def header_junk(self):
    kind = self.rng.randrange(9)
    body = json.dumps(VALID_TOY)
    path = "/v1/models/toy:predict"
    if kind == 0:
      return self.post(body, path, **{"Content-Length": self.rng.choice(
          ["-1", "abc", "1e3", " ", "0x10", "99999999999999999999999999"])})
    if kind == 1:
      return self.post(body, path, **{"Content-Length": "0"})
    if kind == 2:
      return self.post(body, path, **{"Transfer-Encoding": "chunked"})
    if kind == 3:
      return self.post(body, path, **{"Expect": "100-continue"})
    if kind == 4:
      return self.post(body, path, **{"X-Big": "a" * 70_000})
    if kind == 5:
      headers = {f"X-{i}": "v" for i in range(150)}
      return self.post(body, path, **headers)
    if kind == 6:
      return http_request("POST", path, body, {"Content-Length": str(len(body) + 10)}), \
          {"shut_wr": True}, ()
    if kind == 7:
      return http_request("GET", "/v1/models/toy", version=self.rng.choice(
          ["HTTP/0.9", "HTTP/2.0", "HTTP/9", "FOO", "HTTP/1.1 extra"])), {}, ()
    return self.post(body, path, **{"Content-Type": "application/x-python-pickle"})

  def random_bytes(self):
    data = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 300)))
    if self.rng.random() < 0.5:
      data += b"\r\n\r\n"
    return data, {"shut_wr": True}, ("closed",)

  def half_closed(self):
    full = http_request("POST", "/v1/models/toy:predict", VALID_TOY)
    cut = self.rng.randint(0, len(full))
    # A cut inside the request line or headers: the server may answer or just close.
    return full[:cut], {"shut_wr": True}, ("closed",)

  def valid(self):
    kind = self.rng.random()
    if kind < 0.4:
      rows = [[self.rng.uniform(-5, 5) for _ in range(4)] for _ in range(self.rng.randint(1, 4))]
      return self.post({"instances": rows}, "/v1/models/toy:predict")
    if kind < 0.6:
      return self.post({"signature_name": "serving_bytes",
                        "instances": [{"b64": self.png_b64}]}, "/v1/models/image:predict")
    if kind < 0.8:  # Slow, in several pieces.
      return http_request("POST", "/v1/models/toy:predict", VALID_TOY), \
          {"chunks": 4, "delay": 0.02}, ()
    return http_request("GET", self.rng.choice(["/v1/models/toy", "/v1/models/image/metadata"])), \
        {}, ()


class ServerFuzzTest(testing.TestCase):

  def setUp(self):
    super().setUp()
    self.base = os.path.join(self.get_temp_dir(), "fuzz_models")
    serving_testing.export_fake("toy", os.path.join(self.base, "toy", "1"))
    serving_testing.export_fake("image", os.path.join(self.base, "image", "1"))
    # The image model also answers under a version label (a route the fuzz goes through).
    config = os.path.join(self.base, "models.config")
    with open(config, "w") as f:
      f.write(model_config.format_config([
          model_config.ModelConfig("toy", os.path.join(self.base, "toy")),
          model_config.ModelConfig("image", os.path.join(self.base, "image"),
                                   labels={"stable": 1})]))
    # stderr goes to a file (a pipe nobody reads could fill up and stall the server).
    self.stderr_path = os.path.join(self.get_temp_dir(), "serve_stderr.txt")
    self.stderr_file = open(self.stderr_path, "w")
    self.process = subprocess.Popen(
        [sys.executable, "tools/serve.py", f"--model_config_file={config}",
         "--rest_api_port=0", "--port=0", f"--max_request_bytes={MAX_BODY_BYTES}",
         f"--rest_api_timeout_in_ms={SERVER_TIMEOUT_MS}", "--file_system_poll_wait_seconds=0"],
        cwd=testing.REPO_DIR, env=ENV, stdout=subprocess.PIPE, stderr=self.stderr_file,
        text=True)
    line = self.process.stdout.readline()
    if "serving" not in line:
      self.process.kill()
      self.fail(f"the server did not start: {line}{self.server_log()[-3000:]}")
    self.port = int(line.strip().rsplit(":", 1)[1])

  def tearDown(self):
    self.process.terminate()
    try:
      self.process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
      self.process.kill()
      self.process.communicate()
    self.stderr_file.close()
    super().tearDown()

  def server_log(self):
    self.stderr_file.flush()
    with open(self.stderr_path) as f:
      return f.read()

  def check_response(self, category, status, headers, body, allowed):
    """Returns a description of what is wrong with the response, or None."""
    if not isinstance(status, int):
      return None if status in allowed else f"no response ({status})"
    if headers.get("content-type") != "application/json":
      return f"status {status} with Content-Type {headers.get('content-type')!r}"
    if headers.get("x-head-request") and not body:
      return None if status == 405 else f"HEAD answered {status} (expected 405)"
    try:
      result = json.loads(body)
    except ValueError:
      return f"status {status} with a body that is not JSON: {body[:200]!r}"
    if 400 <= status < 600:
      if not (isinstance(result, dict) and set(result) == {"error"}
              and isinstance(result["error"], str)):
        return f"error {status} without a {{\"error\": str}} body: {body[:200]!r}"
      error = result["error"]
      if self.base in error or os.path.realpath(self.base) in error or "/tmp" in error:
        return f"error {status} leaks a path: {error!r}"
      return None
    if status == 200 and isinstance(result, dict) and "error" not in result and (
        "predictions" in result or "outputs" in result or "model_version_status" in result
        or "metadata" in result):
      return None
    return f"unexpected status {status}: {body[:200]!r}"

  def predict_valid(self):
    status, headers, body = exchange(self.port, http_request(
        "POST", "/v1/models/toy:predict", VALID_TOY))
    self.assertEqual(status, 200, body)
    return json.loads(body)

  def test_fuzz(self):
    before = self.predict_valid()
    self.assertLen(before["predictions"], 2)
    # Slow-loris connections: half a request each, held open during the whole run.
    loris = []
    for i in range(8):
      sock = socket.create_connection(("127.0.0.1", self.port), timeout=15)
      sock.sendall(b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n"
                   + (b"Content-Length: 100\r\n\r\n{\"inst" if i % 2 else b"X-Slow: 1"))
      loris.append(sock)
    rss_start = rss_mb(self.process.pid)

    fuzzer = Fuzzer(SEED, self.base)
    by_category = collections.defaultdict(collections.Counter)
    by_status = collections.Counter()
    problems = []
    start = time.time()
    done = 0
    for done in range(1, NUM_REQUESTS + 1):
      category, data, options, allowed = fuzzer.next()
      status, headers, body = exchange(self.port, data, **options)
      if data.startswith(b"HEAD ") and isinstance(status, int):
        headers["x-head-request"] = "1"  # Checked without a body (see read_response).
      by_category[category][status] += 1
      by_status[status] += 1
      problem = self.check_response(category, status, headers, body, allowed)
      if problem:
        problems.append(f"{category}: {problem} <- {data[:160]!r}")
      if self.process.poll() is not None:
        problems.append(f"the server died after {done} requests")
        break
    elapsed = time.time() - start

    # The slow-loris connections were cut off by the server's inactivity limit: a JSON 408,
    # or closed without an answer (their request line or headers never completed).
    loris_outcomes = collections.Counter()
    for sock in loris:
      status, headers, body = read_response(sock)
      loris_outcomes[status] += 1
      problem = self.check_response("slow_loris", status, headers, body, ("closed",))
      if problem:
        problems.append(f"slow_loris: {problem}")
      sock.close()

    after = self.predict_valid()
    rss_end = rss_mb(self.process.pid)
    print(f"\nfuzz: {done} requests in {elapsed:.1f} s (seed {SEED}); server RSS "
          f"{rss_start:.0f} -> {rss_end:.0f} MB")
    for category in sorted(by_category):
      counts = ", ".join(f"{k}: {v}" for k, v in sorted(by_category[category].items(),
                                                         key=lambda kv: str(kv[0])))
      print(f"  {category:13s} {sum(by_category[category].values()):5d}  ({counts})")
    print("  by status: " + ", ".join(f"{k}: {v}" for k, v in
                                      sorted(by_status.items(), key=lambda kv: str(kv[0]))))
    print(f"  slow loris: {dict(loris_outcomes)}")
    for problem in problems[:20]:
      print("  PROBLEM " + problem)

    self.assertEmpty(problems, f"{len(problems)} bad responses, first: {problems[:5]}")
    # No handler thread failed (socketserver prints their tracebacks to stderr).
    log = self.server_log()
    self.assertNotIn("Traceback", log, log[-3000:])
    self.assertIsNone(self.process.poll(), "the server died")
    self.assertEqual(done, NUM_REQUESTS)  # A fixed amount of work, however fast the machine.
    self.assertEqual(after, before)
    self.assertLess(rss_end - rss_start, RSS_GROWTH_LIMIT_MB)
    # Every category ran, and errors and successes both happened.
    self.assertLen(by_category, len(fuzzer.categories))
    self.assertGreater(by_status[200], 0)
    self.assertGreater(sum(v for k, v in by_status.items() if isinstance(k, int) and k >= 400), 0)
