"""The `on_bad_file` option of the folder loaders: stop at an unusable file, or skip it.

"raise" (the default) stops at the first unreadable, corrupt, empty or mislabelled file with
an `errors.DataError` naming it. "skip" leaves such files out, and the loader logs one warning
with how many it skipped and the first few reasons (each naming its file); a selection with
nothing usable left still raises, naming what was searched.
"""

from absl import logging

from aign_tf import errors

ON_BAD_FILE = ("raise", "skip")
SHOWN = 3  # Reasons quoted in the warning.


def check_option(on_bad_file, where):
  """Raises ConfigError unless `on_bad_file` is one of `ON_BAD_FILE`."""
  if on_bad_file not in ON_BAD_FILE:
    raise errors.ConfigError(f"{where}: on_bad_file must be one of {ON_BAD_FILE}, got "
                             f"{on_bad_file!r}")


def log_skipped(what, reasons):
  """Logs one warning line: the count of skipped files and the first `SHOWN` reasons.

  Args:
    what: the folder, pattern or spec the files came from.
    reasons: one `errors.DataError` message (naming its file) per skipped file.
  """
  if not reasons:
    return
  more = f"; and {len(reasons) - SHOWN} more" if len(reasons) > SHOWN else ""
  logging.warning("%s: skipped %d bad file(s) (on_bad_file='skip'): %s%s", what,
                  len(reasons), "; ".join(reasons[:SHOWN]), more)
