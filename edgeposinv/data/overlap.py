"""`edgeposinv dataset overlap A B`: images of B that are copies of images in A.

Exact copies have the same bytes (SHA-256); near copies are within
``NEAR_DUPLICATE_BITS`` of a perceptual hash (:mod:`edgeposinv.data.duplicates`): resized,
re-encoded, slightly shifted or re-lit versions of the same photo; *named* copies are files
whose names name the same original photo or video (:func:`~edgeposinv.data.names.named_source`:
Roboflow-style exports, frames cut from one video), however different their pixels — the
copies a public dataset's own train/test split most often shares. Labels are ignored, so
an image filed under another class in B is found too.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeposinv.data.dataset import scan_dataset
from edgeposinv.data.duplicates import NEAR_DUPLICATE_BITS, distances, hash_images
from edgeposinv.data.names import named_source

__all__ = [
    "Overlap",
    "find_overlap",
]


@dataclass(frozen=True)
class Overlap:
    a: Path
    b: Path
    n_a: int
    n_b: int
    exact: list[tuple[str, str]]  # (B file, A file), relative to their folders
    near: list[tuple[str, str, int]]  # (B file, closest A file, distance in bits)
    named: list[tuple[str, str, str]] = field(default_factory=list)  # (B, A file, source)

    def to_dict(self) -> dict:
        return {
            "a": str(self.a),
            "b": str(self.b),
            "n_a": self.n_a,
            "n_b": self.n_b,
            "max_bits": NEAR_DUPLICATE_BITS,
            "exact": [{"b": b, "a": a} for b, a in self.exact],
            "near": [{"b": b, "a": a, "bits": d} for b, a, d in self.near],
            "named": [{"b": b, "a": a, "source": src} for b, a, src in self.named],
        }

    def lines(self, max_items: int = 20) -> list[str]:
        out = [
            f"{len(self.exact)} exact, {len(self.near)} near and {len(self.named)} named copies "
            f"of {self.a}'s {self.n_a} images among {self.b}'s {self.n_b}"
        ]
        for b, a in self.exact[:max_items]:
            out.append(f"  exact  {b} = {a}")
        for b, a, d in self.near[:max_items]:
            out.append(f"  near   {b} ~ {a} ({d} bits)")
        for b, a, src in self.named[:max_items]:
            out.append(f"  named  {b} ~ {a} (both from {src})")
        hidden = sum(max(0, len(x) - max_items) for x in (self.exact, self.near, self.named))
        if hidden:
            out.append(f"  ... and {hidden} more (--json for all)")
        return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_overlap(a: str | os.PathLike, b: str | os.PathLike, show_progress: bool = True) -> Overlap:
    """Exact and near copies of ``a``'s images in ``b`` (both dataset folders)."""
    ia, ib = scan_dataset(a, min_classes=1), scan_dataset(b, min_classes=1)
    pa, pb = [r.path for r in ia.records], [r.path for r in ib.records]
    rel_a = [p.relative_to(ia.root).as_posix() for p in pa]
    rel_b = [p.relative_to(ib.root).as_posix() for p in pb]
    sha_a: dict[str, str] = {}
    for p, rel in zip(pa, rel_a):
        sha_a.setdefault(_sha(p), rel)
    exact = []
    is_exact = np.zeros(len(pb), bool)
    for i, p in enumerate(pb):
        hit = sha_a.get(_sha(p))
        if hit is not None:
            exact.append((rel_b[i], hit))
            is_exact[i] = True
    wa = hash_images(pa, show_progress=show_progress)
    wb = hash_images(pb, show_progress=show_progress)
    near = []
    for start in range(0, len(pb), 256):
        d = distances(wb[start : start + 256], wa)
        for j, row in enumerate(d):
            i = start + j
            k = int(row.argmin())
            if not is_exact[i] and row[k] <= NEAR_DUPLICATE_BITS:
                near.append((rel_b[i], rel_a[k], int(row[k])))
    found = {b for b, *_ in exact} | {b for b, *_ in near}
    source_a: dict[str, str] = {}
    for p, rel in zip(pa, rel_a):
        if (src := named_source(p.name)) is not None:
            source_a.setdefault(src, rel)
    named = [
        (rel, source_a[src], src)
        for p, rel in zip(pb, rel_b)
        if rel not in found and (src := named_source(p.name)) in source_a
    ]
    return Overlap(ia.root, ib.root, len(pa), len(pb), exact, near, named)
