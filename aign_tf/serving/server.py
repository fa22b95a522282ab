"""A local server speaking TF Serving's REST API (and, with `grpc_port`, its gRPC API; see
`grpc_service`), for development and tests; TF Serving itself stays the production server.

Endpoints (TF Serving's):

    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]            model status
    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]/metadata   signature defs
    POST /v1/models/{name}[/versions/{v} | /labels/{l}]:predict    predict (`protocol`)

Every refusal is an HTTP 4xx/5xx with `{"error": "..."}` naming the problem (and the limit,
for the limits of `limits.Limits`), never a file system path.

The HTTP stack is uvicorn with its h11 parser (an asyncio event loop; HTTP/1.1 framing,
Content-Length and header validation are h11's). It was chosen by measuring three
maintained stacks on the same minimal JSON endpoint with their default settings
(`python benchmarks/http_stacks.py --seconds=3 --slow_seconds=12`, uvicorn 0.54.0 / h11
0.16.0, hypercorn 0.18.0, aiohttp 3.14.5; numbers in export/README.md): all three refuse
conflicting Content-Length headers, `+66`, `1_2` and read a GET's body as its body (one
response); uvicorn answered in 0.55 ms p50 at one client and 2736 requests/s at 16 (with
TCP_NODELAY, which its defaults lack: 44 ms), hypercorn 0.52 ms and 2020/s, aiohttp 0.32 ms
and 4547/s. Only hypercorn cut a client trickling its headers (after 5 s), and only
hypercorn refused a 100 KB header; every stack answers protocol errors in plain text. uvicorn
takes the protocol class as a documented option (`Config(http=...)`), so the parts it lacks
are a small subclass here rather than patches: JSON error bodies for malformed requests, a
deadline for the request head (slow clients), an idle deadline for new connections,
TCP_NODELAY with head and body in one write, and a lingering close so an error answer is
not lost to a reset. aiohttp is faster but parses with its own parser, has the same gaps and
no such option; the model, not the HTTP layer, dominates latency here.

Concurrency: the event loop only parses HTTP and moves bytes; JSON decoding, validation,
inference and JSON encoding run in a bounded thread pool (`num_request_threads`). At most
`num_request_threads + max_queued_requests` requests are admitted at once (counted from
before their body is read, so buffered bodies are bounded too); others get 503 with
`Retry-After`. A request still running after `request_timeout_seconds` gets 504 (its thread
finishes in the background and keeps its slot until then). SIGTERM/SIGINT (`serve`) stop
accepting connections and let requests in flight finish for `shutdown_grace_seconds`.

Security: binds 127.0.0.1 unless told otherwise; bodies over `max_body_bytes` are refused
before they are read (413); only models configured in the repository are served, looked up
by name (no path is built from the URL); request bodies are parsed as JSON only (no pickle,
no evaluation).
"""

import asyncio
import concurrent.futures
import ctypes
import dataclasses
import http
import logging
import signal
import socket
import sys
import threading

import h11
import uvicorn
from uvicorn.protocols.http import h11_impl

from aign_tf.serving import limits as limits_lib
from aign_tf.serving import protocol

_log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = limits_lib.Limits.max_body_bytes
_LINGER_SECONDS = 2.0
_TRIM_BYTES = 1 << 20
try:
  _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # Not glibc.
  _MALLOC_TRIM = None
_JSON = (b"content-type", b"application/json")


