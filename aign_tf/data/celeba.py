"""CelebA: attribute lists, safe attribute expressions, partitions, aligned face crops.

Layout (as distributed): `<root>/img_align_celeba/*.jpg` (178x218 aligned faces),
`<root>/list_attr_celeba.txt` (line 1: image count; line 2: the 40 attribute names; then
`<file> <+1/-1 x 40>`), `<root>/list_eval_partition.txt` (`<file> <0 train|1 val|2 test>`).
The attribute file may also sit in `<root>/Anno/` and the partition file in `<root>/Eval/`.

An attribute expression selects images: attribute names combined with `and`, `or`, `not`
and parentheses, e.g. `Male and not Young`, `Big_Lips`, `(Blond_Hair or Gray_Hair) and
Smiling`. It is parsed by a small recursive-descent parser into boolean array operations;
nothing is ever passed to `eval`.

Images are cut to the square (top 20, left 0, 178x178) that holds the face, then resized.
"""

import os
import re

import numpy as np

from aign_tf import errors

PARTITIONS = {"train": 0, "val": 1, "test": 2}
ALIGNED_CROP = (20, 0, 178, 178)
_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z_][A-Za-z0-9_]*)|(\S))")


def _find(root, name, subfolders):
  for sub in ("",) + subfolders:
    path = os.path.join(root, sub, name)
    if os.path.isfile(path):
      return path
  return None


def read_attributes(path):
  """Parses `list_attr_celeba.txt`.

  Returns:
    (files list of N names, attribute names list of A, int8 array `[N, A]` of +1/-1).

  Raises:
    errors.DataError: the file is missing or malformed (naming the line).
  """
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: CelebA attribute file not found")
  with open(path) as f:
    lines = [line.split() for line in f if line.strip()]
  if len(lines) < 2:
    raise errors.DataError(f"{path}: expected a count line and an attribute-name line")
  names = lines[1]
  start = 2
  # Some copies put a header before the names; accept the count line missing too.
  if len(lines[0]) > 1:
    names, start = lines[0], 1
  files, values = [], []
  for number, fields in enumerate(lines[start:], start=start + 1):
    if len(fields) != len(names) + 1:
      raise errors.DataError(f"{path}: line {number} has {len(fields) - 1} attribute values, "
                             f"expected {len(names)}")
    try:
      row = [int(v) for v in fields[1:]]
    except ValueError as e:
      raise errors.DataError(f"{path}: line {number}: {e}") from e
    if any(v not in (-1, 0, 1) for v in row):
      raise errors.DataError(f"{path}: line {number}: values must be +1 or -1")
    files.append(fields[0])
    values.append(row)
  if not files:
    raise errors.DataError(f"{path}: no image lines")
  return files, names, np.array(values, np.int8)


def read_partition(path):
  """Parses `list_eval_partition.txt` into a dict file -> partition id."""
  partition = {}
  with open(path) as f:
    for number, line in enumerate(f, start=1):
      fields = line.split()
      if not fields:
        continue
      if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
        raise errors.DataError(f"{path}: line {number} is not '<file> <0|1|2>'")
      partition[fields[0]] = int(fields[1])
  return partition


def _tokens(expression):
  tokens, position = [], 0
  while position < len(expression):
    match = _TOKEN.match(expression, position)
    if match is None:
      break
    if match.group(4) is not None:
      raise errors.ConfigError(f"attribute expression {expression!r}: unexpected character "
                               f"{match.group(4)!r} at position {match.start(4)}")
    tokens.append(match.group(1) or match.group(2) or match.group(3))
    position = match.end()
  return tokens


