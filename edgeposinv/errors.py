"""Exceptions a user can act on.

Every error the library raises for a user mistake derives from :class:`EdgeposinvError`;
the CLI prints its message as one line and exits with status 1. Messages say what was
wrong, what was received and how to fix it.
"""


class EdgeposinvError(Exception):
    """Base class for problems the user can fix (bad input, missing extra, existing output)."""


class ConfigError(EdgeposinvError, ValueError):
    """An option or configuration value is out of range or inconsistent."""


class DatasetError(EdgeposinvError):
    """A dataset folder is missing, empty, or does not match what the command needs."""


class ModelError(EdgeposinvError):
    """A model file or run folder cannot be used (missing, truncated, not a classifier)."""


class ExportError(EdgeposinvError):
    """Conversion to TFLite failed or produced a model that does not pass its checks."""


class EvaluationError(EdgeposinvError):
    """An evaluation cannot run as asked (label mismatch, empty set, bad report folder)."""


class OutputExistsError(EdgeposinvError):
    """An output already exists and the command was not told it may replace it."""


class MissingExtraError(EdgeposinvError):
    """An optional dependency group is needed for this command but is not installed."""
