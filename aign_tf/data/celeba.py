"""CelebA: attribute lists, safe attribute expressions, partitions, landmarks, aligned crops.

Layout (as distributed): `<root>/img_align_celeba/*.jpg` (178x218 aligned faces) and three
lists, each either in the original whitespace text form or the CSV form other mirrors
distribute (e.g. Kaggle's; header `image_id` or `filename` plus the column names):

  `list_attr_celeba.txt`  line 1: image count; line 2: the 40 attribute names; then
                          `<file> <+1/-1 x 40>`
  `list_attr_celeba.csv`  `image_id,5_o_Clock_Shadow,...,Young` then `<file>,-1,1,...`
  `list_eval_partition.txt` / `.csv`   `<file> <0 train|1 val|2 test>` (CSV header
                          `image_id,partition`)
  `list_landmarks_align_celeba.txt` / `.csv`   count line, then `lefteye_x lefteye_y
                          righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y
                          rightmouth_x rightmouth_y`, then `<file> <10 pixel coordinates>`
                          (in the 178x218 aligned image)

Lists may also sit in `<root>/Anno/` or `<root>/Eval/`, and the images in Kaggle's nested
`img_align_celeba/img_align_celeba/`. When both forms exist, the text form is read. A bad
list raises `errors.DataError` with one line naming the file, the line and the field.

An attribute expression selects images: attribute names combined with `and`, `or`, `not`
and parentheses, e.g. `Male and not Young`, `Big_Lips`, `(Blond_Hair or Gray_Hair) and
Smiling`. It is parsed by a small recursive-descent parser into boolean array operations;
nothing is ever passed to `eval`.

Images are cut to the square (top 20, left 0, 178x178) that holds the face, then resized;
landmarks, when the landmark list is there, are mapped through the same cut and resize into
`FaceSet.landmarks` (`[N, 5, 2]` in `LANDMARKS` order), so inpainting masks sit on each
face's own mouth and nose (`masks.part_masks`).
"""

import csv
import os
import re

from absl import logging
import numpy as np

from aign_tf import errors

PARTITIONS = {"train": 0, "val": 1, "test": 2}
ALIGNED_CROP = (20, 0, 178, 178)
ID_COLUMNS = ("image_id", "filename")
# The five landmarks of the aligned images, in the order of the landmark lists' columns.
LANDMARKS = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")
LANDMARK_COLUMNS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
                    "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y")
ATTRIBUTE_FILES = ("list_attr_celeba.txt", "list_attr_celeba.csv")
PARTITION_FILES = ("list_eval_partition.txt", "list_eval_partition.csv")
LANDMARK_FILES = ("list_landmarks_align_celeba.txt", "list_landmarks_align_celeba.csv")
_SUBFOLDERS = ("Anno", "Eval")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z_][A-Za-z0-9_]*)|(\S))")


def find_list(root, names):
  """The first of `names` (text before CSV) in `root`, `root/Anno` or `root/Eval`; None."""
  for name in names:
    for sub in ("",) + _SUBFOLDERS:
      path = os.path.join(root, sub, name)
      if os.path.isfile(path):
        return path
  return None


def image_dir(root):
  """`<root>/img_align_celeba`, or Kaggle's nested `img_align_celeba/img_align_celeba`."""
  outer = os.path.join(root, "img_align_celeba")
  nested = os.path.join(outer, "img_align_celeba")
  if os.path.isdir(nested) and not any(n.lower().endswith(".jpg")
                                       for n in os.listdir(outer)):
    return nested
  return outer


