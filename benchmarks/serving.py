"""Serving latency and throughput (REST and gRPC vs in-process calls), then a soak and fuzz
run watching the server's memory (issue 15).

Exports a model, starts `tools/serve.py` on free 127.0.0.1 ports in its own process, and at
1, 4, 16 and 64 concurrent clients (threads, one keep-alive connection or gRPC channel each)
measures p50 / p99 latency and requests/s of `:predict` requests with one example each, over
REST and over gRPC (PredictionService/Predict with `tf.make_tensor_proto` inputs); then the
same signature called directly in this process (tf.saved_model.load) at the same
concurrency. The difference at one client is what the server adds (JSON or protobuf, HTTP/2
or HTTP/1.1, base64, threads).

The fuzz run (`--fuzz_seconds`, 0 to skip) sends issue 15's attacks for that long from 4
threads, next to valid requests: malformed and conflicting headers, GET with a body, batches
of thousands of tiny PNGs, batches at the limit, a decompression-bomb PNG (over REST and
gRPC), empty and boolean inputs, and 60 slow clients trickling a byte every 0.5 s. It prints
the server's RSS before, the peak during, and after (once the slow clients are cut off), the
after/before ratio (the target is within 10%), and the answers per attack. The fp32 matmul
peak of the run is printed too: timings on these machines vary up to 3x between days, so
compare ratios within one run.

The model: --model_dir (a trained run, exported to a temporary folder), else faces_sr with
its default gin config trained for one step (the real network; weights do not change the
cost), else --fake (a two-layer conv net on 32x32 images) when faces_sr cannot be built.
Image models are sent one PNG ({"b64": ...}) through `serving_png` (the model returns its
uint8 pictures as PNGs, base64 in the response) or `serving_bytes` (every output as JSON
numbers); other models their serving_default inputs as JSON numbers. `--signatures` picks
them ("auto": serving_png if the model has it, else serving_bytes, else serving_default);
several are measured one after the other against the same server and printed as one table
each.

Usage:
  python benchmarks/serving.py [--model_dir=runs/faces_sr] [--seconds=5]
      [--signatures=serving_png,serving_bytes] [--concurrency=1,4,16,64] [--enable_batching]
      [--nogrpc] [--fuzz_seconds=20] [--output_json=...]

Timings on this shared 2-core CPU vary by up to 3x between runs: compare numbers taken in
the same run.
"""

import base64
import collections
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from absl import app
from absl import flags

from aign_tf.core import machine

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

flags.DEFINE_string("model_dir", None, "A trained run to export (default: faces_sr, 1 step).")
flags.DEFINE_string("gin_file", "gin/faces_sr.gin", "Task to train one step when no "
                    "--model_dir is given.")
flags.DEFINE_bool("fake", False, "Use the fake 32x32 image model (no training).")
flags.DEFINE_bool("toy", False, "Use an untrained toy model (4 floats in, 12 out): the "
                  "server's fixed cost, with almost nothing to encode.")
flags.DEFINE_list("signatures", ["auto"], "Signatures to measure: auto, serving_png, "
                  "serving_bytes, serving_default.")
flags.DEFINE_list("concurrency", ["1", "4", "16", "64"], "Concurrent clients.")
flags.DEFINE_bool("grpc", True, "Also measure gRPC Predict.")
flags.DEFINE_float("fuzz_seconds", 20.0, "Length of the soak and fuzz run (0: none).")
flags.DEFINE_bool("malloc_trim", True, "Passed to tools/serve.py (--nomalloc_trim shows "
                  "what the RSS does without it).")
