"""Exceptions a user can act on — every error class of the project lives here.

Every error the library raises for a user mistake derives from :class:`EdgeposinvError`;
the CLI prints its message as one line and exits with status 1. Messages say what was
wrong, what was received and how to fix it, in one format:

    'max_rotation_deg' of AugmentConfig must be in [0, 180]; got 270.

The library speaks of its own parameters (:class:`ParameterError`); only ``commands/``
knows the command-line flags and turns a parameter error into a usage error (exit 2)
naming the flag. See docs/errors.md.
"""

from __future__ import annotations

from typing import Any


class EdgeposinvError(Exception):
    """Base class for problems the user can fix (bad input, missing extra, existing output)."""

    #: Exit status of the CLI for this error.
    exit_code = 1

    def __init__(self, message: str = "", *, params: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        #: Parameters the message names as 'name'; the CLI writes their flags instead.
        self.params = params


class ConfigError(EdgeposinvError, ValueError):
    """An option or configuration value is out of range or inconsistent."""


class ParameterError(ConfigError):
    """One named parameter has a value it may not have.

    ``ParameterError("max_rotation_deg", 270, "must be in [0, 180]", owner="AugmentConfig")``
    reads "'max_rotation_deg' of AugmentConfig must be in [0, 180]; got 270." and a fix,
    when given, follows after "; ". The CLI maps ``param`` to its flag (exit 2).
    """

    def __init__(
        self,
        param: str,
        value: Any,
        expected: str,
        owner: str | None = None,
        fix: str | None = None,
        related: tuple[str, ...] = (),
    ) -> None:
        self.param, self.value, self.expected, self.owner, self.fix = (
            param,
            value,
            expected,
            owner,
            fix,
        )
        super().__init__(self.describe(), params=(param, *related))

    def describe(self) -> str:
        """The whole message: "'param' of Owner must ...; got VALUE[; fix]."."""
        who = f"'{self.param}'" + (f" of {self.owner}" if self.owner else "")
        return f"{who} {self.detail()}"

    def detail(self) -> str:
        """The message without the parameter's name (the CLI puts the flag there)."""
        got = self.value if isinstance(self.value, (int, float)) else repr(self.value)
        return f"{self.expected}; got {got}" + (f"; {self.fix}." if self.fix else ".")


class DatasetError(EdgeposinvError):
    """A dataset folder is missing, empty, or does not match what the command needs."""


class ImageDecodeError(DatasetError):
    """A file that should be an image cannot be decoded."""


class ManifestError(DatasetError):
    """A ``manifest.jsonl`` (or another JSON file a command reads) cannot be used."""


class ModelError(EdgeposinvError):
    """A model file or run folder cannot be used (missing, truncated, not a classifier)."""


class ExportError(EdgeposinvError):
    """Conversion to TFLite failed or produced a model that does not pass its checks."""


class EvaluationError(EdgeposinvError):
    """An evaluation cannot run as asked (label mismatch, empty set, bad report folder)."""


class OutputExistsError(EdgeposinvError):
    """An output already exists and the command was not told it may replace it."""


class OutputError(EdgeposinvError):
    """An output cannot be written where it was asked (read-only, a file in the way, full disk)."""


class MissingExtraError(EdgeposinvError):
    """An optional dependency group is needed for this command but is not installed."""


class SourceError(EdgeposinvError):
    """A capture frame source cannot be opened or stopped delivering frames."""


class CaptureWriteError(DatasetError):
    """The dataset folder cannot take more images (disk full, not writable)."""


class ApkBuildError(EdgeposinvError):
    """The APK cannot be built: a tool, a dependency or the app's project is missing or failed."""


class DeviceError(EdgeposinvError):
    """adb, the phone or the app is not in a state to do what was asked."""


class Interrupted(EdgeposinvError):
    """A signal (Ctrl-C, SIGTERM, SIGHUP) stopped a command; the message says what was kept."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
