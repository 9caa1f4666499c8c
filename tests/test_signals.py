"""A signal whose exception native code swallowed is still acted on (util.signals)."""

from __future__ import annotations

import os
import signal

import pytest

from edgeposinv.errors import Interrupted
from edgeposinv.util.signals import raise_if_pending, signals_as_exceptions


@pytest.fixture(autouse=True)
def _ctrl_c_live():
    """These tests are about a live Ctrl-C, but Python keeps SIGINT ignored when it starts
    with it ignored (a background job of a non-interactive shell, as some CI runners
    launch): make it live for each test, then put back what was there."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _swallowed(sig: int) -> None:
    """Deliver ``sig`` where its exception is lost, as TensorFlow's C++ callbacks can do."""
    try:
        os.kill(os.getpid(), sig)
        signal.sigtimedwait([], 0)  # a syscall: the handler has run when kill returns
    except (Interrupted, KeyboardInterrupt):
        pass


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_swallowed_signal_is_raised_at_the_next_safe_point(sig):
    with signals_as_exceptions():
        _swallowed(sig)
        with pytest.raises(Interrupted) as caught:
            raise_if_pending()
        assert caught.value.signum == sig
        raise_if_pending()  # raised once, then forgotten


def test_a_swallowed_ctrl_c_is_raised_as_keyboard_interrupt():
    with signals_as_exceptions():
        _swallowed(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            raise_if_pending()


def test_nothing_is_pending_outside_the_block_or_after_it():
    with signals_as_exceptions():
        _swallowed(signal.SIGTERM)
    raise_if_pending()  # the block ended: its signals are forgotten
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
