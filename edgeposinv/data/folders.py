"""Several dataset folders in one run (e.g. rig photos + a few device captures).

The folders share one label set (the sorted union of their class folders; a folder may
lack a class). Each image remembers its folder, the split is stratified per
(folder, class), and the training sampler gives each folder a fixed share of every batch
(:func:`batch_order`), so a few captures are not drowned by thousands of rig photos.

Folder weights (``TrainConfig.folder_weights``):

- ``equal`` (default): the same share for every folder. 1,400 rig photos + 45 captures
  give the captures 50% of every batch (3% when mixed naturally): each capture is seen ~16
  times per epoch. Measured in ``benchmarks/bench_wild.py`` (3 seeds, 300 wild photos):
  with 60 captures per class 63.7% wild top-1 against 55.0% with ``sqrt`` (+8.7 points,
  95% CI +0.8 … +16.4), with 15 per class 55.0% against 51.0% (inside the noise).
- ``sqrt``: share proportional to the square root of the folder's training images (15% of
  every batch for those 45 captures; the temperature rule that balances corpora of very
  different sizes elsewhere).
- ``size``: proportional to size (the natural mix, as if the folders were one).
- ``W1,W2,...``: explicit positive weights, one per folder, in the order given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeposinv.data.dataset import DatasetIndex, LoadedImages, load_images, scan_dataset
from edgeposinv.errors import ConfigError, DatasetError, ParameterError

__all__ = [
    "FOLDER_WEIGHT_RULES",
    "as_paths",
    "batch_order",
    "folder_shares",
    "load_folders",
    "parse_folder_weights",
    "stratified_sample",
]

log = logging.getLogger(__name__)

FOLDER_WEIGHT_RULES = ("sqrt", "equal", "size")


def as_paths(data: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """One path or a sequence of paths → a list of resolved paths."""
    if isinstance(data, (str, os.PathLike)):
        return [Path(data).resolve()]
    paths = [Path(p).resolve() for p in data]
    if not paths:
        raise ConfigError("No dataset folder given; pass at least one DATA folder.")
    if len(set(paths)) != len(paths):
        raise ConfigError(f"A dataset folder is given twice: {', '.join(map(str, paths))}.")
    return paths


def parse_folder_weights(spec: str) -> str | tuple[float, ...]:
    """``sqrt``, ``equal``, ``size`` or comma-separated positive numbers."""
    spec = spec.strip()
    if spec in FOLDER_WEIGHT_RULES:
        return spec
    try:
        weights = tuple(float(w) for w in spec.split(","))
    except ValueError:
        weights = ()
    if not weights or any(not np.isfinite(w) or w <= 0 for w in weights):
        raise ParameterError(
            "folder_weights",
            spec,
            f"must be one of {', '.join(FOLDER_WEIGHT_RULES)} or positive numbers separated "
            "by commas, one per folder (e.g. 1,1)",
            owner="TrainConfig",
        )
    return weights


def folder_shares(spec: str, counts: Sequence[int]) -> np.ndarray:
    """Each folder's share of a batch (sums to 1) for the training-image ``counts``."""
    rule = parse_folder_weights(spec)
    counts_a = np.asarray(counts, np.float64)
    if isinstance(rule, tuple):
        if len(rule) != len(counts_a):
            raise ParameterError(
                "folder_weights",
                spec,
                f"gives {len(rule)} weight(s) for {len(counts_a)} dataset folder(s)",
                owner="TrainConfig",
                fix="give one weight per folder, in order",
            )
        w = np.asarray(rule)
    elif rule == "equal":
        w = np.ones_like(counts_a)
    elif rule == "size":
        w = counts_a.copy()
    else:
        w = np.sqrt(counts_a)
    w = np.where(counts_a > 0, w, 0.0)  # a folder with no training image gets no share
    return w / w.sum()


