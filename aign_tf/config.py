"""Parsing gin configuration with loud, one-line errors.

Unknown bindings fail (`skip_unknown=False`), naming the binding; a missing gin file names
the file. `resolve()` reads a bound value back (used to rebuild a trained model from its
operative config).
"""

import inspect
import logging
import os
import re

from absl import logging as absl_logging
import gin

from aign_tf import configurables
from aign_tf import errors

# The repository's gin/ folder, so `include 'base.gin'` works from anywhere.
REPO_GIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gin")


class _QuietIncludeSearch(logging.Filter):
  """Drops gin's "Path not found: base.gin" lines: gin logs one for every search prefix
  that does not hold an included file (before the one that does), which reads like an
  error before every real one."""

  def filter(self, record):
    return not record.pathname.endswith(os.path.join("gin", "resource_reader.py"))


_QUIET = _QuietIncludeSearch()


def parse(gin_files=(), gin_bindings=(), search_paths=()):
  """Registers all configurables, clears gin and parses files + bindings.

  Raises:
    errors.ConfigError: naming the missing file or the unknown / malformed binding.
  """
  configurables.register_all()
  gin.clear_config()
  if _QUIET not in logging.getLogger().filters:
    logging.getLogger().addFilter(_QUIET)
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
    message = moved_binding(message) or message
    if len(lines) >= 3 and lines[-2].startswith("In "):
      message = f"{message.rstrip('.')} ({lines[-2][3:]}: {lines[-1]})"
    raise errors.ConfigError(f"gin: {message}") from e
  check_keyword_bindings()


# What keras.layers.Layer takes through **kwargs besides its named parameters.
_KERAS_LAYER_KWARGS = frozenset((
    "input_dim", "input_shape", "batch_input_shape", "batch_size", "weights",
    "activity_regularizer", "autocast", "implementation"))


