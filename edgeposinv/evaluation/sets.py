"""The inputs of an evaluation: test sets, unknown sets and sweep backgrounds, read and
checked before any work starts (one clear error naming the set and the fix)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgeposinv.data.dataset import DatasetIndex, scan_dataset, warn_skipped
from edgeposinv.data.images import ImageDecodeError, is_image_name, read_rgb
from edgeposinv.errors import EvaluationError, ParameterError
from edgeposinv.tflite.open_set import RESERVED_LABEL, decide_batch
from edgeposinv.tflite.parallel import ProbabilitiesTask, Workers, WorkResult
from edgeposinv.tflite.runtime import TFLiteClassifier

__all__ = [
    "kept_images",
    "load_backgrounds",
    "scan_set",
    "scan_unknown",
    "unknown_probabilities",
    "unknown_rows",
]

log = logging.getLogger(__name__)


def scan_set(name: str, folder: Path, labels: tuple[str, ...]) -> DatasetIndex:
    """The images of test set ``name``; its folders must all be model labels."""
    if (folder / RESERVED_LABEL).is_dir():
        raise EvaluationError(
            f"Set '{name}' ({folder}) has a {RESERVED_LABEL} folder: it is not a class. Measure those "
            f"images as unknown with --unknown-set NAME={folder / RESERVED_LABEL} and move them out of the set"
        )
    index = scan_dataset(folder, min_classes=1)
    unknown = [lab for lab in index.labels if lab not in labels]
    if unknown:
        raise EvaluationError(
            f"Set '{name}' ({folder}) has folders that are not model labels: {', '.join(unknown)}. "
            f"Model labels: {', '.join(labels)}; set folders: {', '.join(index.labels)}. "
            "Rename the folders or pass the right 'labels_file'",
            params=("labels_file",),
        )
    return index


def load_backgrounds(folder: str, size_px: int, prepare) -> list[np.ndarray]:
    root = Path(folder)
    if not root.is_dir():
        raise ParameterError("backgrounds_dir", str(root), "must be a folder of images")
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and is_image_name(p)):
        try:
            out.append(prepare(read_rgb(path)))
        except ImageDecodeError as e:
            log.warning("background skipped: %s", e)
    if not out:
        raise EvaluationError(
            f"No readable images in 'backgrounds_dir' {root} (looked for .jpg, .jpeg, .png, "
            ".bmp, .webp)",
            params=("backgrounds_dir",),
        )
    return out


def scan_unknown(name: str, folder: Path) -> list[Path]:
    from edgeposinv.data.dataset import list_unknown_images
    from edgeposinv.errors import DatasetError

    try:
        return list_unknown_images(folder)
    except DatasetError as e:
        raise EvaluationError(f"--unknown-set {name}: {e}") from None


def unknown_probabilities(workers: Workers, name: str, paths: list[Path], show_progress: bool):
    """(readable paths, probabilities) of an unknown set."""
    work = workers.run(
        ProbabilitiesTask(), paths, desc=f"unknown {name}", show_progress=show_progress
    )
    warn_skipped(work.failures)
    kept = [(p, r) for p, r in zip(paths, work.results) if r is not None]
    if not kept:
        raise EvaluationError(f"--unknown-set {name}: no readable image")
    return [p for p, _ in kept], np.stack([r for _, r in kept])


def unknown_rows(clf: TFLiteClassifier, name: str, root: Path, paths, probs) -> list[tuple]:
    idx, score = decide_batch(probs, clf.reserved_index, clf.score_threshold)
    return [
        (name, p.relative_to(root).as_posix(), "", "" if i < 0 else clf.labels[i], f"{s:.4f}")
        for p, i, s in zip(paths, idx, score)
    ]


def kept_images(index: DatasetIndex, labels: tuple[str, ...], work: WorkResult, name: str):
    """Drop files that failed to decode (listed in one warning); a class with none left is an error."""
    warn_skipped(list(index.skipped) + work.failures)
    keep = [i for i, r in enumerate(work.results) if r is not None]
    present = {index.records[i].label for i in keep}
    for label in index.labels:
        if label not in present:
            raise EvaluationError(
                f"Set '{name}': no readable images in {index.root / label} (every file failed to decode); "
                "replace the files or remove the folder"
            )
    y_true = np.array([labels.index(index.records[i].label) for i in keep], np.int64)
    return keep, y_true
