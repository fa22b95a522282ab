"""Parsing gin configuration with loud, one-line errors.

Unknown bindings fail (`skip_unknown=False`), naming the binding; a missing gin file names
the file. `resolve()` reads a bound value back (used to rebuild a trained model from its
operative config).
"""

import os
import gin

from aign_tf import configurables
from aign_tf import errors

# The repository's gin/ folder, so `include 'base.gin'` works from anywhere.
REPO_GIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "gin")


def parse(gin_files=(), gin_bindings=(), search_paths=()):
  """Registers all configurables, clears gin and parses files + bindings.

  Raises:
    errors.ConfigError: naming the missing file or the unknown / malformed binding.
  """
  configurables.register_all()
  gin.clear_config()
  for path in list(search_paths) + [REPO_GIN_DIR]:
    if os.path.isdir(path) and path not in gin.config._LOCATION_PREFIXES:  # pylint: disable=protected-access
      gin.add_config_file_search_path(path)
  for path in gin_files:
    if not os.path.isfile(path) and not os.path.isfile(os.path.join(REPO_GIN_DIR, path)):
      raise errors.ConfigError(f"gin file not found: {path}")
  try:
    gin.parse_config_files_and_bindings(list(gin_files), list(gin_bindings),
                                        skip_unknown=False, finalize_config=False)
  except (ValueError, KeyError, IOError, SyntaxError) as e:
    # gin's message: what is wrong, then where ("In file ..., line N"), then the line.
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    message = lines[0] if lines else type(e).__name__
    if len(lines) >= 3 and lines[-2].startswith("In "):
      message = f"{message.rstrip('.')} ({lines[-2][3:]}: {lines[-1]})"
    raise errors.ConfigError(f"gin: {message}") from e


def resolve(binding_key):
  """Returns the value bound to `binding_key`, evaluating `@ref()` references."""
  value = gin.query_parameter(binding_key)
  if isinstance(value, gin.config.ConfigurableReference):
    fn = value.scoped_configurable_fn
    return fn() if value.evaluate else fn
  return value


def default_model_dir(gin_files, root="runs"):
  """`runs/<name of the first gin file>`."""
  if not gin_files:
    raise errors.ConfigError("no --gin_file given")
  return os.path.join(root, os.path.splitext(os.path.basename(gin_files[0]))[0])
