"""Serve exported models over TF Serving's REST API (a local stand-in for TF Serving).

    python tools/serve.py --model_config_file=export/models.config
    python tools/serve.py --model_name=toy --model_base_path=export/toy --port=8500 \
        --rest_api_port=8501

Flags carry tensorflow_model_server's names (`--port` is gRPC, `--rest_api_port` REST); the
limits (`aign_tf/serving/limits.py`) and --rest_api_host are ours. Binds 127.0.0.1 unless
--rest_api_host says otherwise. New versions exported under a base path are picked up
without a restart (every --file_system_poll_wait_seconds). SIGTERM or Ctrl-C stops accepting
requests and lets those in flight finish (at most --shutdown_grace_seconds).

The first line on stdout is `serving <models> at http://<host>:<port>`, the second
`grpc at <host>:<port>`: scripts wait for them.
"""

import dataclasses
import logging as std_logging
import os
import sys

from absl import app
from absl import flags
from absl import logging

flags.DEFINE_integer("port", 8500, "Port of the gRPC API (PredictionService, ModelService; "
                     "0: pick a free one).")
flags.DEFINE_integer("rest_api_port", 8501, "HTTP port of the REST API (0: pick a free one).")
flags.DEFINE_string("rest_api_host", "127.0.0.1",
                    "Interface to bind (not a TF Serving flag). 0.0.0.0 exposes the server "
                    "to the network: it has no authentication.")
flags.DEFINE_string("model_name", None, "Name of the model (with --model_base_path).")
flags.DEFINE_string("model_base_path", None, "Folder holding the model's numeric versions.")
flags.DEFINE_string("model_config_file", None,
                    "TF Serving model-config text file (e.g. export/models.config).")
flags.DEFINE_integer("model_config_file_poll_wait_seconds", 0,
                     "Re-read --model_config_file this often (0: never).")
flags.DEFINE_integer("file_system_poll_wait_seconds", 1,
                     "Look for new model versions this often (0: only at start).")
flags.DEFINE_integer("rest_api_timeout_in_ms", 30000,
                     "Time limit of a request once received (REST 504, gRPC "
                     "DEADLINE_EXCEEDED), batch wait included.")
flags.DEFINE_integer("rest_api_num_threads", 4,
                     "Threads running requests (JSON, validation, the model), REST and gRPC.")
flags.DEFINE_integer("max_queued_requests", 64,
                     "Requests admitted beyond the running ones; more get 503 with "
                     "Retry-After (gRPC UNAVAILABLE).")
flags.DEFINE_integer("rest_api_read_timeout_in_ms", 10000,
                     "Slow clients: the request line and headers, then the body, must each "
                     "arrive within this (408 otherwise).")
flags.DEFINE_integer("rest_api_idle_timeout_in_ms", 30000,
                     "Keep-alive connections without a request are closed after this.")
flags.DEFINE_integer("max_header_bytes", 16 << 10,
                     "Request line + headers over this are refused with 431.")
flags.DEFINE_integer("max_request_batch_size", 256,
                     "Examples per request; more are refused with 400 (bounds the response).")
flags.DEFINE_integer("max_response_bytes", 64 << 20,
                     "Answers estimated (from the outputs, before encoding) to be larger are "
                     "refused with 400: send fewer examples or use serving_png.")
flags.DEFINE_integer("max_pixels_per_image", 4096 * 4096,
                     "Encoded images (string inputs) larger than this, read from their "
                     "headers before anything decodes them, are refused with 400.")
flags.DEFINE_integer("max_pixels_per_request", 2 * 4096 * 4096,
                     "All images of one request together; more are refused with 400.")
flags.DEFINE_bool("malloc_trim", True,
                  "Give freed heap back to the system after large requests (glibc "
                  "malloc_trim), so memory returns to its level after bursts.")
flags.DEFINE_integer("malloc_arena_max", 2,
                     "Cap glibc's malloc arenas (sets MALLOC_ARENA_MAX and restarts itself; 0: "
                     "glibc's default of 8 per core). Each thread keeping its own arena kept "
                     "the RSS ~13% above its level after a fuzz run; with 2, ~8%.")
flags.DEFINE_float("shutdown_grace_seconds", 30.0,
                   "On SIGTERM/SIGINT, requests in flight may finish for this long.")
