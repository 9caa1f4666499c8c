"""Test images that are near-duplicates of the training data.

A model exported with ``--fingerprints`` carries the perceptual hashes of its training
split (:mod:`edgeposinv.data.duplicates`). ``evaluate`` hashes each test image and reports,
per set, how many images overlap the training data and the accuracy on the rest: a test
set that shares images with the training set measures memory, not generalisation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeposinv.data.duplicates import FINGERPRINT_BITS, nearest_fingerprint
from edgeposinv.evaluation.metrics import wilson_interval

__all__ = ["add_training_overlap", "training_overlap"]

log = logging.getLogger(__name__)


def training_overlap(
    name: str,
    fingerprints: np.ndarray,
    paths: Sequence[Path],
    correct: np.ndarray,
    show_progress: bool = False,
) -> dict:
    """The ``training_overlap`` entry of one set (schema 1.2)."""
    distance = nearest_fingerprint(fingerprints, list(paths), show_progress=show_progress)
    overlapping = distance <= FINGERPRINT_BITS
    rest = ~overlapping
    n_rest = int(rest.sum())
    k = int(np.asarray(correct)[rest].sum())
    entry = {
        "n_overlapping": int(overlapping.sum()),
        "fraction_overlapping": float(overlapping.mean()) if len(paths) else 0.0,
        "n_non_overlapping": n_rest,
        "top1_non_overlapping": (k / n_rest) if n_rest else None,
        "top1_non_overlapping_ci95": list(wilson_interval(k, n_rest)) if n_rest else None,
        "max_bits": FINGERPRINT_BITS,
        "n_fingerprints": int(len(fingerprints)),
    }
    if overlapping.any():
        log.warning(
            "%s: %d of %d test images are (near-)duplicates of the model's training images; "
            "top-1 on the other %d is %s",
            name,
            entry["n_overlapping"],
            len(paths),
            n_rest,
            "n/a" if not n_rest else f"{entry['top1_non_overlapping']:.1%}",
        )
    return entry


def add_training_overlap(report, model_path, rows, indexes, show_progress) -> None:
    """When the model carries training fingerprints: per set, the overlap and the accuracy
    on the images that do not overlap (``sets.<name>.training_overlap``, schema 1.2)."""
    from edgeposinv.tflite.metadata import read_fingerprints

    fingerprints = read_fingerprints(Path(model_path).read_bytes())
    report["model"]["train_fingerprints"] = None if fingerprints is None else len(fingerprints)
    if fingerprints is None:
        return
    for name, index in indexes.items():
        mine = [r for r in rows if r[0] == name]
        paths = [index.root / r[1] for r in mine]
        correct = np.asarray([r[2] == r[3] for r in mine])
        report["sets"][name]["training_overlap"] = training_overlap(
            name, fingerprints, paths, correct, show_progress
        )