def read_table(path, what, columns=None):
  """Reads a CelebA list in its text or CSV form.

  Text: an optional count line, a header of the column names (with or without a leading
  `image_id`/`filename`), then `<file> <values>` separated by whitespace. CSV: a header
  whose first column is `image_id` or `filename`, then comma-separated rows.

  Args:
    path: the list file.
    what: what the values are, for messages ("attribute", "landmark", ...).
    columns: the header the file must have (None: any); for partition lists without a
      header, the column names to use.

  Returns:
    (files: N names, column names: C, rows: N lists of C strings, line numbers: N).

  Raises:
    errors.DataError: missing file, no rows, or a row with the wrong number of fields.
  """
  if not os.path.isfile(path):
    raise errors.DataError(f"{path}: CelebA {what} file not found")
  try:
    with open(path, newline="", encoding="utf-8-sig") as f:  # Some CSVs start with a BOM.
      text = f.read()
  except UnicodeDecodeError as e:
    raise errors.DataError(f"{path}: not a text file ({e})") from e
  is_csv = path.lower().endswith(".csv") or "," in text.split("\n", 1)[0]
  if is_csv:
    lines = [(number, [field.strip() for field in fields])
             for number, fields in enumerate(csv.reader(text.splitlines()), start=1)
             if any(field.strip() for field in fields)]
  else:
    lines = [(number, line.split()) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip()]
  expected_count = None
  if lines and len(lines[0][1]) == 1 and lines[0][1][0].isdigit():
    expected_count = int(lines[0][1][0])  # The text form's count line.
    lines = lines[1:]
  if not lines:
    raise errors.DataError(f"{path}: no lines; expected a CelebA {what} list")
  header_line, header = lines[0]
  if _looks_like_row(header):  # No header (the partition list's text form).
    if columns is None:
      raise errors.DataError(f"{path}: line {header_line}: expected a header of {what} "
                             f"names, got a row starting {header[0]!r}")
    names = list(columns)
  else:
    # CSV headers name the id column; the text form's header lists only the values.
    names = header[1:] if is_csv or header[0].lower() in ID_COLUMNS else header
    lines = lines[1:]
    if columns is not None and [n.lower() for n in names] != [c.lower() for c in columns]:
      raise errors.DataError(f"{path}: line {header_line}: header "
                             f"{' '.join(names)!r} is not the CelebA {what} header "
                             f"{' '.join(columns)!r}")
  files, rows, numbers = [], [], []
  for number, fields in lines:
    if len(fields) != len(names) + 1:
      raise errors.DataError(f"{path}: line {number} has {len(fields) - 1} {what} values, "
                             f"expected {len(names)} ({fields[0] if fields else 'empty'})")
    files.append(fields[0])
    rows.append(fields[1:])
    numbers.append(number)
  if not files:
    raise errors.DataError(f"{path}: no image lines")
  if expected_count is not None and expected_count != len(files):
    logging.warning("%s: the count line says %d images but %d are listed (a truncated "
                    "copy?)", path, expected_count, len(files))
  return files, list(names), rows, numbers


def _looks_like_row(fields):
  """A data row starts with an image file name and continues with numbers."""
  return "." in fields[0] and all(_is_number(v) for v in fields[1:])


def _is_number(value):
  try:
    float(value)
  except ValueError:
    return False
  return True


def _parse(path, files, names, rows, numbers, convert, allowed=None, describe=""):
  """Converts the string rows to an array; a bad value raises naming line, file, field."""
  out = []
  for file, row, number in zip(files, rows, numbers):
    values = []
    for name, value in zip(names, row):
      try:
        parsed = convert(value)
      except ValueError:
        parsed = None
      if parsed is None or (allowed is not None and parsed not in allowed):
        raise errors.DataError(f"{path}: line {number} ({file}), field {name!r}: {value!r} "
                               f"is not {describe}")
      values.append(parsed)
    out.append(values)
  return out


def read_attributes(path):
  """Parses `list_attr_celeba.txt` or `list_attr_celeba.csv`.

  Returns:
    (files list of N names, attribute names list of A, int8 array `[N, A]` of +1/-1;
    0 is accepted as "unknown").

  Raises:
    errors.DataError: the file is missing or malformed (naming the line and field).
  """
  files, names, rows, numbers = read_table(path, "attribute")
  values = _parse(path, files, names, rows, numbers, int, (-1, 0, 1), "-1 or 1")
  return files, names, np.array(values, np.int8)


def read_partition(path):
  """Parses `list_eval_partition.txt` or `.csv` into a dict file -> partition id (0, 1, 2).

  Raises:
    errors.DataError: missing or malformed file (naming the line and field).
  """
  files, names, rows, numbers = read_table(path, "partition", columns=("partition",))
  values = _parse(path, files, names, rows, numbers, int, (0, 1, 2),
                  "0 (train), 1 (val) or 2 (test)")
  return {file: row[0] for file, row in zip(files, values)}


def read_landmarks(path):
  """Parses `list_landmarks_align_celeba.txt` or `.csv`.

  Returns:
    dict file -> float32 `[5, 2]` pixel (x, y) in the 178x218 aligned image, in `LANDMARKS`
    order.

  Raises:
    errors.DataError: missing or malformed file (naming the line and field).
  """
  files, names, rows, numbers = read_table(path, "landmark", columns=LANDMARK_COLUMNS)
  values = _parse(path, files, names, rows, numbers, float, None, "a pixel coordinate")
  points = np.array(values, np.float32).reshape(-1, 5, 2)
  for file, number, row in zip(files, numbers, points):
    if not np.all(np.isfinite(row)):
      raise errors.DataError(f"{path}: line {number} ({file}): landmarks are not finite")
  return dict(zip(files, points))


def aligned_landmarks(points, resolution, crop=ALIGNED_CROP):
  """Maps `[..., 5, 2]` aligned-image landmarks through the square cut and the resize."""
  top, left, side, _ = crop
  points = np.asarray(points, np.float32)
  return (points - np.array([left, top], np.float32)) * (resolution / float(side))


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


