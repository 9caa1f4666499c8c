"""Dataset folders: ``DATA/<label>/*.jpg|png|...`` plus an optional ``manifest.jsonl``.

Labels are the sub-folder names, sorted. Images are decoded with the project's one
policy (:mod:`edgeposinv.data.images`) and prepared with the input contract
(:mod:`edgeposinv.tflite.preprocess`). Unreadable files are collected and reported in one
warning, never silently dropped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeposinv.data.images import IMAGE_EXTENSIONS, ImageDecodeError, is_image_name, read_rgb
from edgeposinv.data.manifest import MANIFEST_NAME as MANIFEST_NAME  # re-exported
from edgeposinv.data.manifest import read_manifest, warn_problems
from edgeposinv.errors import DatasetError
from edgeposinv.tflite.open_set import RESERVED_LABEL
from edgeposinv.tflite.preprocess import prepare
from edgeposinv.util.progress import progress

__all__ = [
    "DatasetIndex",
    "ImageRecord",
    "LoadedImages",
    "MANIFEST_NAME",
    "check_dataset_dir",
    "list_unknown_images",
    "load_images",
    "load_unknown_images",
    "reserved_images",
    "scan_dataset",
    "split_indices",
    "warn_skipped",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageRecord:
    path: Path
    label: str
    session: str | None = None


@dataclass(frozen=True)
class DatasetIndex:
    """The files of a dataset folder, before decoding."""

    root: Path
    labels: tuple[str, ...]
    records: tuple[ImageRecord, ...]
    skipped: tuple[tuple[Path, str], ...] = ()


@dataclass
class LoadedImages:
    """Decoded, contract-prepared images of a dataset (``images`` is ``(N, S, S, 3)`` uint8)."""

    root: Path
    labels: tuple[str, ...]
    images: np.ndarray
    label_ids: np.ndarray
    paths: list[Path]
    sessions: list[str | None]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    # Several dataset folders (edgeposinv.data.folders): each image's folder index and the roots.
    folder_ids: np.ndarray | None = None
    roots: tuple[Path, ...] = ()

    def relative_paths(self) -> list[str]:
        """Each image's path relative to its own dataset folder."""
        if self.folder_ids is None:
            return [p.relative_to(self.root).as_posix() for p in self.paths]
        return [
            p.relative_to(self.roots[f]).as_posix() for p, f in zip(self.paths, self.folder_ids)
        ]

    @property
    def folders(self) -> np.ndarray:
        """Each image's folder index (all 0 for one folder)."""
        if self.folder_ids is None:
            return np.zeros(len(self.paths), np.int64)
        return self.folder_ids


def _read_manifest_sessions(root: Path) -> dict[str, str]:
    """Map relative image path → capture session, from ``manifest.jsonl`` when present."""
    entries, problems = read_manifest(root)
    warn_problems(root, problems)
    return {e["path"]: str(e["session"]) for e in entries if e.get("session") is not None}


def check_dataset_dir(root: Path) -> None:
    """A dataset argument must be an existing folder; say which of the two it is not."""
    if root.is_file():
        raise DatasetError(
            f"{root} is a file, not a dataset folder (expected DATA/<label>/<images>)"
        )
    if not root.is_dir():
        raise DatasetError(f"Dataset folder {root} does not exist (expected DATA/<label>/<images>)")


def scan_dataset(root: str | os.PathLike, min_classes: int = 2) -> DatasetIndex:
    """List the images of ``root`` by class folder; raise :class:`DatasetError` if unusable."""
    root = Path(root)
    check_dataset_dir(root)
    # DATA/_background holds images of none of the classes: never a class (reserved_images)
    class_dirs = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name != RESERVED_LABEL
    )
    if len(class_dirs) < min_classes:
        found = ", ".join(p.name for p in class_dirs) or "none"
        raise DatasetError(
            f"{root} has {len(class_dirs)} class folder(s) ({found}); need at least "
            f"{min_classes}: one sub-folder per label, e.g. {root}/cat/*.jpg and {root}/dog/*.jpg"
        )
    sessions = _read_manifest_sessions(root)
    records: list[ImageRecord] = []
    skipped: list[tuple[Path, str]] = []
    for class_dir in class_dirs:
        n_before = len(records)
        for path in sorted(class_dir.rglob("*")):
            if path.name.startswith("."):
                continue
            if path.is_symlink() and not path.exists():
                skipped.append((path, "broken or looping symbolic link"))
                continue
            if not path.is_file():
                continue
            if not is_image_name(path):
                skipped.append((path, "not an image file extension"))
                continue
            rel = path.relative_to(root).as_posix()
            records.append(ImageRecord(path, class_dir.name, sessions.get(rel)))
        if len(records) == n_before:
            raise DatasetError(
                f"No images in {class_dir} (looked for {', '.join(IMAGE_EXTENSIONS)}); "
                "add images or remove the folder"
            )
    labels = tuple(p.name for p in class_dirs)
    return DatasetIndex(root, labels, tuple(records), tuple(skipped))