class ModelServer:
  """Serves a `repository.Repository` over HTTP (and gRPC when `grpc_port` is given).

  Args:
    repository: the models (already started, or started by `serve`).
    host: interface to bind; 127.0.0.1 by default (use 0.0.0.0 to expose it).
    port: TCP port of the REST API; 0 picks a free one (see `port` after construction).
    max_body_bytes: overrides `limits.max_body_bytes`.
    timeout_seconds: overrides `limits.request_timeout_seconds`.
    batcher: an optional `batching.Batcher`.
    limits: a `limits.Limits` (defaults: the `tools/serve.py` flag defaults).
    grpc_port: TCP port of the gRPC API (0 picks a free one); None: no gRPC.
    trim_memory: call glibc's `malloc_trim` after large requests (`release_memory`).
  """

  def __init__(self, repository, host="127.0.0.1", port=8501, max_body_bytes=None,
               timeout_seconds=None, batcher=None, limits=None, grpc_port=None,
               trim_memory=True):
    limits = limits or limits_lib.Limits()
    if max_body_bytes is not None:
      limits = dataclasses.replace(limits, max_body_bytes=int(max_body_bytes))
    if timeout_seconds is not None:
      limits = dataclasses.replace(limits, request_timeout_seconds=float(timeout_seconds))
    self.repository = repository
    self.limits = limits
    self.batcher = batcher
    self.trim_memory = trim_memory
    self.counts = {}
    self._lock = threading.Lock()
    self._admitted = 0
    self._trim_when_idle = False
    self._pool = concurrent.futures.ThreadPoolExecutor(limits.num_request_threads,
                                                       thread_name_prefix="predict")
    self._socket = socket.create_server((host, port), backlog=1024)
    self.host, self.port = self._socket.getsockname()[:2]
    config = uvicorn.Config(
        _App(self), http=_protocol_class(self), lifespan="off", log_config=None,
        access_log=False, server_header=False, limit_concurrency=None,
        timeout_keep_alive=limits.idle_timeout_seconds,
        timeout_graceful_shutdown=limits.shutdown_grace_seconds,
        h11_max_incomplete_event_size=limits.max_header_bytes)
    self._uvicorn = uvicorn.Server(config)
    self._thread = None
    self._grpc = None
    self.grpc_port = None
    if grpc_port is not None:
      from aign_tf.serving import grpc_service  # pylint: disable=g-import-not-at-top
      self._grpc, self.grpc_port = grpc_service.start(self, host, grpc_port)

  @property
  def url(self):
    return f"http://{self.host}:{self.port}"

  def count(self, status):
    with self._lock:
      self.counts[status] = self.counts.get(status, 0) + 1

  # Admission and execution (shared by REST and gRPC) -----------------------------------------

  def admit(self):
    """Takes a request slot; False when all `num_request_threads + max_queued_requests`
    are taken. Give it back with `release`."""
    with self._lock:
      if self._admitted >= self.limits.num_request_threads + self.limits.max_queued_requests:
        return False
      self._admitted += 1
      return True

  def release(self):
    with self._lock:
      self._admitted -= 1
      trim = self._admitted == 0 and self._trim_when_idle
      if trim:
        self._trim_when_idle = False
    if trim:
      _MALLOC_TRIM(0)  # The last large request's neighbours have freed theirs too now.

  def submit(self, fn, *args):
    """Runs `fn(*args)` in the request thread pool; the slot taken by `admit` is given
    back when it finishes (not when a waiter gives up)."""
    def run():
      try:
        return fn(*args)
      finally:
        self.release()
    return self._pool.submit(run)

  def overloaded_error(self):
    return protocol.RequestError(
        503, f"server overloaded: {self.limits.num_request_threads} requests running and "
        f"{self.limits.max_queued_requests} queued (num_request_threads, "
        "max_queued_requests); retry later")

  def timeout_error(self):
    return protocol.RequestError(
        504, f"the request took longer than the limit of "
        f"{self.limits.request_timeout_seconds:g} s (request_timeout_seconds)")

  def run_signature(self, model, version, signature, arrays):
    """Checks the limits on validated inputs and runs the signature (batched if enabled)."""
    limits_lib.check_arrays(arrays, self.limits)
    if self.batcher is not None and arrays:
      return self.batcher.run((model.name, version.version, signature.name), signature,
                              arrays, timeout=self.limits.request_timeout_seconds)
    return signature(arrays)

  # REST requests ----------------------------------------------------------------------------

  def handle(self, method, path, read_body):
    """Returns (status, response object); never raises. `read_body()` returns the body."""
    try:
      route = protocol.parse_url(path, method)
      if route.kind != "predict":
        return 200, self.describe(route)
      return 200, self.predict_json(route, read_body())
    except protocol.RequestError as e:
      return e.status, {"error": e.message}
    except Exception as e:  # pylint: disable=broad-except
      return model_error(e, path)

  def describe(self, route):
    """The status or metadata answer of a GET route."""
    model = self.repository.model(route.name)
    if route.kind == "status":
      return model.status(route.version, route.label)
    version = model.resolve(route.version, route.label)
    return {"model_spec": {"name": model.name, "signature_name": "",
                           "version": str(version.version)},
            "metadata": {"signature_def": {"signature_def": version.signature_defs}}}

  def predict_json(self, route, body):
    """A `:predict` body -> the response object (raises RequestError)."""
    model = self.repository.model(route.name)
    version = model.resolve(route.version, route.label)
    signature_name, request_format, payload = protocol.parse_body(body)
    del body
    signature = version.signature(signature_name)
    limits_lib.check_payload(request_format, payload, self.limits)
    arrays = protocol.request_arrays(request_format, payload, signature.inputs)
    del payload
    outputs = self.run_signature(model, version, signature, arrays)
    limits_lib.check_response(outputs, self.limits, "json")
    return protocol.response(request_format, outputs)

  def _predict_bytes(self, path, body):
    status, obj = self.handle("POST", path, lambda: body)
    data = protocol.dumps(obj)
    del obj
    self.release_memory(len(body) + len(data))
    return status, data

  def release_memory(self, request_bytes):
    """After a large request, hands freed heap back to the system (`malloc_trim`), and
    again when the server next becomes idle (what concurrent requests freed since): glibc
    keeps what a thread's arena freed, so without it the RSS stays near its peak after a
    burst of large requests (see export/README.md, soak and fuzz)."""
    if self.trim_memory and request_bytes >= _TRIM_BYTES and _MALLOC_TRIM is not None:
      _MALLOC_TRIM(0)
      with self._lock:
        self._trim_when_idle = True

  # Life cycle -------------------------------------------------------------------------------

  def serve_forever(self):
    """Serves on this thread until `shutdown` (uvicorn's loop; signals are `serve`'s)."""
    self._uvicorn.run(sockets=[self._socket])

  def start(self):
    """Serves in a background thread; returns self once it accepts connections."""
    self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
    self._thread.start()
    while not self._uvicorn.started and self._thread.is_alive():
      self._thread.join(0.01)
    if not self._uvicorn.started:
      raise RuntimeError("the HTTP server did not start (see the log)")
    return self

  def shutdown(self, grace_seconds=None):
    """Stops accepting requests, lets requests in flight finish (at most
    `shutdown_grace_seconds`), then stops the batcher and the repository."""
    grace = self.limits.shutdown_grace_seconds if grace_seconds is None else grace_seconds
    stopped = self._grpc.stop(grace) if self._grpc is not None else None
    self._uvicorn.should_exit = True
    if self._thread is not None:
      self._thread.join(grace + 5)
    if stopped is not None:
      stopped.wait(grace + 5)
    self._pool.shutdown(wait=True)
    self._socket.close()
    if self.batcher is not None:
      self.batcher.stop()
    self.repository.stop()


