"""Writing a run folder without ever losing the run it replaces.

``train --overwrite`` sets the existing run aside (``RUN.previous``) and gives it back if
the new run fails, is interrupted (Ctrl-C, SIGTERM, SIGHUP) or the disk fills up before
the new run has a checkpoint to resume from; from the first checkpoint on, the new run is
kept (``train --resume RUN``) and the old one is deleted. Every failure message says
which of the two happened and where the runs are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from edgeposinv.errors import EdgeposinvError, Interrupted
from edgeposinv.util.files import SetAside, aside_path, describe_os_error
from edgeposinv.util.signals import interruption, signals_as_exceptions

log = logging.getLogger(__name__)

T = TypeVar("T")


def _resumable(run_dir: Path) -> int | None:
    from edgeposinv.training.checkpoints import read_state

    try:
        state = read_state(run_dir)
    except Exception:  # an unreadable state cannot be resumed
        return None
    return None if state is None else int(state.get("epoch", 0))


def with_note(e: BaseException, note: str) -> BaseException:
    """``e`` with ``note`` appended to its one-line message (an OS error becomes an OutputError)."""
    stopped = interruption(e)
    if stopped is not None:
        return Interrupted(f"{stopped}; {note}", stopped.signum)
    if isinstance(e, EdgeposinvError):
        e.args = (f"{e}; {note}",)
        return e
    if isinstance(e, OSError):
        from edgeposinv.errors import OutputError

        return OutputError(f"{describe_os_error(e)}; {note}")
    log.error(note)
    return e


def guarded_new_run(run_dir: Path, work: Callable[[], T]) -> T:
    """Run ``work`` (which writes ``run_dir``); an existing run is replaced only by success
    or by a resumable new run, and is otherwise put back."""
    aside = SetAside(run_dir, "run")
    with signals_as_exceptions():
        try:
            with aside:
                try:
                    return work()
                except BaseException:
                    if _resumable(run_dir) is not None:
                        aside.keep_new()
                    raise
        except BaseException as e:
            if isinstance(e, EdgeposinvError) and aside.aside is None and not aside.note:
                raise  # refused before anything was moved
            epoch = _resumable(run_dir)
            if epoch is not None:
                note = (
                    f"the new run stopped after epoch {epoch}; continue it with "
                    f"'edgeposinv train --resume {run_dir}'"
                    + (f" ({aside.note})" if aside.note else "")
                )
            else:
                note = aside.note or f"nothing was kept in {run_dir}"
            raise with_note(e, note) from None


def guarded_resume(run_dir: Path, work: Callable[[], T]) -> T:
    """Run ``work`` (resuming ``run_dir``); an interruption says the run can still be resumed."""
    with signals_as_exceptions():
        try:
            result = work()
        except BaseException as e:
            epoch = _resumable(run_dir)
            if epoch is None:
                raise
            raise with_note(
                e,
                f"{run_dir} is saved after epoch {epoch}; continue it with "
                f"'edgeposinv train --resume {run_dir}'",
            ) from None
    left = aside_path(run_dir)
    if left.exists():
        log.warning(
            "%s still holds the run that %s replaced; delete it if you no longer need it",
            left,
            run_dir,
        )
    return result
