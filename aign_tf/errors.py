"""Errors raised on bad user input: configuration, data files and shapes.

Each carries a one-line message naming the offending file, field, shape or gin binding, so
entry points can print it without a traceback.
"""


class AIGNError(Exception):
  """Base class of the errors aign_tf raises on bad input."""


class ConfigError(AIGNError, ValueError):
  """A gin binding, flag or option is missing, unknown, of the wrong type or conflicting."""


class DataError(AIGNError, ValueError):
  """A data file is missing, unreadable, malformed or has the wrong shape."""


class WriteError(AIGNError, OSError):
  """An output (checkpoint, config, report, export) cannot be written: a read-only or full
  disk, a missing permission. The message names the path."""