def model_error(error, path):
  """(status, {"error": ...}) of an exception the model or the server raised."""
  # Imported lazily: the protocol layer stays TensorFlow-free.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if isinstance(error, (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError,
                        tf.errors.FailedPreconditionError)):
    message = _first_line(error.message if hasattr(error, "message") else str(error))
    return 400, {"error": f"the model rejected the input: {message}"}
  if isinstance(error, MemoryError):
    return 503, {"error": "out of memory running the request"}
  _log.exception("internal error on %s", str(path)[:200])
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


# The ASGI application --------------------------------------------------------------------------

class _Reply(Exception):
  """An answer decided before the request reached the model: status, message, and whether
  the connection must close (the body was not read)."""

  def __init__(self, status, message, close=True, headers=()):
    super().__init__(message)
    self.status, self.message, self.close, self.headers = status, message, close, headers


class _App:
  """The ASGI application: framing checks and limits on the loop, the rest in the pool."""

  def __init__(self, server):
    self.server = server

  async def __call__(self, scope, receive, send):
    if scope["type"] != "http":
      return
    try:
      status, body, close, headers = await self._answer(scope, receive)
    except _Reply as reply:
      status, close, headers = reply.status, reply.close, reply.headers
      body = protocol.dumps({"error": reply.message})
    except _Disconnected:
      return
    except Exception as e:  # pylint: disable=broad-except
      status, obj = model_error(e, scope.get("path", ""))
      body, close, headers = protocol.dumps(obj), True, ()
    self.server.count(status)
    head = [_JSON, (b"content-length", str(len(body)).encode())] + list(headers)
    if close:
      head.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})

  async def _answer(self, scope, receive):
    server, limits = self.server, self.server.limits
    method = scope["method"]
    path = scope["raw_path"].decode("latin-1")
    if scope["query_string"]:
      path += "?" + scope["query_string"].decode("latin-1")
    headers = scope["headers"]
    if sum(len(k) + len(v) + 4 for k, v in headers) + len(path) > limits.max_header_bytes:
      raise _Reply(431, f"request headers are over the limit of {limits.max_header_bytes} "
                   "bytes (max_header_bytes)")
    names = {k for k, _ in headers}
    if b"transfer-encoding" in names:
      raise _Reply(411, "chunked bodies are not supported: send Content-Length")
    length = next((int(v) for k, v in headers if k == b"content-length"), None)
    if method not in ("GET", "POST"):
      raise _Reply(405, f"method {method[:20]} is not allowed (use GET or POST)")
    if length is not None and length > limits.max_body_bytes:
      raise _Reply(413, f"request body of {length} bytes is over the limit of "
                   f"{limits.max_body_bytes} bytes (max_body_bytes)")
    if method == "GET" and length:
      raise _Reply(400, "a GET request must not have a body")
    try:
      route = protocol.parse_url(path, method)
      if route.kind != "predict":
        return 200, protocol.dumps(server.describe(route)), False, ()
    except protocol.RequestError as e:
      raise _Reply(e.status, e.message, close=bool(length)) from None
    if length is None:
      raise _Reply(411, "a predict request needs a Content-Length header")
    if not server.admit():
      error = server.overloaded_error()
      raise _Reply(error.status, error.message, headers=[(b"retry-after", b"1")])
    try:
      body = await _read_body(receive, length, limits.read_timeout_seconds)
    except BaseException:
      server.release()
      raise
    future = asyncio.wrap_future(server.submit(server._predict_bytes, path, body))  # pylint: disable=protected-access
    del body
    try:
      status, data = await asyncio.wait_for(asyncio.shield(future),
                                            limits.request_timeout_seconds)
    except asyncio.TimeoutError:
      error = server.timeout_error()
      raise _Reply(error.status, error.message, close=False) from None
    return status, data, False, ()


