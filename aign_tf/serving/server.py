"""A local server speaking TF Serving's REST API (for development and tests; TF Serving
itself stays the production server).

Endpoints (TF Serving's):

    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]            model status
    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]/metadata   signature defs
    POST /v1/models/{name}[/versions/{v} | /labels/{l}]:predict    predict (`protocol`)

Requests run concurrently (one thread per connection, HTTP/1.1 keep-alive); optionally
requests to the same signature are batched (`batching`). Every refusal is an HTTP 4xx/5xx
with `{"error": "..."}` naming the problem, never a file system path.

Security: binds 127.0.0.1 unless told otherwise; bodies over `max_body_bytes` are refused
before they are read (413); only models configured in the repository are served, looked up
by name (no path is built from the URL); request bodies are parsed as JSON only (no pickle,
no evaluation); slow clients are cut off after `timeout_seconds` of socket inactivity.
"""

import http.server
import logging
import socket
import threading
import time

from aign_tf.serving import protocol

_log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 4 << 20


class _HTTPServer(http.server.ThreadingHTTPServer):
  daemon_threads = True
  allow_reuse_address = True
  request_queue_size = 64


class ModelServer:
  """Serves a `repository.Repository` over HTTP.

  Args:
    repository: the models (already started, or started by `start`).
    host: interface to bind; 127.0.0.1 by default (use 0.0.0.0 to expose it).
    port: TCP port; 0 picks a free one (see `port` after construction).
    max_body_bytes: larger request bodies get 413 without being read.
    timeout_seconds: socket inactivity limit, and the limit on waiting for a batch.
    batcher: an optional `batching.Batcher`.
  """

  def __init__(self, repository, host="127.0.0.1", port=8501,
               max_body_bytes=DEFAULT_MAX_BODY_BYTES, timeout_seconds=30.0, batcher=None):
    self.repository = repository
    self.max_body_bytes = int(max_body_bytes)
    self.timeout_seconds = timeout_seconds
    self.batcher = batcher
    self.counts = {}
    self._counts_lock = threading.Lock()
    handler = type("Handler", (_Handler,), {"model_server": self, "timeout": timeout_seconds})
    self._httpd = _HTTPServer((host, port), handler)
    self.host, self.port = self._httpd.server_address[:2]
    self._thread = None

  @property
  def url(self):
    return f"http://{self.host}:{self.port}"

  def count(self, status):
    with self._counts_lock:
      self.counts[status] = self.counts.get(status, 0) + 1

  def serve_forever(self):
    self._httpd.serve_forever(poll_interval=0.2)

  def start(self):
    """Serves in a background thread; returns self."""
    self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
    self._thread.start()
    return self

  def shutdown(self):
    self._httpd.shutdown()
    self._httpd.server_close()
    if self.batcher is not None:
      self.batcher.stop()
    self.repository.stop()

  # Request handling (called from the handler threads) ---------------------------------------

  def handle(self, method, path, read_body):
    """Returns (status, response object); never raises."""
    try:
      route = protocol.parse_url(path, method)
      model = self.repository.model(route.name)
      if route.kind == "status":
        return 200, model.status(route.version, route.label)
      version = model.resolve(route.version, route.label)
      if route.kind == "metadata":
        return 200, {"model_spec": {"name": model.name, "signature_name": "",
                                    "version": str(version.version)},
                     "metadata": {"signature_def": {"signature_def": version.signature_defs}}}
      signature_name, request_format, payload = protocol.parse_body(read_body())
      signature = version.signature(signature_name)
      arrays = protocol.request_arrays(request_format, payload, signature.inputs)
      outputs = self._run(model, version, signature, arrays)
      return 200, protocol.response(request_format, outputs)
    except protocol.RequestError as e:
      return e.status, {"error": e.message}
    except Exception as e:  # pylint: disable=broad-except
      return self._model_error(e, path)

  def _run(self, model, version, signature, arrays):
    if self.batcher is not None and arrays:
      return self.batcher.run((model.name, version.version, signature.name), signature,
                              arrays, timeout=self.timeout_seconds)
    return signature(arrays)

  def _model_error(self, error, path):
    # Imported lazily: the protocol layer stays TensorFlow-free.
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if isinstance(error, (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError,
                          tf.errors.FailedPreconditionError)):
      message = _first_line(error.message if hasattr(error, "message") else str(error))
      return 400, {"error": f"the model rejected the input: {message}"}
    _log.exception("internal error on %s", path[:200])
    return 500, {"error": f"internal error ({type(error).__name__})"}