def select(expression, attribute_names, values):
  """Evaluates an attribute expression to a boolean mask `[N]`.

  Grammar: expr := term ("or" term)*; term := factor ("and" factor)*;
  factor := "not" factor | "(" expr ")" | NAME. Keywords are case-insensitive; names are
  matched exactly (a near miss is suggested in the error).

  Args:
    expression: e.g. "Male and not Young".
    attribute_names: the A names.
    values: `[N, A]` +1/-1.

  Raises:
    errors.ConfigError: empty or malformed expression, or an unknown attribute name.
  """
  tokens = _tokens(expression)
  if not tokens:
    raise errors.ConfigError("attribute expression is empty")
  index = {name: i for i, name in enumerate(attribute_names)}
  position = [0]

  def peek():
    return tokens[position[0]] if position[0] < len(tokens) else None

  def advance():
    token = peek()
    position[0] += 1
    return token

  def expr():
    result = term()
    while peek() is not None and peek().lower() == "or":
      advance()
      result = result | term()
    return result

  def term():
    result = factor()
    while peek() is not None and peek().lower() == "and":
      advance()
      result = result & factor()
    return result

  def factor():
    token = advance()
    if token is None:
      raise errors.ConfigError(f"attribute expression {expression!r} ends early")
    if token.lower() == "not":
      return ~factor()
    if token == "(":
      result = expr()
      if advance() != ")":
        raise errors.ConfigError(f"attribute expression {expression!r}: missing ')'")
      return result
    if token == ")" or token.lower() in ("and", "or"):
      raise errors.ConfigError(f"attribute expression {expression!r}: unexpected {token!r}")
    if token not in index:
      close = [n for n in attribute_names if n.lower() == token.lower()]
      hint = f"; did you mean {close[0]!r}?" if close else ""
      raise errors.ConfigError(f"CelebA has no attribute {token!r}{hint} (attributes: "
                               f"{', '.join(attribute_names)})")
    return values[:, index[token]] > 0

  mask = expr()
  if peek() is not None:
    raise errors.ConfigError(f"attribute expression {expression!r}: unexpected "
                             f"{peek()!r} after a complete expression")
  return np.asarray(mask, bool)


def face_set(spec, resolution, seed):
  """Builds a `faces.FaceSet` from a spec `{"source": "celeba", "root": ..., "attributes":
  expression or None, "partition": "train"|"val"|"test"|None, "count": n or None,
  "on_bad_file": "raise"|"skip"}` (with "skip", missing or unreadable images are left out
  and counted in a logged warning, see `faces.load_chosen`)."""
  from aign_tf.data import faces  # pylint: disable=g-import-not-at-top
  root = spec["root"]
  attr_path = _find(root, "list_attr_celeba.txt", ("Anno",))
  if attr_path is None:
    raise errors.DataError(f"{root}: no list_attr_celeba.txt (looked in the folder and Anno/)")
  files, names, values = read_attributes(attr_path)
  mask = np.ones(len(files), bool)
  expression = spec.get("attributes")
  if expression:
    mask &= select(expression, names, values)
  partition = spec.get("partition")
  if partition is not None:
    if partition not in PARTITIONS:
      raise errors.ConfigError(f"CelebA partition {partition!r} is unknown; use one of "
                               f"{sorted(PARTITIONS)}")
    part_path = _find(root, "list_eval_partition.txt", ("Eval",))
    if part_path is None:
      raise errors.DataError(f"{root}: no list_eval_partition.txt for partition "
                             f"{partition!r}")
    parts = read_partition(part_path)
    mask &= np.array([parts.get(f, -1) == PARTITIONS[partition] for f in files])
  chosen_files = [f for f, keep in zip(files, mask) if keep]
  if not chosen_files:
    raise errors.DataError(f"{attr_path}: attribute expression {expression!r} (partition "
                           f"{partition}) selects no image")
  image_dir = os.path.join(root, "img_align_celeba")
  on_bad_file = spec.get("on_bad_file", "raise")
  if on_bad_file == "raise":
    chosen = faces.choose(spec.get("count"), len(chosen_files), spec.get("seed", seed),
                          f"CelebA {expression!r}")
    for i in chosen[:1]:
      path = os.path.join(image_dir, chosen_files[i])
      if not os.path.isfile(path):
        raise errors.DataError(f"{path}: listed in {attr_path} but missing")
  images, paths, skipped = faces.load_chosen(
      [os.path.join(image_dir, f) for f in chosen_files], spec.get("count"),
      spec.get("seed", seed), resolution, f"CelebA {image_dir} {expression!r}", ALIGNED_CROP,
      on_bad_file)
  return faces.FaceSet(images, [os.path.abspath(p) for p in paths], skipped=skipped)
