"""Pulling a dataset captured by the Android app into a local dataset folder.

The phone's capture folder is copied to a temporary folder with ``adb pull``, then merged:
new images are added, images already present (same bytes) are skipped, and an image whose
name is taken by a different local file is stored under a new name — nothing local is ever
overwritten. ``manifest.jsonl`` gets the new images' lines appended (rewritten atomically).
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgeposinv.data.images import is_image_name
from edgeposinv.data.manifest import MANIFEST_NAME as MANIFEST
from edgeposinv.data.manifest import read_manifest
from edgeposinv.device.adb import CAPTURE_DIR, connect
from edgeposinv.errors import DeviceError
from edgeposinv.util.files import atomic_write_bytes

__all__ = [
    "PullSummary",
    "device_pull",
    "merge_dataset",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PullSummary:
    added: int
    already_present: int
    renamed: int
    manifest_lines_added: int
    labels: tuple[str, ...]


def _place_for(src: Path, target: Path) -> tuple[Path, bool]:
    """Where ``src`` goes when ``target`` holds other bytes: ``(path, already_there)``.

    A copy renamed by an earlier pull (``<stem>-device<N>``) with the same bytes counts as there.
    """
    for i in range(1, 10_000):
        candidate = target.with_name(f"{target.stem}-device{i}{target.suffix}")
        if not candidate.exists():
            return candidate, False
        if filecmp.cmp(src, candidate, shallow=False):
            return candidate, True
    raise DeviceError(f"cannot find a free name for {target}")


def _copy_new(src: Path, dst: Path) -> None:
    """Copy to a temporary name, then link into place: fails rather than replace an existing file."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    try:
        os.link(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def merge_dataset(src: Path, dst: Path) -> PullSummary:
    """Merge dataset folder ``src`` into ``dst`` without overwriting anything in ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    renamed_paths: dict[str, str] = {}
    added = present = renamed = 0
    labels = sorted(d.name for d in src.iterdir() if d.is_dir() and not d.name.startswith("."))
    for label in labels:
        (dst / label).mkdir(exist_ok=True)
        for f in sorted((src / label).iterdir()):
            if not (f.is_file() and is_image_name(f)):
                continue
            target = dst / label / f.name
            if target.exists():
                if filecmp.cmp(f, target, shallow=False):
                    present += 1
                    continue
                new, there = _place_for(f, target)
                renamed_paths[f"{label}/{f.name}"] = f"{label}/{new.name}"
                if there:
                    present += 1
                    continue
                log.warning(
                    "%s exists with other content; the phone's image is stored as %s",
                    target,
                    new.name,
                )
                target = new
                renamed += 1
            _copy_new(f, target)
            added += 1
    local, _ = read_manifest(dst)  # the local file's own problem lines stay as they are
    known = {e["path"] for e in local}
    new_lines = []
    phone_entries, problems = read_manifest(src)
    if problems:
        log.warning(
            "%d line(s) of the phone's %s were not copied:\n%s",
            len(problems),
            MANIFEST,
            "\n".join(f"  line {n}: {why}" for n, why in problems),
        )
    for entry in phone_entries:
        path = renamed_paths.get(entry["path"], entry["path"])
        if path in known or not (dst / path).is_file():
            continue
        new_lines.append(json.dumps({**entry, "path": path}, ensure_ascii=False))
        known.add(path)
    if new_lines:
        old = (dst / MANIFEST).read_bytes() if (dst / MANIFEST).is_file() else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        atomic_write_bytes(dst / MANIFEST, old + ("\n".join(new_lines) + "\n").encode("utf-8"))
    return PullSummary(added, present, renamed, len(new_lines), tuple(labels))


def device_pull(
    local_dir: str | os.PathLike,
    serial: str | None = None,
    adb_path: str | None = None,
    remote_dir: str = CAPTURE_DIR,
) -> PullSummary:
    """Pull the app's capture folder from the phone and merge it into ``local_dir``."""
    from edgeposinv.util.files import check_location

    if Path(local_dir).exists() and not Path(local_dir).is_dir():
        raise DeviceError(f"{local_dir} exists and is not a folder; give a dataset folder")
    check_location(local_dir)  # before the phone's files travel
    adb = connect(serial, adb_path)
    if not adb.exists(remote_dir):
        raise DeviceError(
            f"No captured dataset on {adb.serial} ({remote_dir} does not exist); capture some images first"
        )
    local_dir = Path(local_dir)
    if local_dir.exists() and not local_dir.is_dir():
        raise DeviceError(f"{local_dir} exists and is not a folder; give a dataset folder")
    local_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=local_dir.parent, prefix=".device-pull.") as tmp:
        adb.check("pull", remote_dir, tmp, what="pulling the captured dataset")
        pulled = Path(tmp) / Path(remote_dir).name
        if not pulled.is_dir():
            raise DeviceError(
                f"adb pull of {remote_dir} gave no folder; is the device storage readable?"
            )
        return merge_dataset(pulled, local_dir)
