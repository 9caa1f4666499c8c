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

from edgeposinv.data.dataset import MANIFEST_NAME as MANIFEST
from edgeposinv.data.images import is_image_name
from edgeposinv.device.adb_eval import CAPTURE_DIR, DeviceError, connect
from edgeposinv.util.files import atomic_write_text

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


def _read_manifest(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    entries = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s line %d is not JSON; kept as it is", path, n)
            entries.append({"_raw": line})
    return entries


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
    local = _read_manifest(dst / MANIFEST)
    known = {e.get("path") for e in local}
    new_lines = []
    for entry in _read_manifest(src / MANIFEST):
        if "_raw" in entry or not isinstance(entry.get("path"), str):
            continue
        path = renamed_paths.get(entry["path"], entry["path"])
        if path in known or not (dst / path).is_file():
            continue
        new_lines.append(json.dumps({**entry, "path": path}, ensure_ascii=False))
        known.add(path)
    if new_lines:
        old = (dst / MANIFEST).read_text("utf-8") if (dst / MANIFEST).is_file() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        atomic_write_text(dst / MANIFEST, old + "\n".join(new_lines) + "\n")
    return PullSummary(added, present, renamed, len(new_lines), tuple(labels))


def device_pull(
    local_dir: str | os.PathLike,
    serial: str | None = None,
    adb_path: str | None = None,
    remote_dir: str = CAPTURE_DIR,
) -> PullSummary:
    """Pull the app's capture folder from the phone and merge it into ``local_dir``."""
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
