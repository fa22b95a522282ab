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
