"""What the absl entry points in tools/ call: flags in, one library call, clear errors out."""

import os
import sys

from absl import logging

from aign_tf import errors


def run(fn, *args, **kwargs):
  """Calls `fn`; bad input becomes a one-line `error: ...` on stderr and exit code 2."""
  try:
    return fn(*args, **kwargs)
  except (errors.AIGNError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
  except RuntimeError as e:
    # gin reports unset required bindings as RuntimeError.
    if "Required bindings" in str(e) or "gin.REQUIRED" in str(e):
      print(f"error: gin: {str(e).strip().splitlines()[0]}", file=sys.stderr)
      sys.exit(2)
    _raise_binding_error(e)
    raise
  except (TypeError, ValueError) as e:
    _raise_binding_error(e)
    raise


def _raise_binding_error(error):
  """Exits with a one-line error when `error` came from a gin binding's wrong value."""
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  binding = config.binding_error(error)
  if binding is not None:
    print(f"error: {binding}", file=sys.stderr)
    sys.exit(2)


def train_main(gin_files, gin_bindings, model_dir=None):
  """Parses gin, then calls the `train` root; returns its result."""
  from aign_tf import config  # pylint: disable=g-import-not-at-top
  from aign_tf.train import trainer  # pylint: disable=g-import-not-at-top

  def go():
    config.parse(gin_files, gin_bindings)
    directory = model_dir or config.default_model_dir(gin_files)
    trainer.check_model_dir(directory)
    logging.info("model_dir: %s", directory)
    return trainer.train(directory)

  result = run(go)
  if result["strategy"] == "multi_worker":
    # Multi-worker processes can crash in TensorFlow's teardown at interpreter exit
    # ("double free or corruption"); all work is saved by now, so leave at once.
    logging.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # pylint: disable=protected-access
  return result


