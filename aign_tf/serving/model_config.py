"""TF Serving's model-config file (`--model_config_file`), a protobuf text-format message:

    model_config_list {
      config {
        name: "toy"
        base_path: "/abs/path/export/toy"
        model_platform: "tensorflow"
        model_version_policy { latest { num_versions: 1 } }   # optional
        version_labels { key: "stable" value: 1 }             # optional, repeated
      }
    }

Only the fields above are read (others are an error naming them, so a typo does not pass
silently); `format_config` writes the same layout TF Serving reads. A small tokenizer is used
instead of the `tensorflow-serving-api` protos so that no extra dependency is needed.
"""

import dataclasses
import re

from aign_tf import errors

_TOKEN = re.compile(r"""\s*(?:(#[^\n]*)|([{}:])|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'"""
                    r"|([A-Za-z0-9_.+-]+))")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass
class ModelConfig:
  """One served model: `name` in URLs, versions under `base_path/<int>/`."""
  name: str
  base_path: str
  model_platform: str = "tensorflow"
  # "latest" (serve the newest `num_versions`), "all", or "specific" (`versions`).
  policy: str = "latest"
  num_versions: int = 1
  versions: tuple = ()
  labels: dict = dataclasses.field(default_factory=dict)


def valid_model_name(name):
  """True for names safe in URLs and as one directory level (no '/', no '..')."""
  return bool(_NAME.match(name or "")) and ".." not in name


def _tokens(text, where):
  position = 0
  text = text.rstrip()
  while position < len(text):
    match = _TOKEN.match(text, position)
    if not match or match.end() == position:
      raise errors.ConfigError(f"{where}: cannot parse near {text[position:position + 30]!r}")
    position = match.end()
    comment, punct, double, single, word = match.groups()
    string = double if double is not None else single
    if comment is not None:
      continue
    if punct is not None:
      yield punct
    elif string is not None:
      yield ("str", re.sub(r"\\(.)", r"\1", string))
    else:
      yield ("word", word)


def _parse_message(tokens, where, top=False):
  """Parses `field: value` and `field { ... }` pairs until '}' (or the end, at the top
  level): a list of pairs."""
  fields = []
  for token in tokens:
    if token == "}":
      if top:
        raise errors.ConfigError(f"{where}: unbalanced '}}'")
      return fields
    if not isinstance(token, tuple) or token[0] != "word":
      raise errors.ConfigError(f"{where}: expected a field name, got {token!r}")
    name = token[1]
    token = next(tokens, None)
    if token == ":":
      token = next(tokens, None)
    if token == "{":
      fields.append((name, _parse_message(tokens, where)))
    elif isinstance(token, tuple):
      fields.append((name, token[1] if token[0] == "str" else _scalar(token[1])))
    else:
      raise errors.ConfigError(f"{where}: field {name!r} has no value")
  if not top:
    raise errors.ConfigError(f"{where}: missing '}}'")
  return fields


def _scalar(word):
  try:
    return int(word)
  except ValueError:
    return word


def _message(value, field, where):
  if not isinstance(value, list):
    raise errors.ConfigError(f"{where}: field {field!r} must be a message {{ ... }}")
  return value


def parse_text(text, where="text message"):
  """Protobuf text format -> list of (field, value) pairs; messages are nested lists."""
  tokens = iter(_tokens(text, where))
  return _parse_message(tokens, where, top=True)


def parse_config(text, where="model config"):
  """Parses model-config text into a list of `ModelConfig`.

  Raises:
    errors.ConfigError: syntax errors, unknown fields, missing name/base_path, bad names,
      duplicate names, a platform other than "tensorflow".
  """
  top = parse_text(text, where)
  models = []
  for field, value in top:
    if field != "model_config_list":
      raise errors.ConfigError(f"{where}: unknown top-level field {field!r} "
                               "(expected model_config_list)")
    for item, config in _message(value, field, where):
      if item != "config":
        raise errors.ConfigError(f"{where}: unknown field {item!r} in model_config_list")
      models.append(_model(_message(config, item, where), where))
  names = [m.name for m in models]
  duplicates = sorted({n for n in names if names.count(n) > 1})
  if duplicates:
    raise errors.ConfigError(f"{where}: model {duplicates[0]!r} is listed twice")
  return models


def _model(fields, where):
  model = {"labels": {}}
  for field, value in fields:
    if field in ("name", "base_path", "model_platform"):
      model[field] = str(value)
    elif field == "model_version_policy":
      for kind, body in _message(value, field, where):
        if kind not in ("latest", "all", "specific"):
          raise errors.ConfigError(f"{where}: unknown model_version_policy {kind!r}")
        model["policy"] = kind
        for key, number in _message(body, kind, where):
          if key == "num_versions" and kind == "latest":
            model["num_versions"] = int(number)
          elif key == "versions" and kind == "specific":
            model["versions"] = model.get("versions", ()) + (int(number),)
          else:
            raise errors.ConfigError(f"{where}: unknown field {key!r} in {kind}")
    elif field == "version_labels":
      entry = dict(_message(value, field, where))
      if set(entry) != {"key", "value"}:
        raise errors.ConfigError(f"{where}: version_labels needs key and value")
      model["labels"][str(entry["key"])] = int(entry["value"])
    else:
      raise errors.ConfigError(f"{where}: unknown field {field!r} in config")
  for required in ("name", "base_path"):
    if not model.get(required):
      raise errors.ConfigError(f"{where}: a config has no {required}")
  if not valid_model_name(model["name"]):
    raise errors.ConfigError(f"{where}: invalid model name {model['name']!r} (letters, "
                             "digits, '_', '.', '-'; no '/' or '..')")
  if model.get("model_platform", "tensorflow") != "tensorflow":
    raise errors.ConfigError(f"{where}: model {model['name']!r}: model_platform must be "
                             "\"tensorflow\"")
  return ModelConfig(**model)


def format_config(models):
  """`ModelConfig`s -> model-config text (sorted by name)."""

  def quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

  lines = ["# TF Serving model config, written by tools/export.py (aign_tf.serving).",
           "model_config_list {"]
  for model in sorted(models, key=lambda m: m.name):
    lines += ["  config {", f"    name: {quote(model.name)}",
              f"    base_path: {quote(model.base_path)}",
              f"    model_platform: {quote(model.model_platform)}"]
    if model.policy == "all":
      lines.append("    model_version_policy { all {} }")
    elif model.policy == "specific":
      versions = " ".join(f"versions: {v}" for v in model.versions)
      lines.append(f"    model_version_policy {{ specific {{ {versions} }} }}")
    elif model.num_versions != 1:
      lines.append(f"    model_version_policy {{ latest {{ num_versions: {model.num_versions} }} }}")
    for label, version in sorted(model.labels.items()):
      lines.append(f"    version_labels {{ key: {quote(label)} value: {version} }}")
    lines.append("  }")
  lines.append("}")
  return "\n".join(lines) + "\n"


def read_config(path):
  """Reads and parses a model-config file."""
  try:
    with open(path) as f:
      text = f.read()
  except OSError as e:
    raise errors.ConfigError(f"cannot read model config {path}: {e.strerror}") from e
  return parse_config(text, where=path)
