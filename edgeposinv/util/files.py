"""Safe outputs: checked before the work, written atomically, never losing what was there.

- :func:`check_can_write` — before any expensive work: refuse an existing output unless
  told to replace it, and make sure the location can be written at all (a read-only
  folder, a parent that is a file), so a command fails in a second, not after minutes.
- :func:`check_not_in_dataset` — outputs never go inside a dataset's class folders,
  where they would count as training images (or as a new class).
- :func:`atomic_write_bytes` / :func:`atomic_dir` — temp file (or folder) in the
  destination's folder, then a rename: a failure, a full disk or Ctrl-C never leaves a
  half-written output. New files get the normal permissions (0666 less the umask, e.g.
  0644); a replaced file keeps its mode.
- :class:`SetAside` — ``--overwrite`` of a folder: the old one is moved aside and given
  back if the new one fails; the user is told where it is whenever it cannot be.
- OS errors become :class:`~edgeposinv.errors.OutputError` naming the path and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from edgeposinv.errors import OutputError, OutputExistsError

log = logging.getLogger(__name__)

_FIXES = {
    errno.ENOSPC: "free some space or write somewhere else",
    errno.EDQUOT: "free some space or write somewhere else",
    errno.EROFS: "choose another location",
    errno.EACCES: "you may not write there; choose another location or fix its permissions",
    errno.EPERM: "you may not write there; choose another location or fix its permissions",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another location",
    errno.EISDIR: "a folder of that name is in the way; choose another name",
    errno.ENAMETOOLONG: "choose a shorter name",
}


def describe_os_error(
    e: OSError, path: str | os.PathLike | None = None, verb: str = "write"
) -> str:
    """One line: the path, what the system said and what to do about it."""
    where = path if path is not None else (e.filename or "?")
    why = e.strerror or str(e)
    fix = _FIXES.get(e.errno or 0)
    return f"Cannot {verb} {where}: {why}" + (f"; {fix}" if fix else "")


def output_error(e: OSError, path: str | os.PathLike | None = None) -> OutputError:
    return OutputError(describe_os_error(e, path))


def umask() -> int:
    """The process's umask (read without changing it where /proc allows)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _file_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The file gets the mode of the file it replaces, or 0666 less the umask. An OS error
    (full disk, read-only folder) leaves ``path`` as it was and raises :class:`OutputError`.
    """
    path = Path(path)
    mode = _file_mode(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise output_error(e, path) from None
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def atomic_write_files(files: dict[Path, bytes]) -> None:
    """Write several files so that either all of them appear or none does.

    Every file is first written in full to a temporary name beside it (where a full disk
    shows up); only then are they renamed into place.
    """
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            mode = _file_mode(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                temps.append((tmp, path))
                with os.fdopen(fd, "wb") as f:
                    os.fchmod(f.fileno(), mode)
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                raise output_error(e, path) from None
        for tmp, path in temps:
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise output_error(e, path) from None
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def atomic_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy a file atomically (temp + rename in ``dst``'s folder)."""
    atomic_write_bytes(dst, Path(src).read_bytes())


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def check_location(path: str | os.PathLike) -> None:
    """Raise :class:`OutputError` now if ``path`` could not be created or written later.

    Finds the nearest existing folder on the way to ``path`` and creates (and removes) a
    probe file in it, so a read-only folder, a read-only file system or a parent that is
    a file is reported before any work. Nothing is left behind.
    """
    path = Path(path)
    base = _nearest_existing(path.parent if not path.is_dir() else path)
    if not base.is_dir():
        raise OutputError(
            f"Cannot write {path}: {base} is a file, not a folder; choose another location"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".edgeposinv-probe.", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise output_error(e, path) from None


def check_can_write(path: str | os.PathLike, overwrite: bool, param: str = "overwrite") -> None:
    """Refuse an existing non-empty file or folder unless ``overwrite``; check the location.

    Call it before the expensive work: see :func:`check_location`.
    """
    path = Path(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())) and not overwrite:
        raise OutputExistsError(
            f"{path} already exists; choose another path or set '{param}' to replace it",
            params=(param,),
        )
    check_location(path)