def _accepted_parameters(cls):
  """The keyword parameters a class's constructor takes, following **kwargs up the class
  hierarchy (to keras.layers.Layer's known ones), and those of them the package's own
  classes declare; (None, None) if that cannot be told."""
  names, own = set(), set()
  for klass in inspect.getmro(cls):
    if "__init__" not in vars(klass):
      continue
    try:
      parameters = inspect.signature(vars(klass)["__init__"]).parameters.values()
    except (TypeError, ValueError):
      return None, None
    declared = {p.name for p in parameters
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
    names |= declared
    if klass.__module__.startswith("aign_tf"):
      own |= declared
    if not any(p.kind == p.VAR_KEYWORD for p in parameters):
      return names, own
    if klass.__module__.startswith(("tf_keras.", "keras.")) and klass.__name__ == "Layer":
      return names | _KERAS_LAYER_KWARGS, own
  return None, None


def check_keyword_bindings():
  """Gin accepts any parameter name for a class whose constructor takes **kwargs (the
  Keras models and layers here), and the typo then fails when the class is built, as Keras'
  "Keyword argument not understood". This names the binding at parse time instead.

  Raises:
    errors.ConfigError: naming the binding and the parameters the class takes.
  """
  for (scope, selector), parameters in gin.config._CONFIG.items():  # pylint: disable=protected-access
    found = gin.config._REGISTRY.get_match(selector)  # pylint: disable=protected-access
    wrapped = getattr(found, "wrapped", None)
    if not inspect.isclass(wrapped) or not wrapped.__module__.startswith("aign_tf"):
      continue
    accepted, own = _accepted_parameters(wrapped)
    if accepted is None:
      continue
    for parameter in sorted(set(parameters) - accepted):
      name = _selector(found)
      moved = _moved(name, parameter)
      if moved is not None:
        raise errors.ConfigError(f"gin: {moved}")
      binding = f"{scope + '/' if scope else ''}{name}.{parameter}"
      raise errors.ConfigError(
          f"gin: {binding}: {name} has no parameter {parameter!r} (its parameters: "
          f"{', '.join(sorted(own))}; and Keras' name, dtype, trainable)")


def _selector(found):
  """A registered configurable's "<module>.<name>"."""
  return f"{found.module}.{found.name}" if found.module else found.name


def _moved(selector, parameter):
  """"<selector>.<parameter> moved: <where it went>" for a parameter that moved
  (`configurables.moved_bindings()`), else None."""
  hint = configurables.moved_bindings().get(f"{selector}.{parameter}")
  if hint is None:
    return None
  return f"{selector}.{parameter} moved: {hint() if callable(hint) else hint}"


_NO_PARAMETER = re.compile(r"Configurable '([\w.]+)' doesn't have a parameter named '(\w+)'")


def moved_binding(message):
  """For gin's "Configurable 'X' doesn't have a parameter named 'p'" about a parameter that
  moved (`configurables.moved_bindings()`): "<module>.X.p moved: <where it went>"; else
  None."""
  match = _NO_PARAMETER.search(message)
  if not match:
    return None
  name, parameter = match.groups()
  try:
    found = gin.config._REGISTRY.get_match(name)  # pylint: disable=protected-access
  except (ValueError, KeyError):
    return None
  if found is None:
    return None
  return _moved(_selector(found), parameter)


def parse_operative(path, gin_bindings=()):
  """Parses a run's operative config (`path`, written by training) and `gin_bindings`, like
  `parse([path], gin_bindings)`, after rewriting the bindings that moved since the run was
  trained (`configurables.upgrade_operative_config`): a run of an older version still
  evaluates and exports. A file the user writes gets no such help: a moved binding there is
  an error naming its new place.

  Raises:
    errors.ConfigError: as `parse`.
  """
  configurables.register_all()
  try:
    with open(path) as f:
      text = f.read()
  except OSError as e:
    raise errors.ConfigError(f"{path}: cannot read the operative config ({e.strerror})") from e
  upgraded = configurables.upgrade_operative_config(text)
  if upgraded == text:
    return parse([path], gin_bindings)
  absl_logging.info("%s was written by an older version: read with its moved bindings in "
                    "their new places", path)
  return parse([], [upgraded] + list(gin_bindings))


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


_IN_CALL = re.compile(r"In call to configurable '([^']+)' \(<(?:class|function) '?([\w.]+)")


def _quotes(message, value):
  """Whether `message` quotes the bound `value` (a whole number or word, not a part)."""
  if isinstance(value, gin.config.ConfigurableReference):
    return False
  texts = {repr(value)} | ({str(value)} if not isinstance(value, str) else set())
  return any(re.search(r"(?<![\w.-])" + re.escape(text) + r"(?!\w|\.\d)", message)
             for text in texts)


def binding_error(error):
  """A one-line `errors.ConfigError` for an exception raised inside a gin configurable
  (a binding of the right name and a wrong value or type), or None for other exceptions.

  gin appends "In call to configurable 'X' (...)" to such exceptions; the innermost call
  names the configurable, and the binding whose value the message quotes is named with it,
  e.g. "gin: tasks.FaceSRTask.resolution = 'big': invalid literal for int() ...".
  """
  text = str(error)
  calls = _IN_CALL.findall(text)
  if not calls:
    return None
  name, python_path = calls[0]
  message = next((line.strip() for line in text.splitlines() if line.strip()),
                 type(error).__name__)
  selector = name
  try:
    module = gin.config._REGISTRY.get_match(name)  # pylint: disable=protected-access
    selector = f"{module.module}.{module.name}" if module and module.module else name
  except (ValueError, KeyError, AttributeError):
    pass
  culprits = []
  for (scope, bound_selector), params in gin.config._CONFIG.items():  # pylint: disable=protected-access
    if bound_selector.split(".")[-1] != name.split(".")[-1]:
      continue
    for param, value in params.items():
      if _quotes(message, value):
        prefix = f"{scope}/" if scope else ""
        culprits.append(f"{prefix}{bound_selector}.{param} = {value!r}")
  where = culprits[0] if len(culprits) == 1 else f"{selector} ({python_path})"
  return errors.ConfigError(f"gin: {where}: {message}")
