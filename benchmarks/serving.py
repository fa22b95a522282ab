"""Serving latency and throughput: the REST server (tools/serve.py) vs in-process calls.

Exports a model, starts `tools/serve.py` on a free 127.0.0.1 port in its own process, and at
1, 4 and 16 concurrent clients (threads, one keep-alive connection each) measures p50 / p99
latency and requests/s of `:predict` requests with one example each; then the same signature
called directly in this process (tf.saved_model.load) at the same concurrency. The
difference at one client is what the server adds (JSON, HTTP, base64, threads).

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
      [--signatures=serving_png,serving_bytes] [--concurrency=1,4,16] [--enable_batching]
      [--output_json=...]

Timings on this shared 2-core CPU vary by up to 3x between runs: compare numbers taken in
the same run.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

flags.DEFINE_string("model_dir", None, "A trained run to export (default: faces_sr, 1 step).")
flags.DEFINE_string("gin_file", "gin/faces_sr.gin", "Task to train one step when no "
                    "--model_dir is given.")
flags.DEFINE_bool("fake", False, "Use the fake 32x32 image model (no training).")
flags.DEFINE_bool("toy", False, "Use an untrained toy model (4 floats in, 12 out): the "
                  "server's fixed cost, with almost nothing to encode.")
flags.DEFINE_list("signatures", ["auto"], "Signatures to measure: auto, serving_png, "
                  "serving_bytes, serving_default.")
flags.DEFINE_list("concurrency", ["1", "4", "16"], "Concurrent clients.")
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
  """Runs `call()` in `clients` threads for `seconds`; returns latencies (s) and rate."""
  latencies = [[] for _ in range(clients)]
  stop = threading.Event()
  errors = []

  def worker(i):
    try:
      state = {}
      call(state)  # Warm-up (and connection set-up).
      while not stop.is_set():
        start = time.perf_counter()
        call(state)
        latencies[i].append(time.perf_counter() - start)
    except Exception as e:  # pylint: disable=broad-except
      errors.append(e)

  threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
  for t in threads:
    t.start()
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

  command = [sys.executable, os.path.join(REPO, "tools", "serve.py"),
             f"--model_config_file={export_base}/models.config", "--rest_api_port=0",
             "--file_system_poll_wait_seconds=0"]
  if FLAGS.enable_batching:
    command.append("--enable_batching")
  server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  try:
    line = server.stdout.readline()
    if " at http://" not in line:
      raise RuntimeError(f"server did not start: {line!r}")
    host, port = line.strip().rsplit("//", 1)[1].split(":")
    path = f"/v1/models/{name}:predict"

    results = {}
    for signature in signatures:
      body, kwargs = make_request(loaded, signature)
      fn = loaded.signatures[signature]

      def http_call(state, body=body):
        if "connection" not in state:
          state["connection"] = http.client.HTTPConnection(host, int(port), timeout=120)
        connection = state["connection"]
        connection.request("POST", path, body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
          raise RuntimeError(f"HTTP {response.status}: {data[:300]!r}")
        state["response_bytes"] = len(data)

      def direct_call(state, fn=fn, kwargs=kwargs):
        del state
        outputs = fn(**kwargs)
        for value in outputs.values():
          value.numpy()

      rows = []
      for clients in [int(c) for c in FLAGS.concurrency]:
        direct = measure(direct_call, clients, FLAGS.seconds)
        served = measure(http_call, clients, FLAGS.seconds)
        rows.append({"clients": clients, "in_process": direct, "server": served})
      probe = {}
      http_call(probe)
      results[signature] = {"rows": rows, "response_bytes": probe["response_bytes"]}
  finally:
    server.terminate()
    server.wait(timeout=60)

  for signature, result in results.items():
    print(f"model {name} (task {task_name}), signature {signature}, one example per "
          f"request ({result['response_bytes']} response bytes), batching "
          f"{'on' if FLAGS.enable_batching else 'off'}, TF {tf.__version__}, "
          f"{os.cpu_count()} CPUs")
    print("| clients | in-process p50 / p99 ms | in-process req/s | server p50 / p99 ms "
          "| server req/s | server - in-process p50 ms |")
    print("|---|---|---|---|---|---|")
    for row in result["rows"]:
      d, s = row["in_process"], row["server"]
      print(f"| {row['clients']} | {d['p50_ms']:.2f} / {d['p99_ms']:.2f} | "
            f"{d['requests_per_s']:.0f} | {s['p50_ms']:.2f} / {s['p99_ms']:.2f} | "
            f"{s['requests_per_s']:.0f} | {s['p50_ms'] - d['p50_ms']:+.2f} |")
    print()
  if FLAGS.output_json:
    with open(FLAGS.output_json, "w") as f:
      json.dump({"model": name, "task": task_name, "batching": FLAGS.enable_batching,
                 "signatures": results}, f, indent=2)


if __name__ == "__main__":
  app.run(main)