class _Disconnected(Exception):
  """The client went away before its request was complete: nothing to answer."""


async def _read_body(receive, length, timeout):
  """The request body (`length` bytes), read within `timeout` seconds."""
  loop = asyncio.get_running_loop()
  deadline = loop.time() + timeout
  parts, size = [], 0
  while True:
    remaining = deadline - loop.time()
    try:
      if remaining <= 0:
        raise asyncio.TimeoutError
      message = await asyncio.wait_for(receive(), remaining)
    except asyncio.TimeoutError:
      raise _Reply(408, f"the request body did not arrive within {timeout:g} s "
                   "(read_timeout_seconds)") from None
    if message["type"] == "http.disconnect":
      raise _Disconnected()
    chunk = message.get("body", b"")
    parts.append(chunk)
    size += len(chunk)
    if not message.get("more_body"):
      break
  if size != length:  # h11 enforces it; kept as a guard.
    raise _Reply(400, "request body shorter than its Content-Length")
  return b"".join(parts)


# The connection protocol: uvicorn's h11 protocol plus what it lacks -----------------------

class _OneWriteTransport:
  """A transport that joins the writes of one event-loop turn into one `write` (a
  response's head and body go out together), and closes lingering: it shuts its side,
  then reads and drops what the client still sends for up to `_LINGER_SECONDS`, so an
  error answer sent before the body was read is not destroyed by a TCP reset."""

  def __init__(self, transport, protocol_):
    self._transport = transport
    self._protocol = protocol_
    self._pending = []
    self._closing = False

  def write(self, data):
    if self._closing:
      return  # After an error answer: nothing more goes out.
    if not self._pending:
      self._protocol.loop.call_soon(self._flush)
    self._pending.append(bytes(data))

  def _flush(self):
    if self._pending and not self._transport.is_closing():
      self._transport.write(b"".join(self._pending))
    self._pending = []

  def is_closing(self):
    return self._closing or self._transport.is_closing()

  def close(self):
    if self._closing:
      return
    self._closing = True
    self._flush()
    transport = self._transport
    if transport.is_closing() or not transport.can_write_eof():
      transport.close()
      return
    try:
      transport.write_eof()
      transport.resume_reading()
    except (OSError, RuntimeError):
      transport.close()
      return
    self._protocol.loop.call_later(_LINGER_SECONDS, transport.close)

  def abort(self):
    self._closing = True
    self._transport.abort()

  def __getattr__(self, name):
    return getattr(self._transport, name)