def check_not_in_dataset(
    out: str | os.PathLike, datasets: Iterable[str | os.PathLike], is_dir: bool, param: str = "out"
) -> None:
    """Refuse an output that would land inside a dataset's class folders.

    A file directly in ``DATA/`` (a chart, a manifest) is fine; a folder directly in
    ``DATA/`` would become a new class, and anything inside ``DATA/<label>/`` would be
    taken for a training image.
    """
    target = Path(out).resolve()
    for data in datasets:
        root = Path(data).resolve()
        try:
            rel = target.relative_to(root)
        except ValueError:
            continue
        if not rel.parts:
            raise OutputError(
                f"'{param}' {out} is the dataset folder {data} itself; write it somewhere else",
                params=(param,),
            )
        if is_dir or len(rel.parts) > 1:
            what = "a new class folder of" if len(rel.parts) == 1 else "inside a class folder of"
            raise OutputError(
                f"'{param}' {out} would be {what} the dataset {data}, where it would be read as "
                "training data; write it outside the dataset folder",
                params=(param,),
            )


def _fix_dir_mode(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, 0o777 & ~umask())


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name and move it into place only on success.

    Yields the temporary folder. If the body raises (or is interrupted), the temporary
    folder is removed and any existing ``path`` is left untouched.
    """
    path = Path(path)
    check_can_write(path, overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as e:
        raise output_error(e, path) from None
    _fix_dir_mode(tmp)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        if path.exists():
            backup = path.with_name(f".{path.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise output_error(e, path) from None


def aside_path(path: str | os.PathLike) -> Path:
    """Where :class:`SetAside` keeps the folder it replaces: ``NAME.previous`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.name}.previous")


class SetAside:
    """Replace the folder ``path`` without ever losing it.

    On entry an existing ``path`` is renamed to ``NAME.previous`` (refused if that name is
    taken: it holds an earlier replaced folder). Leaving with an exception removes what
    was written to ``path`` and renames the old folder back, unless :meth:`keep_new` was
    called; leaving normally (or after ``keep_new``) deletes the old folder. ``note``
    says, for the error message, where things stand.
    """

    def __init__(self, path: str | os.PathLike, what: str = "folder") -> None:
        self.path = Path(path)
        self.what = what
        self.aside: Path | None = None
        self._keep_new = False
        self.note = ""

    @staticmethod
    def check_free(path: str | os.PathLike, what: str = "folder") -> None:
        """Refuse now if an earlier replacement of ``path`` left its old folder aside."""
        path = Path(path)
        aside = aside_path(path)
        if os.path.lexists(aside):
            raise OutputExistsError(
                f"{aside} holds an earlier {what} that an interrupted replacement of "
                f"{path} set aside; look at it, then move it back (mv {aside} {path}) "
                "or delete it, and try again"
            )

    def __enter__(self) -> SetAside:
        self.check_free(self.path, self.what)
        aside = aside_path(self.path)
        if self.path.exists():
            try:
                os.replace(self.path, aside)
            except OSError as e:
                raise output_error(e, self.path) from None
            self.aside = aside
            log.info(
                "set the existing %s aside at %s until the new one can be resumed", self.what, aside
            )
        return self

    def keep_new(self) -> None:
        """The new folder is worth keeping even though its work failed (e.g. resumable)."""
        self._keep_new = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or self._keep_new:
            if self.aside is not None:
                shutil.rmtree(self.aside, ignore_errors=True)
                if exc_type is not None:
                    self.note = f"the previous {self.what} was replaced"
            return
        if self.aside is None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.note = f"nothing was kept in {self.path}"
            return
        try:
            shutil.rmtree(self.path, ignore_errors=True)
            os.replace(self.aside, self.path)
            self.note = f"{self.path} is back as it was before"
        except OSError:
            self.note = (
                f"the previous {self.what} could not be put back and is at {self.aside}; "
                f"move it back with: mv {self.aside} {self.path}"
            )


def read_json(
    path: str | os.PathLike, error: type[Exception], fix: str, kind: type | None = dict
) -> Any:
    """Parse the JSON file ``path``; any problem raises ``error`` naming the file and ``fix``."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise error(f"{path} is missing; {fix}") from None
    except IsADirectoryError:
        raise error(f"{path} is a folder, not a JSON file; {fix}") from None
    except UnicodeDecodeError:
        raise error(f"{path} is not UTF-8 text (corrupt?); {fix}") from None
    except json.JSONDecodeError as e:
        raise error(f"{path} is not valid JSON (line {e.lineno}: {e.msg}); {fix}") from None
    except OSError as e:
        raise error(f"Cannot read {path}: {e.strerror}; {fix}") from None
    if kind is not None and not isinstance(obj, kind):
        raise error(
            f"{path} holds a JSON {type(obj).__name__}, not the {kind.__name__} expected; {fix}"
        )
    return obj