flags.DEFINE_bool("enable_batching", False, "Batch concurrent requests to one signature.")
flags.DEFINE_string("batching_parameters_file", None,
                    "TF Serving batching parameters text (max_batch_size, "
                    "batch_timeout_micros, num_batch_threads, max_enqueued_batches).")
flags.DEFINE_integer("max_request_bytes", 4 << 20,
                     "Larger request bodies (REST) and messages (gRPC) are refused with 413 / "
                     "RESOURCE_EXHAUSTED (not a TF Serving flag).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  arenas = str(FLAGS.malloc_arena_max)
  if FLAGS.malloc_arena_max > 0 and os.environ.get("MALLOC_ARENA_MAX") != arenas:
    # glibc reads MALLOC_ARENA_MAX once, when the process starts (mallopt later is too
    # late: measured, it did not help): start again with it set, same pid and arguments.
    os.environ["MALLOC_ARENA_MAX"] = arenas
    os.execv(sys.executable, [sys.executable] + sys.argv)
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  cli.run(_serve)


def _serve():
  from aign_tf import errors  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import batching  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import limits  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import model_config  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import repository  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import server  # pylint: disable=g-import-not-at-top

  std_logging.getLogger("aign_tf.serving").setLevel(std_logging.INFO)
  if bool(FLAGS.model_config_file) == bool(FLAGS.model_base_path):
    raise errors.ConfigError("give either --model_config_file or --model_base_path "
                             "(with --model_name)")
  if FLAGS.model_config_file:
    repo = repository.Repository(
        config_file=FLAGS.model_config_file,
        poll_seconds=FLAGS.file_system_poll_wait_seconds,
        config_poll_seconds=FLAGS.model_config_file_poll_wait_seconds)
  else:
    name = FLAGS.model_name or "default"
    if not model_config.valid_model_name(name):
      raise errors.ConfigError(f"invalid --model_name {name!r}")
    repo = repository.Repository(
        [model_config.ModelConfig(name=name, base_path=FLAGS.model_base_path)],
        poll_seconds=FLAGS.file_system_poll_wait_seconds)
  batcher = None
  if FLAGS.enable_batching:
    params = batching.BatchingParameters()
    if FLAGS.batching_parameters_file:
      with open(FLAGS.batching_parameters_file) as f:
        params = batching.parse_batching_parameters(f.read(), FLAGS.batching_parameters_file)
    batcher = batching.Batcher(params)

  request_limits = limits.Limits(
      max_body_bytes=FLAGS.max_request_bytes, max_header_bytes=FLAGS.max_header_bytes,
      max_batch_size=FLAGS.max_request_batch_size,
      max_response_bytes=FLAGS.max_response_bytes,
      max_pixels_per_image=FLAGS.max_pixels_per_image,
      max_pixels_per_request=FLAGS.max_pixels_per_request,
      request_timeout_seconds=FLAGS.rest_api_timeout_in_ms / 1000.0,
      read_timeout_seconds=FLAGS.rest_api_read_timeout_in_ms / 1000.0,
      idle_timeout_seconds=FLAGS.rest_api_idle_timeout_in_ms / 1000.0,
      num_request_threads=FLAGS.rest_api_num_threads,
      max_queued_requests=FLAGS.max_queued_requests,
      shutdown_grace_seconds=FLAGS.shutdown_grace_seconds)
  for name, value in dataclasses.asdict(request_limits).items():
    smallest = 0 if name == "max_queued_requests" else 1e-3
    if value < smallest:
      raise errors.ConfigError(f"the limit {name} must be positive, got {value}")

  def ready(srv):
    # Two lines on stdout that scripts (tests, benchmarks) wait for.
    print(f"serving {', '.join(repo.names())} at {srv.url}", flush=True)
    print(f"grpc at {srv.host}:{srv.grpc_port}", flush=True)

  try:
    server.serve(repo, host=FLAGS.rest_api_host, port=FLAGS.rest_api_port, batcher=batcher,
                 ready=ready, limits=request_limits, grpc_port=FLAGS.port,
                 trim_memory=FLAGS.malloc_trim)
  except OSError as e:
    raise errors.ConfigError(f"cannot serve on {FLAGS.rest_api_host} (REST port "
                             f"{FLAGS.rest_api_port}, gRPC port {FLAGS.port}): "
                             f"{e.strerror}") from e


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main)
