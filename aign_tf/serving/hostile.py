"""Hostile inputs for tests and the soak/fuzz benchmark (issue 15): decompression-bomb
PNGs, batches of tiny PNGs, raw HTTP exchanges (desync headers, slow clients).

Nothing here is used by the server itself.
"""

import base64
import json
import socket
import struct
import time
import zlib


def _chunk(kind, data):
  return (struct.pack(">I", len(data)) + kind + data
          + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def bomb_png(side=16384):
  """A valid 1-bit grey PNG of `side` x `side` black pixels: ~32 KB for 16384 that decodes
  to 268 million pixels (~800 MB once decoded to RGB)."""
  row = b"\x00" + bytes((side + 7) // 8)  # Filter byte + packed bits.
  compressor = zlib.compressobj(9)
  parts = [compressor.compress(row * 256) for _ in range(side // 256)]
  parts.append(compressor.compress(row * (side % 256)))
  parts.append(compressor.flush())
  header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
  return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts))
          + _chunk(b"IEND", b""))


def tiny_png_batch_body(png, count, signature="serving_bytes", input_name=None):
  """A `:predict` body carrying `count` copies of one encoded image (row format)."""
  item = {"b64": base64.b64encode(png).decode("ascii")}
  if input_name:
    item = {input_name: item}
  return json.dumps({"signature_name": signature, "instances": [item] * count}).encode()


def exchange(host, port, data, wait=5.0):
  """Sends raw bytes, reads until the server closes (or `wait` s pass); returns
  (statuses of every response seen, raw bytes)."""
  sock = socket.create_connection((host, port), timeout=wait)
  received = b""
  try:
    sock.sendall(data)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
      try:
        chunk = sock.recv(65536)
      except socket.timeout:
        break
      if not chunk:
        break
      received += chunk
  except (ConnectionResetError, BrokenPipeError):
    pass
  finally:
    sock.close()
  return [status for status, _, _ in responses(received)], received


def responses(raw):
  """(status, headers, body) of each response in `raw`, framed by Content-Length."""
  found = []
  while raw.startswith(b"HTTP/1.") and b"\r\n\r\n" in raw:
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = lines[0].split()
    headers = {}
    for line in lines[1:]:
      name, _, value = line.partition(b":")
      headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    length = int(headers.get("content-length", "0"))
    found.append((int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None,
                  headers, rest[:length]))
    raw = rest[length:]
  return found


def json_bodies(raw):
  """The JSON bodies of the responses in `raw` (None for an empty body)."""
  return [json.loads(body) if body else None for _, _, body in responses(raw)]


def slow_client(host, port, data, seconds_per_byte=1.0, limit=60.0):
  """Trickles `data` one byte at a time; returns (seconds until the server answered or
  closed, the answer bytes), or (None, b"") if it never did within `limit`."""
  sock = socket.create_connection((host, port), timeout=limit)
  start = time.monotonic()
  try:
    for byte in data:
      sock.sendall(bytes([byte]))
      sock.settimeout(seconds_per_byte)
      try:
        answer = sock.recv(65536)
        return time.monotonic() - start, answer
      except socket.timeout:
        pass
      if time.monotonic() - start > limit:
        break
  except (ConnectionResetError, BrokenPipeError):
    return time.monotonic() - start, b""
  finally:
    sock.close()
  return None, b""
