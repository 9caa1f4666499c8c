"""Reading ``manifest.jsonl`` the one way every command reads it: a bad line never crashes.

Each line is one JSON object describing one image (docs/dataset-format.md). A line that
is not UTF-8, not JSON, not an object, has no usable ``path`` (a relative path inside the
dataset: no ``..``, not absolute), has fields of the wrong type, or repeats an earlier
line's path is reported with its line number and skipped. A ``label`` that contradicts
the image's folder is reported too; the folder decides, so that entry is kept.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"


def _int_pair(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def check_entry(entry) -> str | None:
    """Why ``entry`` (one parsed line) is unusable, or ``None`` when it is fine."""
    if not isinstance(entry, dict):
        return f"a JSON {type(entry).__name__}, not an object"
    path = entry.get("path")
    if not isinstance(path, str) or not path.strip():
        return "no 'path' text field"
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute() or ":" in posix.parts[0] or ".." in posix.parts:
        return f"'path' {path!r} is not a relative path inside the dataset"
    if len(posix.parts) < 2:
        return f"'path' {path!r} is not inside a class folder (LABEL/FILE)"
    if "label" in entry and not isinstance(entry["label"], str):
        return "'label' is not text"
    session = entry.get("session")
    if session is not None and not isinstance(session, (str, int)):
        return "'session' is not text"
    guide = entry.get("guide")
    if guide is not None:
        if not isinstance(guide, dict):
            return "'guide' is not an object"
        for key in ("grid", "cell"):
            if key in guide and guide[key] is not None and not _int_pair(guide[key]):
                return f"'guide.{key}' is not a pair of integers"
        if "angle" in guide and guide["angle"] is not None and not isinstance(guide["angle"], str):
            return "'guide.angle' is not text"
    return None


def read_manifest(root: str | os.PathLike) -> tuple[list[dict], list[tuple[int, str]]]:
    """Usable entries of ``root/manifest.jsonl`` and ``(line number, problem)`` for the rest.

    Entries have their ``path`` normalised to forward slashes. A missing manifest gives
    two empty lists.
    """
    manifest = Path(root) / MANIFEST_NAME
    entries: list[dict] = []
    problems: list[tuple[int, str]] = []
    if not manifest.is_file():
        return entries, problems
    try:
        data = manifest.read_bytes()
    except OSError as e:
        return entries, [(0, f"cannot read the file ({e.strerror})")]
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append((lineno, "not UTF-8 text"))
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            problems.append((lineno, "not valid JSON"))
            continue
        why = check_entry(entry)
        if why:
            problems.append((lineno, why))
            continue
        path = PurePosixPath(entry["path"].replace("\\", "/")).as_posix()
        if path in seen:
            problems.append((lineno, f"repeats the path {path} of line {seen[path]}"))
            continue
        seen[path] = lineno
        folder = path.split("/", 1)[0]
        if isinstance(entry.get("label"), str) and entry["label"] != folder:
            problems.append(
                (lineno, f"'label' {entry['label']!r} contradicts its folder {folder!r} (kept)")
            )
        entries.append({**entry, "path": path})
    return entries, problems


def warn_problems(root: str | os.PathLike, problems: Sequence[tuple[int, str]]) -> None:
    """One warning listing the manifest's problem lines (``manifest.jsonl:LINE: why``)."""
    if problems:
        manifest = Path(root) / MANIFEST_NAME
        lines = "\n".join(f"  {manifest}:{n}: {why}" for n, why in problems)
        log.warning("%d line(s) of %s skipped or questionable:\n%s", len(problems), manifest, lines)
