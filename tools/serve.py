"""Serve exported models over TF Serving's REST API (a local stand-in for TF Serving).

    python tools/serve.py --model_config_file=export/models.config
    python tools/serve.py --model_name=toy --model_base_path=export/toy --rest_api_port=8501

Flags carry tensorflow_model_server's names (plus --rest_api_host and --max_request_bytes).
Binds 127.0.0.1 unless --rest_api_host says otherwise. New versions exported under a base
path are picked up without a restart (every --file_system_poll_wait_seconds).
"""

import logging as std_logging

from absl import app
from absl import flags
from absl import logging

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
                     "Socket inactivity and batch-wait limit of a request.")
flags.DEFINE_bool("enable_batching", False, "Batch concurrent requests to one signature.")
flags.DEFINE_string("batching_parameters_file", None,
                    "TF Serving batching parameters text (max_batch_size, "
                    "batch_timeout_micros, num_batch_threads, max_enqueued_batches).")
flags.DEFINE_integer("max_request_bytes", 4 << 20,
                     "Larger request bodies are refused with 413 (not a TF Serving flag).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  from aign_tf.train import cli  # pylint: disable=g-import-not-at-top
  cli.run(_serve)


def _serve():
  from aign_tf import errors  # pylint: disable=g-import-not-at-top
  from aign_tf.serving import batching  # pylint: disable=g-import-not-at-top
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

  def ready(srv):
    # One line on stdout that scripts (tests, benchmarks) wait for.
    print(f"serving {', '.join(repo.names())} at {srv.url}", flush=True)

  try:
    server.serve(repo, host=FLAGS.rest_api_host, port=FLAGS.rest_api_port,
                 max_body_bytes=FLAGS.max_request_bytes,
                 timeout_seconds=FLAGS.rest_api_timeout_in_ms / 1000.0, batcher=batcher,
                 ready=ready)
  except OSError as e:
    raise errors.ConfigError(f"cannot serve on {FLAGS.rest_api_host}:{FLAGS.rest_api_port}: "
                             f"{e.strerror}") from e


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main)