flags.DEFINE_integer("malloc_arena_max", 2, "Passed to tools/serve.py (0: glibc's default).")
flags.DEFINE_float("seconds", 5.0, "Measured seconds per setting (after a warm-up).")
flags.DEFINE_bool("enable_batching", False, "Run the server with server-side batching.")
flags.DEFINE_string("output_json", None, "Also write the results here.")
FLAGS = flags.FLAGS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def prepare_model(scratch):
  """Exports the benchmarked model; returns (model name, export base, task name)."""
  from aign_tf.serving import export  # pylint: disable=g-import-not-at-top
  export_base = os.path.join(scratch, "export")
  if FLAGS.toy:
    from aign_tf.serving import testing  # pylint: disable=g-import-not-at-top
    testing.export_fake("toy", os.path.join(export_base, "toy", "1"))
    export.update_models_config(export_base)
    return "toy", export_base, "toy"
  if not FLAGS.fake:
    model_dir = FLAGS.model_dir
    try:
      if model_dir is None:
        from aign_tf import config  # pylint: disable=g-import-not-at-top
        from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top
        model_dir = os.path.join(scratch, "run")
        config.parse([FLAGS.gin_file], ["train_steps = 1", "train.eval_every = 0",
                                         "train.checkpoint_every = 1"])
        trainer.train(model_dir)
      info = export.export(model_dir, export_base)
      return info["name"], export_base, info["task"]
    except Exception as e:  # pylint: disable=broad-except
      print(f"could not build {FLAGS.model_dir or FLAGS.gin_file} ({type(e).__name__}: {e}); "
            "using the fake image model", file=sys.stderr)
  from aign_tf.serving import testing  # pylint: disable=g-import-not-at-top
  task = testing.ImageTask(size=32)
  export.save(task, task.generator(filters=32), os.path.join(export_base, "fake_image", "1"))
  export.update_models_config(export_base)
  return "fake_image", export_base, task.name


def pick_signature(signatures, wanted):
  """`wanted`, or for "auto" the cheapest-to-serve signature the model has."""
  if wanted == "auto":
    return next(n for n in ("serving_png", "serving_bytes", "serving_default")
                if n in signatures)
  if wanted not in signatures:
    raise ValueError(f"the model has no signature {wanted!r} (it has {sorted(signatures)})")
  return wanted


