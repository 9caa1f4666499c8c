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

__all__ = [
    "training_overlap",
]

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