def _listed_files(root, spec):
  """(files, attribute names, values or None, the list they came from)."""
  attr_path = find_list(root, ATTRIBUTE_FILES)
  if attr_path is not None:
    files, names, values = read_attributes(attr_path)
    return files, names, values, attr_path
  if spec.get("attributes"):
    raise errors.DataError(f"{root}: no {' or '.join(ATTRIBUTE_FILES)} (looked in the "
                           f"folder, Anno/ and Eval/) for the attribute expression "
                           f"{spec['attributes']!r}")
  part_path = find_list(root, PARTITION_FILES)
  if part_path is not None:
    return list(read_partition(part_path)), [], None, part_path
  folder = image_dir(root)
  if not os.path.isdir(folder):
    raise errors.DataError(f"{root}: no {' or '.join(ATTRIBUTE_FILES)} and no "
                           "img_align_celeba/ folder")
  return sorted(n for n in os.listdir(folder) if n.lower().endswith(".jpg")), [], None, folder


def face_set(spec, resolution, seed):
  """Builds a `faces.FaceSet` from a spec.

  Spec: `{"source": "celeba", "root": ..., "attributes": expression or None, "partition":
  "train"|"val"|"test"|None, "count": n or None, "on_bad_file": "raise"|"skip",
  "landmarks": "auto"|True|False}`. With "skip", missing or unreadable images are left out
  and counted in a logged warning (`faces.load_chosen`). Landmarks ("auto": when the
  landmark list is there) become `FaceSet.landmarks` `[N, 5, 2]` at `resolution`.

  Raises:
    errors.ConfigError: unknown partition or malformed expression.
    errors.DataError: missing or malformed lists, images, or an empty selection.
  """
  from aign_tf.data import faces  # pylint: disable=g-import-not-at-top
  root = spec["root"]
  files, names, values, list_path = _listed_files(root, spec)
  mask = np.ones(len(files), bool)
  expression = spec.get("attributes")
  if expression:
    mask &= select(expression, names, values)
  partition = spec.get("partition")
  if partition is not None:
    if partition not in PARTITIONS:
      raise errors.ConfigError(f"CelebA partition {partition!r} is unknown; use one of "
                               f"{sorted(PARTITIONS)}")
    part_path = find_list(root, PARTITION_FILES)
    if part_path is None:
      raise errors.DataError(f"{root}: no {' or '.join(PARTITION_FILES)} for partition "
                             f"{partition!r}")
    parts = read_partition(part_path)
    mask &= np.array([parts.get(f, -1) == PARTITIONS[partition] for f in files])
  chosen_files = [f for f, keep in zip(files, mask) if keep]
  if not chosen_files:
    raise errors.DataError(f"{list_path}: attribute expression {expression!r} (partition "
                           f"{partition}) selects no image")
  landmarks = _landmark_table(root, spec.get("landmarks", "auto"))
  folder = image_dir(root)
  on_bad_file = spec.get("on_bad_file", "raise")
  if on_bad_file == "raise":
    chosen = faces.choose(spec.get("count"), len(chosen_files), spec.get("seed", seed),
                          f"CelebA {expression!r}")
    for i in chosen[:1]:
      path = os.path.join(folder, chosen_files[i])
      if not os.path.isfile(path):
        raise errors.DataError(f"{path}: listed in {list_path} but missing")
  images, paths, skipped = faces.load_chosen(
      [os.path.join(folder, f) for f in chosen_files], spec.get("count"),
      spec.get("seed", seed), resolution, f"CelebA {folder} {expression!r}", ALIGNED_CROP,
      on_bad_file)
  points = None
  if landmarks is not None:
    table, table_path = landmarks
    missing = [os.path.basename(p) for p in paths if os.path.basename(p) not in table]
    if missing:
      raise errors.DataError(f"{table_path}: no landmarks for {missing[0]} "
                             f"({len(missing)} chosen images lack them)")
    points = aligned_landmarks(np.stack([table[os.path.basename(p)] for p in paths]),
                               resolution)
  return faces.FaceSet(images, [os.path.abspath(p) for p in paths], landmarks=points,
                       skipped=skipped)


def _landmark_table(root, option):
  """(file -> `[5, 2]`, path) from the landmark list, None when unused or ("auto") absent."""
  if option not in ("auto", True, False):
    raise errors.ConfigError(f"CelebA spec field 'landmarks' must be 'auto', True or False, "
                             f"got {option!r}")
  if option is False:
    return None
  path = find_list(root, LANDMARK_FILES)
  if path is None:
    if option is True:
      raise errors.DataError(f"{root}: no {' or '.join(LANDMARK_FILES)} (the spec asks for "
                             "landmarks)")
    return None
  return read_landmarks(path), path
