"""Signals as exceptions, so that cleanup code runs on SIGTERM and SIGHUP as it does on Ctrl-C.

A handler that raises is not always heard: when the signal arrives while native code (here,
TensorFlow building its input pipeline) is calling back into Python, the exception can be
swallowed there, and the command would carry on as if nothing had happened (measured: a
SIGHUP during the first epoch, the run then trained to the end and exited 0). So every
handled signal is also remembered, and long loops call :func:`raise_if_pending` at safe
points (the training callback does, after every batch).

Loops that must finish the item in hand (capture writing an image) use
:func:`stop_on_signals` instead: the signal only sets a flag that the loop reads.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from edgeposinv.errors import Interrupted

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_pending: list[int] = []  # signals raised inside the block; cleared on entry and on raise


def _raise(signum: int, frame) -> None:
    _pending.append(signum)
    raise Interrupted(f"Interrupted by {signal.Signals(signum).name}", signum)


def _keyboard_interrupt(signum: int, frame) -> None:
    _pending.append(signum)
    raise KeyboardInterrupt


@contextlib.contextmanager
def _handled(handlers: dict) -> Iterator[None]:
    """``handlers`` (signal -> handler) installed inside the block, the previous ones after."""
    previous = {s: signal.signal(s, h) for s, h in handlers.items()}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise :class:`Interrupted`, Ctrl-C raises
    ``KeyboardInterrupt`` as usual (main thread only); each is remembered for
    :func:`raise_if_pending`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _pending.clear()
    handlers = {s: _raise for s in _SIGNALS}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        handlers[signal.SIGINT] = _keyboard_interrupt
    try:
        with _handled(handlers):
            yield
    finally:
        _pending.clear()


def raise_if_pending() -> None:
    """Raise the interruption of a signal whose exception was swallowed on the way."""
    if _pending:
        signum = _pending[0]
        _pending.clear()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Interrupted(f"Interrupted by {signal.Signals(signum).name}", signum)


def interruption(e: BaseException) -> Interrupted | None:
    """``e`` as :class:`Interrupted` when it is Ctrl-C or a signal, else ``None``."""
    if isinstance(e, Interrupted):
        return e
    if isinstance(e, KeyboardInterrupt):
        return Interrupted("Interrupted (Ctrl-C)", signal.SIGINT)
    return None


class StopFlag:
    """Set by :func:`stop_on_signals`: the signal that asked to stop, or ``None``."""

    signum: int | None = None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """SIGINT/SIGTERM only set a flag: the image being written is finished, then the loop stops."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, _frame) -> None:
        flag.signum = signum

    with _handled({signal.SIGINT: handler, signal.SIGTERM: handler}):
        yield flag
