"""`edgeposinv dataset stats`: what a dataset folder holds, what is wrong with it, and its coverage.

Counts per label, per capture session and per guide cell; image sizes; class imbalance;
files missing from the manifest and manifest lines without a file; corrupt files; and
byte-identical images filed under different labels (a labelling error); clusters of
near-duplicate images per class (perceptual hashes). The coverage chart
(labels x guide cells) is a PNG drawn with matplotlib.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgeposinv.capture.guide import cell_name
from edgeposinv.data.dataset import check_dataset_dir
from edgeposinv.data.duplicates import cluster, window_hashes
from edgeposinv.data.images import is_image_name
from edgeposinv.data.manifest import MANIFEST_NAME, read_manifest
from edgeposinv.data.names import named_source_groups, union_groups
from edgeposinv.errors import DatasetError
from edgeposinv.tflite.open_set import RESERVED_LABEL
from edgeposinv.util.files import atomic_write_bytes
from edgeposinv.util.progress import progress

#: Largest/smallest class size ratio above which a warning is printed.
IMBALANCE_RATIO = 1.5
NO_GUIDE = "no guide"


@dataclass
class DatasetStats:
    root: Path
    labels: list[str]
    per_label: dict[str, int]
    per_session: Counter = field(default_factory=Counter)
    per_cell: dict[str, Counter] = field(default_factory=dict)
    cells: list[str] = field(default_factory=list)
    per_angle: dict[str, Counter] = field(default_factory=dict)
    sizes: Counter = field(default_factory=Counter)
    has_manifest: bool = False
    unlisted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)
    cross_label_duplicates: list[list[str]] = field(default_factory=list)
    # per label: clusters of near-duplicate images (edgeposinv.data.duplicates), 2+ files each
    near_duplicates: dict[str, list[list[str]]] = field(default_factory=dict)
    #: images in the reserved ``_background`` folder (none of the classes; not a label)
    background: int | None = None

    @property
    def imbalance(self) -> float | None:
        counts = [n for n in self.per_label.values()]
        if len(counts) < 2 or min(counts) == 0:
            return None if len(counts) < 2 else float("inf")
        return max(counts) / min(counts)

    def warnings(self) -> list[str]:
        out = []
        ratio = self.imbalance
        if ratio is not None and ratio > IMBALANCE_RATIO:
            lo = min(self.per_label, key=lambda label: self.per_label[label])
            hi = max(self.per_label, key=lambda label: self.per_label[label])
            out.append(
                f"class imbalance: {hi} has {self.per_label[hi]} images, {lo} has {self.per_label[lo]} "
                f"(ratio {ratio:.1f} > {IMBALANCE_RATIO}); capture more of {lo}"
            )
        if self.unlisted:
            out.append(f"{len(self.unlisted)} file(s) present but not in {MANIFEST_NAME}")
        if self.missing:
            out.append(f"{len(self.missing)} {MANIFEST_NAME} line(s) without a file")
        if self.bad_lines:
            out.append(f"{len(self.bad_lines)} {MANIFEST_NAME} line(s) with problems")
        if self.corrupt:
            out.append(f"{len(self.corrupt)} corrupt image file(s)")
        if self.not_images:
            out.append(f"{len(self.not_images)} non-image file(s) in class folders")
        if self.cross_label_duplicates:
            out.append(
                f"{len(self.cross_label_duplicates)} identical image(s) filed under different labels (a labelling error)"
            )
        return out

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "labels": self.labels,
            "per_label": self.per_label,
            "per_session": dict(self.per_session),
            "per_cell": {k: dict(v) for k, v in self.per_cell.items()},
            "cells": self.cells,
            "per_angle": {k: dict(v) for k, v in self.per_angle.items()},
            "sizes": {f"{w}x{h}": n for (w, h), n in self.sizes.most_common()},
            "has_manifest": self.has_manifest,
            "unlisted": self.unlisted,
            "missing": self.missing,
            "bad_manifest_lines": [{"line": n, "problem": p} for n, p in self.bad_lines],
            "corrupt": [{"path": p, "problem": r} for p, r in self.corrupt],
            "not_images": self.not_images,
            "cross_label_duplicates": self.cross_label_duplicates,
            "near_duplicate_clusters": self.near_duplicates,
            "imbalance_ratio": self.imbalance,
            "background": self.background,
            "warnings": self.warnings(),
        }

    def lines(self, max_items: int = 10) -> list[str]:
        total = sum(self.per_label.values())
        out = [f"{self.root}: {total} image(s), {len(self.labels)} label(s)"]
        out += [f"  {name:<20} {n}" for name, n in self.per_label.items()]
        if self.background is not None:
            out.append(
                f"none of the classes ({RESERVED_LABEL}, not a class): {self.background} image(s)"
            )
        if self.has_manifest:
            out.append(f"sessions: {len(self.per_session)}")
            out += [f"  {s:<24} {n}" for s, n in sorted(self.per_session.items())]
        else:
            out.append(f"no {MANIFEST_NAME}: sessions and guide cells unknown")
        if self.cells:
            out.append("guide cells (per label): " + ", ".join(self.cells))
            out += [
                f"  {name:<20} "
                + " ".join(f"{self.per_cell.get(name, Counter())[c]:>4}" for c in self.cells)
                for name in self.labels
            ]
        for name in self.labels:
            if self.per_angle.get(name):
                out.append(
                    f"  angles of {name}: "
                    + ", ".join(f"{a} {n}" for a, n in self.per_angle[name].most_common())
                )
        out.append(
            "image sizes: "
            + (", ".join(f"{w}x{h} ({n})" for (w, h), n in self.sizes.most_common(5)) or "none")
        )

        def listing(title: str, items: list[str]) -> None:
            if items:
                out.append(f"{title}:")
                out.extend(f"  {x}" for x in items[:max_items])
                if len(items) > max_items:
                    out.append(f"  ... and {len(items) - max_items} more")

        listing(f"not in {MANIFEST_NAME}", self.unlisted)
        listing(f"in {MANIFEST_NAME} but no file", self.missing)
        listing(
            f"{MANIFEST_NAME} lines with problems", [f"line {n}: {p}" for n, p in self.bad_lines]
        )
        listing("corrupt", [f"{p}: {r}" for p, r in self.corrupt])
        listing("not images", self.not_images)
        listing(
            "identical images under different labels",
            [" = ".join(g) for g in self.cross_label_duplicates],
        )
        if self.near_duplicates:
            out.append("near-duplicate clusters (kept on one side of a training split):")
            for name in self.labels:
                clusters = self.near_duplicates.get(name, [])
                n = sum(len(c) for c in clusters)
                largest = max((len(c) for c in clusters), default=0)
                out.append(
                    f"  {name:<20} {len(clusters)} cluster(s), {n} of {self.per_label[name]} "
                    f"images" + (f", largest {largest}" if clusters else "")
                )
        out += [f"WARNING: {w}" for w in self.warnings()]
        return out


def _cell_key(guide: dict) -> tuple[tuple, str]:
    try:
        rows, cols = (int(v) for v in guide["grid"])
        r, c = (int(v) for v in guide["cell"])
        return (rows, cols, r, c), cell_name(r, c, rows, cols)
    except (KeyError, TypeError, ValueError):
        return (99, 99, 99, 99), NO_GUIDE


def dataset_stats(root: str | os.PathLike, show_progress: bool = True) -> DatasetStats:
    """Read every file of the dataset folder ``root`` and its manifest; see :class:`DatasetStats`."""
    root = Path(root)
    check_dataset_dir(root)
    label_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not label_dirs:
        raise DatasetError(
            f"{root} has no class folders; expected one sub-folder per label, e.g. {root}/cat/*.jpg"
        )
    files = [
        (d.name, p)
        for d in label_dirs
        for p in sorted(d.rglob("*"))
        if (p.is_file() or (p.is_symlink() and not p.exists())) and not p.name.startswith(".")
    ]
    stats = DatasetStats(root, [d.name for d in label_dirs], {d.name: 0 for d in label_dirs})
    by_hash: dict[str, list[tuple[str, str]]] = defaultdict(list)
    windows: dict[str, list[tuple[str, np.ndarray]]] = defaultdict(list)
    present: set[str] = set()
    for label, path in progress(
        files, desc=f"stats {root.name}", unit="file", disable=not show_progress
    ):
        rel = path.relative_to(root).as_posix()
        if not is_image_name(path):
            stats.not_images.append(rel)
            continue
        if path.is_symlink() and not path.exists():
            stats.corrupt.append((rel, "broken or looping symbolic link"))
            continue
        present.add(rel)
        try:
            data = path.read_bytes()
        except OSError as e:
            stats.corrupt.append((rel, f"cannot read ({e.strerror})"))
            continue
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
        if image is None:
            stats.corrupt.append((rel, "empty file" if not data else "not decodable"))
            continue
        stats.per_label[label] += 1
        stats.sizes[(int(image.shape[1]), int(image.shape[0]))] += 1
        by_hash[hashlib.sha256(data).hexdigest()].append((label, rel))
        windows[label].append((rel, window_hashes(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))))
    for label, items in windows.items():
        # as the training split groups them: similar pixels, or one original named in the files
        rels = [rel for rel, _ in items]
        ids = union_groups(
            list(cluster(np.stack([w for _, w in items]), names=rels)),
            named_source_groups([Path(rel).name for rel in rels], np.zeros(len(rels), int)),
        )
        groups: dict[str, list[str]] = defaultdict(list)
        for rel, c in zip(rels, ids):
            if c is not None:
                groups[c].append(rel)
        stats.near_duplicates[label] = sorted(groups.values())
    for group in by_hash.values():
        if len({label for label, _ in group}) > 1:
            stats.cross_label_duplicates.append(sorted(rel for _, rel in group))

    stats.has_manifest = (root / MANIFEST_NAME).is_file()
    if stats.has_manifest:
        entries, stats.bad_lines = read_manifest(root)
        listed: set[str] = set()
        cell_keys: dict[str, tuple] = {}
        for entry in entries:
            rel = Path(entry["path"]).as_posix()
            listed.add(rel)
            if rel not in present:
                stats.missing.append(rel)
                continue
            stats.per_session[str(entry.get("session"))] += 1
            key, name = _cell_key(entry.get("guide") or {})
            cell_keys.setdefault(name, key)
            label = rel.split("/", 1)[0]
            stats.per_cell.setdefault(label, Counter())[name] += 1
            angle = (entry.get("guide") or {}).get("angle")
            if isinstance(angle, str):
                stats.per_angle.setdefault(label, Counter())[angle] += 1
        stats.unlisted = sorted(present - listed)
        stats.cells = sorted(cell_keys, key=lambda name: cell_keys[name])
    if RESERVED_LABEL in stats.per_label:  # none of the classes: shown apart, never a class
        stats.background = stats.per_label.pop(RESERVED_LABEL)
        stats.labels = [lab for lab in stats.labels if lab != RESERVED_LABEL]
    return stats


def write_coverage_chart(stats: DatasetStats, path: str | os.PathLike) -> Path:
    """Write a labels x guide cells heat map of image counts as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = stats.cells or [NO_GUIDE]
    counts = np.array(
        [[stats.per_cell.get(label, Counter())[c] for c in cells] for label in stats.labels]
    )
    if not stats.cells:
        counts = np.array([[stats.per_label[label]] for label in stats.labels])
    fig, ax = plt.subplots(
        figsize=(max(4.0, 0.9 * len(cells) + 2), max(2.5, 0.5 * len(stats.labels) + 1.5))
    )
    im = ax.imshow(counts, cmap="Greens", aspect="auto", vmin=0)
    ax.set_xticks(range(len(cells)), labels=cells, rotation=45, ha="right")
    ax.set_yticks(range(len(stats.labels)), labels=stats.labels)
    top = counts.max() if counts.size else 0
    for (i, j), v in np.ndenumerate(counts):
        ax.text(
            j,
            i,
            str(v),
            ha="center",
            va="center",
            color="white" if v > top / 2 else "black",
            fontsize=8,
        )
    ax.set_title(f"Coverage: images per label and guide cell ({stats.root.name})")
    fig.colorbar(im, ax=ax, label="images")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
