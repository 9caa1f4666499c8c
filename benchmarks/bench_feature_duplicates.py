"""Which cosine threshold on backbone features groups near-duplicates without joining
distinct photos (the ``--near-duplicates features`` rule, ``edgeposinv.training.features``).

Same design as ``bench_duplicates.py``: for photos of one class, planted copies — the hash
benchmark's six (half size, JPEG q40, shifted 3% / 6%, +25 brightness, all at once) and
three *beyond the hash windows* (zoomed in 15%, turned 10 degrees, shifted 15%) — and, as
negatives, every other photo of the class. Embeddings: MobileNetV2-0.35, ImageNet weights
(``../shared/weights``), 96 px, global-average-pooled, centred on the sample's mean,
L2-normalised. sign_digits (one photo per student and digit) is the clean negative set;
rps_wild_dev has real repeats (frames of one clip: close pairs are split into same-clip
and other-clip); rps_pi_small is a fixed rig (many shots nearly identical).

    python benchmarks/bench_feature_duplicates.py [--n 120] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_duplicates import COPIES, shift  # noqa: E402
from bench_split_leak import source_of  # noqa: E402

from edgeposinv.data.dataset import scan_dataset  # noqa: E402
from edgeposinv.data.images import read_rgb  # noqa: E402
from edgeposinv.evaluation.metrics import wilson_interval  # noqa: E402
from edgeposinv.tflite.preprocess import prepare  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
WEIGHTS = (
    SHARED.parent / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
)
SIZE = 96


def zoom(rgb: np.ndarray, s: float = 1.15) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0, s)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)


def turn(rgb: np.ndarray, deg: float = 10) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)


BEYOND = {"zoom15%": zoom, "turn10": turn, "shift15%": lambda x: shift(x, 0.15)}
THRESHOLDS = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95)


def normalise(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    x = x - mean
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120, help="photos of one class per folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--centre",
        choices=["sample", "none"],
        default="sample",
        help="subtract the sample's mean embedding before the cosine (or not)",
    )
    args = ap.parse_args()
    from edgeposinv.training.features import embed_images

    rng = np.random.default_rng(args.seed)
    for folder, label in (("sign_digits", "3"), ("rps_wild_dev", "rock"), ("rps_pi_small", "rock")):
        root = SHARED / folder
        if not root.is_dir():
            print(f"skip {folder}: {root} absent")
            continue
        recs = [r for r in scan_dataset(root).records if r.label == label]
        recs = [recs[i] for i in rng.choice(len(recs), min(args.n, len(recs)), replace=False)]
        photos = [read_rgb(r.path) for r in recs]
        kinds = {**COPIES, **BEYOND}
        orig = embed_images(np.stack([prepare(p, SIZE) for p in photos]), weights=str(WEIGHTS))
        copies = {
            k: embed_images(np.stack([prepare(fn(p), SIZE) for p in photos]), weights=str(WEIGHTS))
            for k, fn in kinds.items()
        }
        mean = np.concatenate([orig, *copies.values()]).mean(0)
        if args.centre == "none":
            mean = np.zeros_like(mean)
        o = normalise(orig, mean)
        sim = o @ o.T
        np.fill_diagonal(sim, -1)
        nearest = sim.max(1)
        same_clip = None
        if folder == "rps_wild_dev":
            src = np.array([source_of(r.path.name) for r in recs])
            same_clip = src[:, None] == src[None, :]
        print(f"\n{folder}, class {label}: {len(photos)} photos (seed {args.seed})")
        for k, e in copies.items():
            s = np.sum(normalise(e, mean) * o, 1)
            print(
                f"  {k:>9}: similarity to its original median {np.median(s):.3f}, min {s.min():.3f}"
            )
        print(
            f"  nearest other photo: median {np.median(nearest):.3f}, "
            f"95th pct {np.percentile(nearest, 95):.3f}, max {nearest.max():.3f}"
        )
        for t in THRESHOLDS:
            hits = {k: np.sum(normalise(e, mean) * o, 1) >= t for k, e in copies.items()}
            hash_kinds = np.concatenate([hits[k] for k in COPIES])
            beyond = np.concatenate([hits[k] for k in BEYOND])
            lo, hi = wilson_interval(int(hash_kinds.sum()), len(hash_kinds))
            blo, bhi = wilson_interval(int(beyond.sum()), len(beyond))
            close = sim >= t
            line = (
                f"  >= {t:.2f}: hash-type copies {hash_kinds.mean():6.1%} ({lo:.1%}-{hi:.1%}), "
                f"beyond-window copies {beyond.mean():6.1%} ({blo:.1%}-{bhi:.1%}), "
                f"photos close {int(close.any(1).sum())} of {len(photos)}"
            )
            if same_clip is not None:
                other = (close & ~same_clip).any(1).sum()
                line += f" ({int(other)} with a photo of another clip)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
