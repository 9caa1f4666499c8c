"""Writing captured images and their ``manifest.jsonl`` lines so that nothing is ever lost.

Each image goes to a hidden temporary file in its label folder, is flushed to disk, and is
then linked to its final name ``<session>_<seq>.<ext>`` (a link never replaces an existing
file). Only then is its manifest line appended; if that append fails, the image is removed
again and the manifest cut back, so every listed image is complete and every complete
image is listed. The schema is docs/dataset-format.md.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import time
from pathlib import Path

import cv2
import numpy as np

from edgeposinv.data.manifest import MANIFEST_NAME, read_manifest, warn_problems
from edgeposinv.errors import CaptureWriteError, ConfigError, ParameterError
from edgeposinv.util.files import atomic_write_text

log = logging.getLogger(__name__)

FORMATS = {"jpg": ".jpg", "png": ".png"}
_NAME_RE = re.compile(r"^(?P<session>.+)_(?P<seq>\d{4,})\.[A-Za-z0-9]+$")
_TMP_RE = re.compile(r"^\..+_\d{4,}\.[A-Za-z0-9]+\.tmp$")


def new_session_id() -> str:
    """``YYYYmmddTHHMMSS`` (UTC) plus a short random suffix, e.g. ``20261125T234501-a3f2``."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


def utc_timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def check_label(label: str) -> str:
    """A label must be usable as one folder name."""
    if (
        not label
        or label.strip() != label
        or label.startswith(".")
        or any(c in label for c in '/\\:*?"<>|')
    ):
        raise ConfigError(
            f"The label {label!r} cannot be a folder name; use letters, digits, '-' or '_' "
            "(no slashes, no leading dot or spaces)"
        )
    return label


def _describe(e: OSError) -> str:
    return os.strerror(e.errno) if e.errno else str(e)


class DatasetWriter:
    """Appends images to ``root/<label>/`` and lines to ``root/manifest.jsonl`` for one session."""

    def __init__(
        self,
        root: str | os.PathLike,
        image_format: str = "jpg",
        session: str | None = None,
        jpeg_quality: int = 95,
    ) -> None:
        if image_format not in FORMATS:
            raise ParameterError(
                "image_format", image_format, f"must be one of: {', '.join(FORMATS)}"
            )
        self.root = Path(root)
        self.suffix = FORMATS[image_format]
        self.jpeg_quality = jpeg_quality
        self.session = session or new_session_id()
        self.manifest = self.root / MANIFEST_NAME
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise CaptureWriteError(
                f"{self.root} exists and is not a folder; choose another 'out_dir'",
                params=("out_dir",),
            ) from None
        except OSError as e:
            raise CaptureWriteError(
                f"Cannot create the dataset folder {self.root}: {_describe(e)}"
            ) from None
        if not os.access(self.root, os.W_OK):
            raise CaptureWriteError(
                f"The dataset folder {self.root} is not writable; fix its permissions or choose "
                "another 'out_dir'",
                params=("out_dir",),
            )
        self._remove_partial_files()
        self._end_manifest_with_newline()
        self.next_seq = self._last_seq() + 1

    # -- start-up -----------------------------------------------------------------------
    def _label_dirs(self) -> list[Path]:
        return [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def _remove_partial_files(self) -> None:
        """Temporary files of a run that was killed hard hold no complete image: remove them."""
        for d in self._label_dirs():
            for p in d.iterdir():
                if _TMP_RE.match(p.name):
                    log.info("Removing %s (an incomplete image left by an interrupted capture)", p)
                    with contextlib.suppress(OSError):
                        p.unlink()

    def _end_manifest_with_newline(self) -> None:
        if self.manifest.is_file() and self.manifest.stat().st_size:
            with self.manifest.open("rb+") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    log.warning(
                        "%s ended in a partial line; it is left as is and a new line started",
                        self.manifest,
                    )
                    f.write(b"\n")

    def _last_seq(self) -> int:
        """The highest sequence number in the manifest or in file names (0 if none)."""
        seqs = [0]
        entries, problems = read_manifest(self.root)
        warn_problems(self.root, problems)
        seqs += [e["seq"] for e in entries if isinstance(e.get("seq"), int)]
        for d in self._label_dirs():
            for p in d.iterdir():
                m = _NAME_RE.match(p.name)
                if m:
                    seqs.append(int(m["seq"]))
        return max(seqs)

    # -- writing ------------------------------------------------------------------------
    def encode(self, image_bgr: np.ndarray) -> bytes:
        params = [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality] if self.suffix == ".jpg" else []
        ok, buf = cv2.imencode(self.suffix, image_bgr, params)
        if not ok:
            raise CaptureWriteError(
                f"OpenCV could not encode a {image_bgr.shape} frame as {self.suffix}"
            )
        return buf.tobytes()

    def write(self, label: str, data: bytes, suffix: str, fields: dict) -> dict:
        """Store one encoded image under ``label`` and append its manifest line; return the entry."""
        folder = self.root / label
        try:
            folder.mkdir(exist_ok=True)
        except OSError as e:
            raise self._error(folder, e) from None
        while True:
            name = f"{self.session}_{self.next_seq:04d}{suffix}"
            final = folder / name
            tmp = folder / f".{name}.tmp"
            try:
                self._write_file(tmp, data)
                placed = self._place(tmp, final)
            except OSError as e:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise self._error(final, e) from None
            if placed:
                break
            self.next_seq += 1  # someone else's file has this name: never overwrite it
        entry = {
            "path": f"{label}/{name}",
            "label": label,
            "session": self.session,
            "seq": self.next_seq,
            **fields,
        }
        self.next_seq += 1
        try:
            self._append_line(json.dumps(entry, ensure_ascii=False) + "\n")
        except OSError as e:
            with contextlib.suppress(OSError):
                final.unlink()
            raise self._error(self.manifest, e) from None
        return entry

    @staticmethod
    def _write_file(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _place(tmp: Path, final: Path) -> bool:
        """Give ``tmp`` the name ``final`` unless that exists; False if it does."""
        try:
            os.link(tmp, final)
        except FileExistsError:
            tmp.unlink()
            return False
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            if final.exists():  # file systems without hard links (FAT on SD cards)
                tmp.unlink()
                return False
            os.rename(tmp, final)
            return True
        tmp.unlink()
        return True

    def _append_line(self, line: str) -> None:
        data = line.encode("utf-8")
        fd = os.open(self.manifest, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def undo(self, entry: dict) -> None:
        """Remove a kept image: its manifest line first (atomically), then the file."""
        try:
            lines = self.manifest.read_text(encoding="utf-8").splitlines(keepends=True)
            for i in range(len(lines) - 1, -1, -1):
                try:
                    if json.loads(lines[i]).get("path") == entry["path"]:
                        del lines[i]
                        break
                except (json.JSONDecodeError, AttributeError):
                    continue
            atomic_write_text(self.manifest, "".join(lines))
            with contextlib.suppress(FileNotFoundError):
                (self.root / entry["path"]).unlink()
        except OSError as e:
            raise CaptureWriteError(
                f"Cannot undo {entry['path']}: {_describe(e)}; the image and its "
                f"manifest line are left as they were"
            ) from None

    def _error(self, path: Path, e: OSError) -> CaptureWriteError:
        return CaptureWriteError(
            f"Cannot write {path}: {_describe(e)}. Capture stopped; every image listed in "
            f"{self.manifest} is complete and kept. Free space or fix permissions, then run again "
            "(numbering continues)."
        )