def reserved_images(root: str | os.PathLike) -> list[Path]:
    """The images of ``root/_background`` ("none of the classes"; [] when absent)."""
    folder = Path(root) / RESERVED_LABEL
    return list_unknown_images(folder) if folder.is_dir() else []


def list_unknown_images(folder: str | os.PathLike) -> list[Path]:
    """Every image under ``folder`` (any depth): unknown examples, none of the classes."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(
            f"Unknown-images folder {root} does not exist (expected a folder of images that "
            "belong to none of the classes)"
        )
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and is_image_name(p) and not p.name.startswith(".")
    )
    if not paths:
        raise DatasetError(
            f"No images in unknown-images folder {root} (looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    return paths


def load_unknown_images(paths: Sequence[Path], image_size_px: int) -> tuple[np.ndarray, list[Path]]:
    """Decode and prepare unknown images; unreadable ones are skipped with one warning."""
    images, kept, skipped = [], [], []
    for path in paths:
        try:
            images.append(prepare(read_rgb(path), image_size_px))
            kept.append(path)
        except ImageDecodeError as e:
            skipped.append((path, str(e).split(": ", 1)[-1]))
    warn_skipped(skipped)
    array = np.stack(images) if images else np.zeros((0, image_size_px, image_size_px, 3), np.uint8)
    return array, kept


def warn_skipped(skipped: Sequence[tuple[Path, str]]) -> None:
    if skipped:
        lines = "\n".join(f"  {path}: {reason}" for path, reason in skipped)
        log.warning("Skipped %d unreadable or non-image file(s):\n%s", len(skipped), lines)


def load_images(
    index: DatasetIndex,
    image_size_px: int,
    labels: Sequence[str] | None = None,
    show_progress: bool = True,
) -> LoadedImages:
    """Decode and prepare every image of ``index``; label ids follow ``labels`` (default: the index's).

    Unreadable files (corrupt, zero bytes, not an image) are skipped and listed in one
    warning. A class left with no readable image is an error.
    """
    labels = tuple(labels) if labels is not None else index.labels
    label_to_id = {name: i for i, name in enumerate(labels)}
    images, ids, paths, sessions = [], [], [], []
    skipped = list(index.skipped)
    for rec in progress(
        index.records, desc=f"decode {index.root.name}", unit="img", disable=not show_progress
    ):
        try:
            rgb = read_rgb(rec.path)
        except ImageDecodeError as e:
            skipped.append((rec.path, str(e).split(": ", 1)[-1]))
            continue
        images.append(prepare(rgb, image_size_px))
        ids.append(label_to_id[rec.label])
        paths.append(rec.path)
        sessions.append(rec.session)
    warn_skipped(skipped)
    present = {labels[i] for i in ids}
    for name in index.labels:
        if name not in present:
            raise DatasetError(
                f"No readable images in {index.root / name} (every file failed to decode); "
                "replace the files or remove the folder"
            )
    array = np.stack(images) if images else np.zeros((0, image_size_px, image_size_px, 3), np.uint8)
    return LoadedImages(
        index.root, labels, array, np.asarray(ids, np.int64), paths, sessions, skipped
    )


def split_indices(
    label_ids: np.ndarray,
    val_fraction: float,
    seed: int,
    groups: Sequence[str | None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, stratified train/validation split; grouped by capture session when known.

    With sessions, every image of a session lands on the same side, so near-identical
    frames never straddle train and validation (per class; see
    :func:`edgeposinv.data.splits.plan_split` for the plan and its per-class fallback).
    """
    from edgeposinv.data.splits import plan_split, require_validation

    plan = plan_split(label_ids.tolist(), val_fraction, seed, groups=groups)
    require_validation(plan, len(label_ids), val_fraction)
    return plan.train_idx, plan.val_idx
