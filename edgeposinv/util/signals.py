"""Signals as exceptions, so that cleanup code runs on SIGTERM and SIGHUP as it does on Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from edgeposinv.errors import Interrupted

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _raise(signum: int, frame) -> None:
    raise Interrupted(f"Interrupted by {signal.Signals(signum).name}", signum)


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise :class:`Interrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def interruption(e: BaseException) -> Interrupted | None:
    """``e`` as :class:`Interrupted` when it is Ctrl-C or a signal, else ``None``."""
    if isinstance(e, Interrupted):
        return e
    if isinstance(e, KeyboardInterrupt):
        return Interrupted("Interrupted (Ctrl-C)", signal.SIGINT)
    return None