def _protocol_class(server):
  """uvicorn's h11 protocol with JSON errors, deadlines, TCP_NODELAY and one write per
  response, bound to `server`'s limits."""
  limits = server.limits

  class Protocol(h11_impl.H11Protocol):
    """One HTTP/1.1 connection."""

    def connection_made(self, transport):
      sock = transport.get_extra_info("socket")
      if sock is not None:
        try:
          sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
          pass
      self._head_timer = None
      self._wrapped = _OneWriteTransport(transport, self)
      super().connection_made(self._wrapped)
      # A connection that never sends a byte is closed like an idle keep-alive one.
      self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                          self.timeout_keep_alive_handler)

    def data_received(self, data):
      if self._wrapped.is_closing():
        return  # Lingering close: drop what the client still sends.
      if self.conn.their_state is h11.IDLE and self._head_timer is None:
        self._arm_head_timer()
      super().data_received(data)
      if self.conn.their_state is not h11.IDLE:
        self._cancel_head_timer()

    def _arm_head_timer(self):
      # The head of a request has started: all of it must arrive within the deadline.
      self._head_timer = self.loop.call_later(limits.read_timeout_seconds,
                                              self._head_deadline)

    def _cancel_head_timer(self):
      if self._head_timer is not None:
        self._head_timer.cancel()
        self._head_timer = None

    def _head_deadline(self):
      self._head_timer = None
      if not self._wrapped.is_closing() and self.conn.their_state is h11.IDLE:
        self._error_and_close(408, "the request line and headers did not arrive within "
                              f"{limits.read_timeout_seconds:g} s (read_timeout_seconds)")

    def on_response_complete(self):
      self._cancel_head_timer()
      super().on_response_complete()
      if (self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]
          and not self._wrapped.is_closing()):
        self._arm_head_timer()  # Part of a pipelined request's head is already here.

    def eof_received(self):
      state = self.conn.their_state
      if state is h11.DONE and self.cycle is not None and not self.cycle.response_complete:
        self.cycle.keep_alive = False
        return True  # Half-closed after a whole request: answer it, then close.
      if state is h11.SEND_BODY or (state is h11.IDLE and self.conn.trailing_data[0]):
        self._error_and_close(400, "the connection was closed before the request was "
                              "complete")
        return True
      return None

    def send_400_response(self, msg):
      # Called from uvicorn's `except h11.RemoteProtocolError` block: the error says what.
      error = sys.exc_info()[1]
      status = getattr(error, "error_status_hint", 400)
      detail = str(error) if error is not None else msg
      if status == 431:
        detail = (f"request line and headers are over the limit of "
                  f"{limits.max_header_bytes} bytes (max_header_bytes)")
      self._error_and_close(status, f"malformed HTTP request: {detail}"[:300])

    def _error_and_close(self, status, message):
      self._cancel_head_timer()
      server.count(status)
      if self.cycle is not None and not self.cycle.response_started \
          and not self.cycle.response_complete:
        self.cycle.disconnected = True  # The application's answer is dropped.
        self.cycle.message_event.set()
      started = self.cycle is not None and self.cycle.response_started \
          and not self.cycle.response_complete
      if not started:
        body = protocol.dumps({"error": message})
        phrase = http.HTTPStatus(status).phrase
        self._wrapped.write(
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body)
      self._wrapped.close()

    def shutdown(self):
      if self.cycle is None or self.cycle.response_complete:
        self._wrapped.close()
      else:
        self.cycle.keep_alive = False

    def timeout_keep_alive_handler(self):
      self._wrapped.close()

  return Protocol


def serve(repository, host="127.0.0.1", port=8501, max_body_bytes=None,
          timeout_seconds=None, batcher=None, ready=None, limits=None, grpc_port=None,
          trim_memory=True):
  """Starts the repository and serves until SIGTERM or SIGINT (the `tools/serve.py` loop),
  then shuts down gracefully: requests in flight finish first."""
  repository.start()
  server = ModelServer(repository, host, port, max_body_bytes, timeout_seconds, batcher,
                       limits, grpc_port, trim_memory)
  stop = threading.Event()
  previous = {sig: signal.signal(sig, lambda *_: stop.set())
              for sig in (signal.SIGTERM, signal.SIGINT)}
  try:
    server.start()
    _log.info("serving %s on %s%s", ", ".join(repository.names()) or "no models",
              server.url, f" and gRPC port {server.grpc_port}" if server.grpc_port else "")
    if ready is not None:
      ready(server)
    while not stop.wait(0.5):
      if not server._thread.is_alive():  # pylint: disable=protected-access
        break
    _log.info("shutting down: letting requests in flight finish")
  finally:
    server.shutdown()
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  return server
