"""Checks for optional dependency groups, so a missing extra is one actionable line."""

from __future__ import annotations

import importlib.util

from edgeposinv.errors import MissingExtraError

_TRAIN_MODULES = ("tensorflow", "tf_keras")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require_train_extra(what: str = "training and export") -> None:
    """Raise :class:`MissingExtraError` unless TensorFlow and tf_keras are importable."""
    missing = [name for name in _TRAIN_MODULES if not _importable(name)]
    if missing:
        raise MissingExtraError(
            f"{what} needs the 'train' extra ({', '.join(missing)} not installed); "
            "install it with: pip install 'edgeposinv[train]'"
        )
