"""Which signal finds near-duplicates: perceptual hashes (pHash, dHash, aHash) and file-name
sequences, measured on real photos with planted copies.

Positives: for each sampled photo, copies resized to half size, re-encoded as JPEG (q 40),
shifted by 3% and 6% of the side, brightened (+25 levels) and all of these at once
(shift 3% + resize + JPEG + brightness). Negatives: every pair of photos of one class of a
folder (the hard case: same backdrop, same kind of hand).

    python benchmarks/bench_duplicates.py [--n 120] [--seed 0]

Prints, per hash and threshold, the share of planted copies found (recall, Wilson 95%
interval) and how many photos have another photo of their class within the threshold (a
false group, unless the folder holds real repeats: rps_wild_dev has frames of one clip,
rps_pi_small a fixed rig). sign_digits (one photo per student and digit) is the clean
negative set.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeposinv.data.dataset import scan_dataset  # noqa: E402
from edgeposinv.data.duplicates import (  # noqa: E402
    CENTRE,
    HASH_INPUT_PX,
    HASHES,
    SEQUENCE_BITS,
    distances,
    hamming,
    hash_images,
    window_hashes64,
)
from edgeposinv.data.images import read_rgb  # noqa: E402
from edgeposinv.evaluation.metrics import wilson_interval  # noqa: E402
from edgeposinv.tflite.preprocess import prepare  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FOLDERS = ("rps_pi_small", "sign_digits", "rps_wild_dev")


def shift(rgb: np.ndarray, frac: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = np.float32([[1, 0, frac * w], [0, 1, frac * h]])
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)


def jpeg(rgb: np.ndarray, q: int = 40) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def half(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(8, w // 2), max(8, h // 2)), interpolation=cv2.INTER_AREA)


def brighter(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb.astype(np.int16) + 25, 0, 255).astype(np.uint8)


COPIES = {
    "resized": half,
    "jpeg40": jpeg,
    "shift3%": lambda x: shift(x, 0.03),
    "shift6%": lambda x: shift(x, 0.06),
    "brighter": brighter,
    "all": lambda x: brighter(jpeg(half(shift(x, 0.03)))),
}


def h(kind: str, rgb: np.ndarray) -> np.uint64:
    return HASHES[kind](prepare(rgb, HASH_INPUT_PX))


NAME_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")


def name_neighbours(paths: list[Path], labels: np.ndarray, max_step: int = 2) -> np.ndarray:
    """The file-name signal: True where another image of the class has the same name with
    a frame number at most ``max_step`` away (IMG_1118 / IMG_1119)."""
    keys = []
    for p in paths:
        m = NAME_NUMBER.match(p.stem)
        keys.append((m.group(1), int(m.group(2)), m.group(3)) if m else (p.stem, -99, ""))
    out = np.zeros(len(paths), bool)
    for i, (a, n, z) in enumerate(keys):
        for j, (b, k, w) in enumerate(keys):
            if i != j and labels[i] == labels[j] and a == b and z == w and abs(n - k) <= max_step:
                out[i] = True
    return out


def report(name: str, d_copy: dict, nearest_distinct: np.ndarray, thresholds, bits: int) -> None:
    print(
        f"  {name}: nearest distinct photo of the class: min {int(nearest_distinct.min())}, "
        f"1st pct {np.percentile(nearest_distinct, 1):.0f}, median "
        f"{np.median(nearest_distinct):.0f} (of {bits} bits)"
    )
    for t in thresholds:
        found = np.concatenate([v <= t for v in d_copy.values()])
        lo, hi = wilson_interval(int(found.sum()), len(found))
        worst = min(d_copy, key=lambda k: (d_copy[k] <= t).mean())
        false = int((nearest_distinct <= t).sum())
        print(
            f"    <= {t:3d}: copies found {found.mean():6.1%} ({lo:.1%}-{hi:.1%}), worst "
            f"{worst} {(d_copy[worst] <= t).mean():6.1%}; photos with another photo of the "
            f"class this close {false}/{len(nearest_distinct)}"
        )


def pairwise(windows: np.ndarray, copies: dict, dist) -> tuple[dict, np.ndarray]:
    d = dist(windows, windows).astype(float)
    np.fill_diagonal(d, 999)
    return {k: np.diag(dist(windows, c)) for k, c in copies.items()}, d.min(1)


def distances64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = len(a), len(b)
    ab = hamming(a[:, CENTRE], b.ravel()).reshape(na, nb, 25).min(-1)
    ba = hamming(b[:, CENTRE], a.ravel()).reshape(nb, na, 25).min(-1)
    return np.minimum(ab, ba.T)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120, help="photos of one class per folder")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    for folder, label in (("sign_digits", "3"), ("rps_wild_dev", "rock"), ("rps_pi_small", "rock")):
        root = SHARED / folder
        if not root.is_dir():
            print(f"skip {folder}: {root} absent")
            continue
        index = scan_dataset(root)
        every = np.array([r.label for r in index.records])
        names = name_neighbours([r.path for r in index.records], every)
        recs = [r for r in index.records if r.label == label]
        recs = [recs[i] for i in rng.choice(len(recs), min(args.n, len(recs)), replace=False)]
        photos = [read_rgb(r.path) for r in recs]
        print(
            f"\n{folder}, class {label}: {len(photos)} photos (seed {args.seed}); file names: "
            f"{names.sum()}/{len(names)} images of the folder have a same-class neighbour "
            "numbered within 2"
        )
        for kind in HASHES:  # one global 64-bit hash
            orig = np.array([h(kind, p) for p in photos], np.uint64)
            copies = {
                k: np.array([h(kind, fn(p)) for p in photos], np.uint64) for k, fn in COPIES.items()
            }
            d_copy, nd = pairwise(orig, copies, hamming)
            report(f"{kind}, one global hash", d_copy, nd, (2, 4, 8, 12), 64)
        w64 = np.stack([window_hashes64(p) for p in photos])
        c64 = {k: np.stack([window_hashes64(fn(p)) for p in photos]) for k, fn in COPIES.items()}
        d_copy, nd = pairwise(w64, c64, distances64)
        report("pHash 64 bit, 25 windows (training fingerprints)", d_copy, nd, (0, 2, 4), 64)
        w = hash_images(photos)
        cw = {k: hash_images([fn(p) for p in photos]) for k, fn in COPIES.items()}
        d_copy, nd = pairwise(w, cw, distances)
        report("pHash 256 bit, 25 windows (grouping)", d_copy, nd, (16, 24, 32, 40, 48), 256)
        # the numbered-sequence rule: if these distinct photos were named 0001, 0002, ...,
        # how many neighbours would join at SEQUENCE_BITS?
        seq = np.array([distances(w[i : i + 1], w[i + 1 : i + 2])[0, 0] for i in range(len(w) - 1)])
        print(
            f"  sequence rule: {int((seq <= SEQUENCE_BITS).sum())}/{len(seq)} neighbours of a "
            f"sequentially named folder of these photos would join (<= {SEQUENCE_BITS} bits)"
        )


if __name__ == "__main__":
    main()