def _first_line(message):
  """The user-facing line of a TensorFlow error (no graph context or node names)."""
  from aign_tf.serving import repository  # pylint: disable=g-import-not-at-top
  skip = ("Graph execution error", "Detected at node", "<stack traces", "[[", "File ")
  lines = [l for l in str(message).splitlines()
           if l.strip() and not l[0].isspace() and not l.startswith(skip)]
  line = lines[0] if lines else "invalid input"
  line = line.split(" [Op:")[0].split(" [[")[0].strip()
  return repository.sanitize(line, _NoModel)


class _NoModel:
  name = "model"
  base_path = "/nonexistent-base-path"


class _Handler(http.server.BaseHTTPRequestHandler):
  protocol_version = "HTTP/1.1"
  server_version = "aign_tf-serving/1"
  sys_version = ""
  model_server = None  # Set on the subclass made by ModelServer.

  def setup(self):
    super().setup()
    self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    _log.debug("%s " + format, self.address_string(), *args)

  def _send(self, status, obj):
    body = protocol.dumps(obj)
    self.model_server.count(status)
    if self.request_version == "HTTP/0.9":
      # Every answer has a status line and headers: BaseHTTPRequestHandler writes none for
      # an "HTTP/0.9" request, and the body write below then failed (the client got a bare
      # close and the handler thread a traceback).
      self.request_version = "HTTP/1.0"
      self.close_connection = True
    try:
      self.send_response(status)
      self.send_header("Content-Type", "application/json")
      self.send_header("Content-Length", str(len(body)))
      if self.close_connection:
        self.send_header("Connection", "close")
      # Headers and body in one write: two small writes meet Nagle's algorithm and the
      # client's delayed ACK (a 40 ms stall per request).
      self._headers_buffer.append(b"\r\n" + body)
      self.flush_headers()
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
      self.close_connection = True

  def _read_body(self):
    if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
      self.close_connection = True
      raise protocol.RequestError(411, "chunked bodies are not supported: send "
                                  "Content-Length")
    length = self.headers.get("Content-Length")
    if length is None:
      self.close_connection = True
      raise protocol.RequestError(411, "a predict request needs a Content-Length header")
    try:
      length = int(length)
      if length < 0:
        raise ValueError
    except ValueError:
      self.close_connection = True
      raise protocol.RequestError(400, "invalid Content-Length") from None
    limit = self.model_server.max_body_bytes
    if length > limit:
      self.close_connection = True  # The body stays unread.
      raise protocol.RequestError(413, f"request body of {length} bytes is over the limit "
                                  f"of {limit} bytes")
    try:
      body = self.rfile.read(length)
    except OSError:
      self.close_connection = True
      raise protocol.RequestError(408, "timed out reading the request body") from None
    if len(body) != length:
      self.close_connection = True
      raise protocol.RequestError(400, "request body shorter than its Content-Length")
    return body

  def _dispatch(self, method):
    read = [False]

    def read_body():
      read[0] = True
      return self._read_body()

    status, obj = self.model_server.handle(method, self.path, read_body)
    if method == "POST" and not read[0]:
      # The body was not consumed (error before reading it): drop the connection so it
      # is not parsed as the next request.
      self.close_connection = True
    self._send(status, obj)

  def do_GET(self):  # pylint: disable=invalid-name
    self._dispatch("GET")

  def do_POST(self):  # pylint: disable=invalid-name
    self._dispatch("POST")

  def _not_allowed(self):
    self.close_connection = True
    self._send(405, {"error": f"method {self.command} is not allowed (use GET or POST)"})

  do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

  def send_error(self, code, message=None, explain=None):
    # Malformed request lines and headers: JSON like every other error, always with a status
    # line (HTTP/0.9-looking garbage would otherwise get a bare body).
    self.close_connection = True
    self._send(code, {"error": message or f"HTTP error {code}"})


def serve(repository, host="127.0.0.1", port=8501, max_body_bytes=DEFAULT_MAX_BODY_BYTES,
          timeout_seconds=30.0, batcher=None, ready=None):
  """Starts the repository and serves until interrupted (the `tools/serve.py` loop)."""
  repository.start()
  server = ModelServer(repository, host, port, max_body_bytes, timeout_seconds, batcher)
  _log.info("serving %s on %s", ", ".join(repository.names()) or "no models", server.url)
  if ready is not None:
    ready(server)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.shutdown()
  return server
