"""Which maintained HTTP stack the local server runs on: robustness probes and latency.

Starts the same minimal JSON endpoint (read the body, parse it, answer a small JSON object:
the HTTP work of a `:predict` without a model) on each candidate stack in its own process,
each with its default settings, and measures:

- desync probes (issue 15): two conflicting Content-Length headers, `Content-Length: +66`,
  `Content-Length: 1_2_3`, Transfer-Encoding together with Content-Length, and a GET whose
  body holds a second request; each prints how many responses came back (1 or a 400 is
  right, 2 means the body was run as a second request);
- a slow client trickling its headers one byte a second: seconds until the stack cuts it
  (or "not cut" after --slow_seconds);
- latency p50 / p99 and requests/s of keep-alive POSTs at 1 and 16 clients.

Usage:
  python benchmarks/http_stacks.py [--stacks=uvicorn_h11,hypercorn,aiohttp] [--seconds=3]
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time

from absl import app
from absl import flags

flags.DEFINE_list("stacks", ["uvicorn_h11", "uvicorn_h11_nodelay", "hypercorn", "aiohttp"], "Stacks to compare.")
flags.DEFINE_float("seconds", 3.0, "Measured seconds per latency setting.")
flags.DEFINE_float("slow_seconds", 20.0, "How long the slow client trickles at most.")
flags.DEFINE_string("serve", None, "Internal: run this stack's server and print its port.")
FLAGS = flags.FLAGS

BODY = json.dumps({"instances": [[0.5, 1.0, 2.0, 3.0]]}).encode()
ANSWER = json.dumps({"predictions": [[1.0] * 12]}).encode()


# The servers ---------------------------------------------------------------------------------

async def asgi_app(scope, receive, send):
  if scope["type"] != "http":
    return
  body = b""
  while True:
    message = await receive()
    body += message.get("body", b"")
    if not message.get("more_body"):
      break
  status = 200
  try:
    json.loads(body or b"{}")
  except ValueError:
    status = 400
  await send({"type": "http.response.start", "status": status,
              "headers": [(b"content-type", b"application/json"),
                          (b"content-length", str(len(ANSWER)).encode())]})
  await send({"type": "http.response.body", "body": ANSWER})


def serve(stack):
  sock = socket.socket()
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  sock.bind(("127.0.0.1", 0))
  sock.listen(128)  # Connections wait in the backlog until the stack's loop accepts them.
  print(sock.getsockname()[1], flush=True)
  if stack in ("uvicorn_h11", "uvicorn_h11_nodelay"):
    import uvicorn  # pylint: disable=g-import-not-at-top
    from uvicorn.protocols.http import h11_impl  # pylint: disable=g-import-not-at-top

    class NoDelay(h11_impl.H11Protocol):
      # uvicorn writes the head and the body of a response separately: without
      # TCP_NODELAY the second write waits for the client's delayed ACK (~40 ms).
      def connection_made(self, transport):
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP,
                                                      socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    protocol = NoDelay if stack.endswith("nodelay") else "h11"
    config = uvicorn.Config(asgi_app, http=protocol, log_level="critical", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
  elif stack == "hypercorn":
    import hypercorn.asyncio  # pylint: disable=g-import-not-at-top
    import hypercorn.config  # pylint: disable=g-import-not-at-top
    config = hypercorn.config.Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.loglevel = "CRITICAL"
    asyncio.run(hypercorn.asyncio.serve(asgi_app, config))
  elif stack == "aiohttp":
    from aiohttp import web  # pylint: disable=g-import-not-at-top

    async def handle(request):
      body = await request.read()
      try:
        json.loads(body or b"{}")
      except ValueError:
        return web.Response(status=400, body=ANSWER, content_type="application/json")
      return web.Response(body=ANSWER, content_type="application/json")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", handle)
    web.run_app(application, sock=sock, print=None, access_log=None)
  else:
    raise ValueError(f"unknown stack {stack!r}")


# The probes ---------------------------------------------------------------------------------

def responses(port, data, wait=2.0):
  """Status codes of every response the server sends for `data` within `wait` seconds."""
  sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
  sock.sendall(data)
  received = b""
  deadline = time.monotonic() + wait
  try:
    while time.monotonic() < deadline:
      chunk = sock.recv(65536)
      if not chunk:
        break
      received += chunk
  except (socket.timeout, ConnectionResetError):
    pass
  finally:
    sock.close()
  return [int(line.split()[1]) for line in received.split(b"\r\n")
          if line.startswith(b"HTTP/1.") and len(line.split()) > 1]


def probes(port):
  smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
  body = BODY + smuggled
  head = b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\n"
  return {
      "conflicting Content-Length": responses(port, head + b"Content-Length: %d\r\n"
                                              b"Content-Length: %d\r\n\r\n"
                                              % (len(BODY), len(body)) + body),
      "Content-Length: +66": responses(port, head + b"Content-Length: +%d\r\n\r\n"
                                       % len(BODY) + BODY),
      "Content-Length: 1_2_3": responses(port, head + b"Content-Length: 1_2\r\n\r\n"
                                         + BODY),
      "Transfer-Encoding + Content-Length": responses(
          port, head + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
          % len(body) + b"0\r\n\r\n" + smuggled),
      "GET with a body": responses(port, b"GET /v1/models/toy HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: %d\r\n\r\n" % len(smuggled)
                                   + smuggled),
      "100 KB header": responses(port, head + b"X-Big: " + b"a" * 100_000
                                 + b"\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY),
  }


def slow_client(port, limit):
  """Seconds until the server closes a connection trickling headers at 1 byte/s."""
  sock = socket.create_connection(("127.0.0.1", port), timeout=limit + 5)
  start = time.monotonic()
  data = b"POST /v1/models/toy:predict HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
  try:
    for byte in data:
      if time.monotonic() - start > limit:
        return None
      sock.sendall(bytes([byte]))
      sock.settimeout(1.0)
      try:
        if sock.recv(65536) == b"":
          return time.monotonic() - start
      except socket.timeout:
        pass
      except ConnectionResetError:
        return time.monotonic() - start
  except (BrokenPipeError, ConnectionResetError):
    return time.monotonic() - start
  finally:
    sock.close()
  return None


def latency(port, clients, seconds):
  import http.client  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  stop = threading.Event()
  times = [[] for _ in range(clients)]

  def worker(i):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
      start = time.perf_counter()
      connection.request("POST", "/v1/models/toy:predict", body=BODY,
                         headers={"Content-Type": "application/json"})
      response = connection.getresponse()
      response.read()
      times[i].append(time.perf_counter() - start)
    connection.close()

  threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
  for t in threads:
    t.start()
  time.sleep(seconds)
  stop.set()
  for t in threads:
    t.join()
  flat = np.concatenate([np.asarray(t) for t in times])
  return (1e3 * np.percentile(flat, 50), 1e3 * np.percentile(flat, 99), len(flat) / seconds)


def compare():
  import importlib.metadata  # pylint: disable=g-import-not-at-top
  rows = []
  for stack in FLAGS.stacks:
    process = subprocess.Popen([sys.executable, __file__, f"--serve={stack}"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
      port = int(process.stdout.readline())
      time.sleep(1.0)
      found = probes(port)
      cut = slow_client(port, FLAGS.slow_seconds)
      lat = {c: latency(port, c, FLAGS.seconds) for c in (1, 16)}
      rows.append((stack, found, cut, lat))
    finally:
      process.terminate()
      process.wait(timeout=30)
  versions = {n: importlib.metadata.version(n) for n in ("uvicorn", "h11", "hypercorn",
                                                         "aiohttp")}
  print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
  names = list(rows[0][1])
  print("| probe | " + " | ".join(r[0] for r in rows) + " |")
  print("|---|" + "---|" * len(rows))
  for name in names:
    print(f"| {name} (statuses) | " + " | ".join(str(r[1][name]) for r in rows) + " |")
  print("| slow headers, 1 byte/s: cut after s | " + " | ".join(
      "not cut" if r[2] is None else f"{r[2]:.1f}" for r in rows) + " |")
  for clients in (1, 16):
    print(f"| {clients} client(s): p50 / p99 ms, req/s | " + " | ".join(
        "{:.2f} / {:.2f}, {:.0f}".format(*r[3][clients]) for r in rows) + " |")


def main(argv):
  del argv
  if FLAGS.serve:
    serve(FLAGS.serve)
  else:
    compare()


if __name__ == "__main__":
  app.run(main)