def load_folders(
    roots: Sequence[Path],
    image_size_px: int,
    show_progress: bool = True,
    val_roots: Sequence[Path] = (),
) -> LoadedImages:
    """Decode the images of one or several dataset folders under one label set.

    ``val_roots``: validation folders, appended after the training folders (their folder
    indices follow); their classes must be among the training folders' classes."""
    if len(roots) == 1 and not val_roots:
        return load_images(scan_dataset(roots[0]), image_size_px, show_progress=show_progress)
    indexes: list[DatasetIndex] = [
        scan_dataset(r, min_classes=2 if len(roots) == 1 else 1) for r in roots
    ]
    labels = tuple(sorted({name for ix in indexes for name in ix.labels}))
    if len(labels) < 2:
        raise DatasetError(
            f"The folders {', '.join(map(str, roots))} have one class between them "
            f"({labels[0]}); need at least 2: one sub-folder per label"
        )
    for ix in indexes:
        lacking = [name for name in labels if name not in ix.labels]
        if lacking:
            log.info("%s has no images of: %s", ix.root, ", ".join(lacking))
    for root in val_roots:
        ix = scan_dataset(root, min_classes=1)
        unknown = [name for name in ix.labels if name not in labels]
        if unknown:
            raise DatasetError(
                f"The validation folder {root} has class folder(s) the training data lacks: "
                f"{', '.join(unknown)} (training classes: {', '.join(labels)}); rename or remove them"
            )
        indexes.append(ix)
    parts = [
        load_images(ix, image_size_px, labels=labels, show_progress=show_progress) for ix in indexes
    ]
    all_roots = tuple(roots) + tuple(val_roots)
    return LoadedImages(
        all_roots[0],
        labels,
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.label_ids for p in parts]),
        [path for p in parts for path in p.paths],
        [s for p in parts for s in p.sessions],
        [s for p in parts for s in p.skipped],
        folder_ids=np.concatenate(
            [np.full(len(p.paths), f, np.int64) for f, p in enumerate(parts)]
        ),
        roots=all_roots,
    )


def batch_order(
    folder_ids: np.ndarray,
    shares: np.ndarray,
    batch_size: int,
    steps: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Indices for ``steps`` batches in which folder ``f`` fills ``shares[f]`` of each batch.

    Each batch gives folder ``f`` either floor or ceil of ``shares[f] * batch_size`` slots
    (systematic sampling of the fractional parts, so the long-run share is exact). Within a
    folder, images are drawn without replacement from a shuffled cycle, reshuffled when
    exhausted: a small folder is oversampled, a large one sub-sampled.
    """
    n_folders = len(shares)
    quota = np.asarray(shares, np.float64) * batch_size
    base = np.floor(quota).astype(np.int64)
    frac = quota - base
    members = [np.flatnonzero(folder_ids == f) for f in range(n_folders)]
    cursors = [0] * n_folders
    cycles = [rng.permutation(m) for m in members]
    out = np.empty((steps, batch_size), np.int64)
    for b in range(steps):
        counts = base.copy()
        extra = batch_size - int(base.sum())
        if extra:
            cum = np.concatenate([[0.0], np.cumsum(frac)])
            u = rng.random()
            counts += (np.floor(cum[1:] - u + 1.0) - np.floor(cum[:-1] - u + 1.0)).astype(np.int64)
            counts[int(np.argmax(frac))] += batch_size - int(counts.sum())  # float round-off
        batch = []
        for f in range(n_folders):
            for _ in range(int(counts[f])):
                if cursors[f] == len(cycles[f]):
                    cycles[f], cursors[f] = rng.permutation(members[f]), 0
                batch.append(cycles[f][cursors[f]])
                cursors[f] += 1
        out[b] = rng.permutation(np.asarray(batch, np.int64))
    return out.reshape(-1)


def stratified_sample(
    folders: Sequence[int],
    labels: Sequence[str],
    shares: Sequence[float],
    size: int,
    seed: int,
) -> np.ndarray:
    """``size`` indices drawn per (folder, label): each folder gets its batch ``share`` of the
    sample (what the model saw in training), split over its classes by their counts."""
    from edgeposinv.data.splits import apportion

    rng = np.random.default_rng([seed, 0xCA1])
    folders_a, labels_a = np.asarray(folders), np.asarray(labels)
    keys = sorted(set(zip(folders_a.tolist(), labels_a.tolist())))
    members = [np.flatnonzero((folders_a == f) & (labels_a == lab)) for f, lab in keys]
    n_folder = np.bincount(folders_a, minlength=len(shares))
    weight = np.asarray(
        [shares[f] * len(m) / max(1, n_folder[f]) for (f, _), m in zip(keys, members)]
    )
    counts = np.minimum(
        apportion(weight, min(size, len(folders_a)), rng), [len(m) for m in members]
    )
    picks = [rng.choice(m, size=int(c), replace=False) for m, c in zip(members, counts) if c]
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, np.int64)