def make_request(loaded, signature):
  """(request body, in-process kwargs) of one example for `signature`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import testing  # pylint: disable=g-import-not-at-top
  signatures = loaded.signatures
  specs = signatures["serving_default"].structured_input_signature[1]
  arrays = testing.random_inputs(specs, batch_size=1)
  if signature in ("serving_bytes", "serving_png"):
    byte_specs = signatures[signature].structured_input_signature[1]
    instance, kwargs = {}, {}
    for name, spec in byte_specs.items():
      if spec.dtype == tf.string:
        png = testing.encode_png(arrays[name][0])
        instance[name] = {"b64": base64.b64encode(png).decode("ascii")}
        kwargs[name] = tf.constant([png])
      else:
        instance[name] = arrays[name][0].tolist()
        kwargs[name] = tf.constant(arrays[name])
    body = {"signature_name": signature, "instances": [instance]}
    return json.dumps(body).encode(), kwargs
  body = {"instances": [{k: v[0].tolist() for k, v in arrays.items()}]}
  return json.dumps(body).encode(), {k: tf.constant(v) for k, v in arrays.items()}


def measure(call, clients, seconds):
  """Runs `call()` in `clients` threads for `seconds` (after each thread's warm-up call, so
  slow first calls do not eat the window); returns latencies (s) and rate."""
  latencies = [[] for _ in range(clients)]
  stop = threading.Event()
  ready = threading.Barrier(clients + 1)
  errors = []

  def worker(i):
    try:
      state = {}
      call(state)  # Warm-up (and connection set-up).
    except Exception as e:  # pylint: disable=broad-except
      errors.append(e)
    ready.wait()
    try:
      while not stop.is_set() and not errors:
        start = time.perf_counter()
        call(state)
        latencies[i].append(time.perf_counter() - start)
    except Exception as e:  # pylint: disable=broad-except
      errors.append(e)

  threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
  for t in threads:
    t.start()
  ready.wait()
  time.sleep(seconds)
  stop.set()
  for t in threads:
    t.join()
  if errors:
    raise errors[0]
  import numpy as np  # pylint: disable=g-import-not-at-top
  flat = np.concatenate([np.asarray(l) for l in latencies])
  return {"p50_ms": 1e3 * float(np.percentile(flat, 50)),
          "p99_ms": 1e3 * float(np.percentile(flat, 99)),
          "requests_per_s": len(flat) / seconds, "requests": len(flat)}


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  scratch = tempfile.mkdtemp(prefix="serving_benchmark-")
  name, export_base, task_name = prepare_model(scratch)
  version_dir = os.path.join(export_base, name, "1")
  loaded = tf.saved_model.load(version_dir)
  signatures = []
  for wanted in FLAGS.signatures:
    signature = pick_signature(loaded.signatures, wanted)
    if signature not in signatures:
      signatures.append(signature)

  peak = machine.matmul_peak_gflops()
  command = [sys.executable, os.path.join(REPO, "tools", "serve.py"),
             f"--model_config_file={export_base}/models.config", "--rest_api_port=0",
             "--port=0", "--file_system_poll_wait_seconds=0",
             f"--{'' if FLAGS.malloc_trim else 'no'}malloc_trim",
             f"--malloc_arena_max={FLAGS.malloc_arena_max}"]
  if FLAGS.enable_batching:
    command.append("--enable_batching")
  server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  try:
    line = server.stdout.readline()
    if " at http://" not in line:
      raise RuntimeError(f"server did not start: {line!r}")
    host, port = line.strip().rsplit("//", 1)[1].split(":")
    port = int(port)
    grpc_port = int(server.stdout.readline().strip().rsplit(":", 1)[1])
    path = f"/v1/models/{name}:predict"

    results = {}
    for signature in signatures:
      body, kwargs = make_request(loaded, signature)
      fn = loaded.signatures[signature]

      def http_call(state, body=body):
        if "connection" not in state:
          state["connection"] = http.client.HTTPConnection(host, port, timeout=120)
        connection = state["connection"]
        connection.request("POST", path, body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
          raise RuntimeError(f"HTTP {response.status}: {data[:300]!r}")
        state["response_bytes"] = len(data)

      grpc_call = make_grpc_call(host, grpc_port, name, signature, kwargs)

      def direct_call(state, fn=fn, kwargs=kwargs):
        del state
        outputs = fn(**kwargs)
        for value in outputs.values():
          value.numpy()

      rows = []
      for clients in [int(c) for c in FLAGS.concurrency]:
        row = {"clients": clients, "in_process": measure(direct_call, clients, FLAGS.seconds),
               "server": measure(http_call, clients, FLAGS.seconds)}
        if FLAGS.grpc:
          row["grpc"] = measure(grpc_call, clients, FLAGS.seconds)
        rows.append(row)
      probe = {}
      http_call(probe)
      results[signature] = {"rows": rows, "response_bytes": probe["response_bytes"]}
    fuzz = None
    if FLAGS.fuzz_seconds > 0:
      fuzz = soak_and_fuzz(server.pid, host, port, grpc_port, name, loaded, signatures[0],
                           FLAGS.fuzz_seconds)
  finally:
    server.terminate()
    server.wait(timeout=60)
    shutil.rmtree(scratch, ignore_errors=True)

  print(f"TF {tf.__version__}, {os.cpu_count()} CPUs, fp32 matmul peak {peak:.0f} GFLOP/s "
        f"this run")
  for signature, result in results.items():
    print(f"model {name} (task {task_name}), signature {signature}, one example per "
          f"request ({result['response_bytes']} response bytes over REST), batching "
          f"{'on' if FLAGS.enable_batching else 'off'}")
    print("| clients | in-process p50 / p99 ms, req/s | REST p50 / p99 ms, req/s "
          "| gRPC p50 / p99 ms, req/s | REST / in-process p50 | gRPC / in-process p50 |")
    print("|---|---|---|---|---|---|")
    for row in result["rows"]:
      d, s, g = row["in_process"], row["server"], row.get("grpc")
      cells = [f"{x['p50_ms']:.2f} / {x['p99_ms']:.2f}, {x['requests_per_s']:.0f}"
               if x else "-" for x in (d, s, g)]
      ratios = [f"{x['p50_ms'] / d['p50_ms']:.2f}" if x else "-" for x in (s, g)]
      print(f"| {row['clients']} | " + " | ".join(cells + ratios) + " |")
    print()
  if fuzz:
    print_fuzz(fuzz)
  if FLAGS.output_json:
    with open(FLAGS.output_json, "w") as f:
      json.dump({"model": name, "task": task_name, "batching": FLAGS.enable_batching,
                 "matmul_peak_gflops": peak, "signatures": results, "fuzz": fuzz}, f,
                indent=2)



def make_grpc_call(host, grpc_port, name, signature, kwargs):
  """A `call(state)` sending one PredictRequest like a TF Serving client."""
  import grpc  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
  request = predict_pb2.PredictRequest()
  request.model_spec.name = name
  request.model_spec.signature_name = signature
  for key, value in kwargs.items():
    request.inputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))

  def call(state):
    if "stub" not in state:
      state["channel"] = grpc.insecure_channel(f"{host}:{grpc_port}")
      state["stub"] = prediction_service_pb2_grpc.PredictionServiceStub(state["channel"])
    state["stub"].Predict(request, timeout=120)
  return call


# Soak and fuzz ---------------------------------------------------------------------------------

def rss_mb(pid):
  with open(f"/proc/{pid}/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) / 1024.0
  return 0.0


def attacks(host, port, grpc_port, name, loaded, signature):
  """name -> fn() returning an outcome label (a status, or a gRPC code name)."""
  import grpc  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import hostile  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import testing  # pylint: disable=g-import-not-at-top
  path = f"/v1/models/{name}:predict"
  specs = loaded.signatures[signature].structured_input_signature[1]
  image_input = next((n for n, s in specs.items() if s.dtype == tf.string), None)
  valid_body, _ = make_request(loaded, signature)
  tiny = testing.encode_png([[[i * 30 % 256, 7, 200]] * 8 for i in range(8)])
  bomb = hostile.bomb_png()
  toy_like = json.dumps({"instances": [[True, 0.5, 0.5, 0.5]]}).encode()
  channel = grpc.insecure_channel(f"{host}:{grpc_port}")
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

  def post(body, headers=b""):
    data = (b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d"
            b"\r\n%s\r\n" % (path.encode(), len(body), headers) + body)
    statuses, _ = hostile.exchange(host, port, data, wait=30)
    return statuses[0] if len(statuses) == 1 else f"{len(statuses)} responses"

  def raw(data):
    statuses, _ = hostile.exchange(host, port, data, wait=30)
    return statuses[0] if len(statuses) == 1 else f"{len(statuses)} responses"

  def desync():
    smuggled = b"GET /v1/models/%s HTTP/1.1\r\nHost: x\r\n\r\n" % name.encode()
    head = b"POST %s HTTP/1.1\r\nHost: x\r\n" % path.encode()
    return raw(random.choice([
        head + b"Content-Length: 2\r\nContent-Length: %d\r\n\r\n{}" % (2 + len(smuggled))
        + smuggled,
        head + b"Content-Length: +66\r\n\r\n" + b"{}" * 33,
        head + b"Content-Length: 1_2_3\r\n\r\n{}",
        head + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        + smuggled,
        b"GET /v1/models/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
        % (name.encode(), len(smuggled)) + smuggled,
        head + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n"]))

  def batch_body(signature_name):
    instances = json.loads(valid_body)["instances"] * 256
    return json.dumps({"signature_name": signature_name, "instances": instances}).encode()

  def grpc_predict(values):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    request.inputs[image_input].CopyFrom(tf.make_tensor_proto(values, dtype=tf.string))
    try:
      stub.Predict(request, timeout=60)
      return "OK"
    except grpc.RpcError as e:
      return e.code().name

  table = {
      "desync_headers": desync,
      "valid": lambda: post(valid_body),
      "boolean_inputs": lambda: post(toy_like),
  }
  if image_input:
    table.update({
        "12000_tiny_pngs": lambda: post(hostile.tiny_png_batch_body(tiny, 12000, signature)),
        "256_tiny_pngs": lambda: post(hostile.tiny_png_batch_body(tiny, 256, signature)),
        f"256_images_{signature}": lambda: post(batch_body(signature)),
        "256_images_serving_bytes": lambda: post(batch_body("serving_bytes")),
        "bomb_png": lambda: post(json.dumps({"signature_name": signature, "instances": [
            {"b64": base64.b64encode(bomb).decode()}]}).encode()),
        "empty_strings": lambda: post(json.dumps({"signature_name": signature,
                                                  "inputs": {image_input: []}}).encode()),
        "grpc_bomb_png": lambda: grpc_predict([bomb]),
        "grpc_12000_tiny_pngs": lambda: grpc_predict([tiny] * 12000),
    })
  return table


def slow_clients(host, port, count, stop):
  """`count` connections trickling a request head a byte every 0.5 s (reopened when the
  server cuts them) until `stop`; returns how many the server cut."""
  data = b"POST /v1/models/x:predict HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000
  socks = [None] * count
  offsets = [0] * count
  cut = 0
  while not stop.is_set():
    for i in range(count):
      if socks[i] is None:
        socks[i] = socket.create_connection((host, port), timeout=5)
        socks[i].setblocking(False)
        offsets[i] = 0
      try:
        socks[i].send(data[offsets[i]:offsets[i] + 1])
        offsets[i] += 1
        if socks[i].recv(65536, socket.MSG_PEEK):
          raise ConnectionError
      except BlockingIOError:
        pass
      except OSError:
        cut += 1
        socks[i].close()
        socks[i] = None
    stop.wait(0.5)
  for sock in socks:
    if sock is not None:
      sock.close()
  return cut


def soak_and_fuzz(pid, host, port, grpc_port, name, loaded, signature, seconds):
  """Runs the attacks for `seconds` (4 threads + slow clients); returns RSS and outcomes."""
  table = attacks(host, port, grpc_port, name, loaded, signature)
  outcomes = collections.defaultdict(collections.Counter)
  cold = rss_mb(pid)
  # Warm-up: each attack once, so one-time costs (TensorFlow's kernels and oneDNN's
  # primitive cache for the new batch shapes) are in the baseline, not counted as growth.
  for attack in sorted(table):
    table[attack]()
  time.sleep(2.0)
  before = rss_mb(pid)
  samples = [before]
  stop = threading.Event()
  lock = threading.Lock()

  def sampler():
    while not stop.wait(0.2):
      samples.append(rss_mb(pid))

  def worker(seed):
    rng = random.Random(seed)
    names = sorted(table)
    while not stop.is_set():
      attack = rng.choice(names)
      try:
        outcome = table[attack]()
      except Exception as e:  # pylint: disable=broad-except
        outcome = type(e).__name__
      with lock:
        outcomes[attack][str(outcome)] += 1

  slow_result = []
  threads = [threading.Thread(target=sampler)]
  threads += [threading.Thread(target=worker, args=(i,)) for i in range(4)]
  threads.append(threading.Thread(
      target=lambda: slow_result.append(slow_clients(host, port, 60, stop))))
  for t in threads:
    t.start()
  time.sleep(seconds)
  stop.set()
  for t in threads:
    t.join()
  time.sleep(3.0)  # Lingering closes and the last answers.
  after = rss_mb(pid)
  return {"seconds": seconds, "rss_cold_mb": cold, "rss_before_mb": before, "rss_peak_mb": max(samples),
          "rss_after_mb": after, "after_over_before": after / before,
          "slow_clients_cut": slow_result[0] if slow_result else 0,
          "outcomes": {k: dict(v) for k, v in outcomes.items()}}


def print_fuzz(fuzz):
  print(f"soak and fuzz, {fuzz['seconds']:.0f} s: server RSS {fuzz['rss_cold_mb']:.0f} MB "
        f"before the warm-up (one of each attack), before {fuzz['rss_before_mb']:.0f}"
        f" MB, peak {fuzz['rss_peak_mb']:.0f} MB, after {fuzz['rss_after_mb']:.0f} MB "
        f"(after / before {fuzz['after_over_before']:.3f}); slow clients cut: "
        f"{fuzz['slow_clients_cut']}")
  print("| attack | answers |")
  print("|---|---|")
  for attack, counts in sorted(fuzz["outcomes"].items()):
    print(f"| {attack} | " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + " |")


if __name__ == "__main__":
  app.run(main)
