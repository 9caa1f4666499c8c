"""How well do frozen ImageNet features separate the wild hands, by input size? (a minute)

    PYTHONPATH=. nice python benchmarks/probe_wild_features.py --sizes 96,160,224

A linear probe, no fine-tuning: MobileNetV2-0.35 (``../shared/weights``) turns every photo
into its pooled features once per input size (the toolkit's own centre crop and resize),
and a logistic regression is trained on them — on the rig photos of ``rps_pi_small`` plus k
captures per class from ``rps_wild_dev`` (the captures weigh as much as the rig in all, as
``--folder-weights equal`` gives them half of every batch), or on the captures alone — and
tested on wild photos from other sources. Folds, captures and the test photos are
``bench_wild.py``'s, so a row here compares with that benchmark's row of the same k: the
probe is what the features give before any training, in about a minute instead of an hour
of fine-tuning, which makes it the cheap way to choose an input size for the wild.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_wild import FOLDS, LABELS, RIG, WEIGHTS, WILD, pick_captures, wild_folds  # noqa: E402


def features(paths: list[Path], size: int) -> np.ndarray:
    """Pooled MobileNetV2-0.35 features of ``paths`` at ``size`` px, prepared as the toolkit does."""
    from edgeposinv.data.images import read_rgb
    from edgeposinv.tflite.preprocess import prepare
    from edgeposinv.training.keras_api import keras

    backbone = keras.applications.MobileNetV2(
        input_shape=(size, size, 3),
        alpha=0.35,
        include_top=False,
        weights=str(WEIGHTS),
        pooling="avg",
    )
    pixels = np.stack([prepare(read_rgb(p), size) for p in paths]).astype(np.float32)
    return backbone.predict(pixels / 127.5 - 1.0, batch_size=64, verbose=0)


def probe(size: int, ks: list[int]) -> dict[tuple[str, int], list[int]]:
    """Correct answers per fold for each (training set, k)."""
    from sklearn.linear_model import LogisticRegression

    folds = wild_folds()
    rig = [(p, i) for i, lab in enumerate(LABELS) for p in sorted((RIG / lab).iterdir())]
    wild = [item for fold in folds for item in fold]
    pooled = features([p for p, _ in rig + wild], size)  # one backbone for both
    f_rig, f_wild = pooled[: len(rig)], pooled[len(rig) :]
    row = {str(p): j for j, (p, _) in enumerate(wild)}
    y_rig = np.array([y for _, y in rig])
    correct: dict[tuple[str, int], list[int]] = {}
    for s in range(FOLDS):
        test = folds[s]
        pool = [item for f, fold in enumerate(folds) if f != s for item in fold]
        x_test = f_wild[[row[str(p)] for p, _ in test]]
        y_test = np.array([y for _, y in test])
        for k in ks:
            caps = pick_captures(pool, k, s) if k else []
            x_caps = f_wild[[row[str(p)] for p, _ in caps]].reshape(len(caps), f_rig.shape[1])
            y_caps = np.array([y for _, y in caps], dtype=int)
            share = len(y_rig) / max(1, len(y_caps))  # the captures weigh as much as the rig
            sets = {"rig + captures": (np.vstack([f_rig, x_caps]), np.r_[y_rig, y_caps])}
            weights = {"rig + captures": np.r_[np.ones(len(y_rig)), np.full(len(y_caps), share)]}
            if k:
                sets["captures only"] = (x_caps, y_caps)
                weights["captures only"] = np.ones(len(y_caps))
            for name, (x, y) in sets.items():
                clf = LogisticRegression(max_iter=5000).fit(x, y, sample_weight=weights[name])
                correct.setdefault((name, k), []).append(int((clf.predict(x_test) == y_test).sum()))
    return correct


def main() -> int:
    from edgeposinv.evaluation.metrics import wilson_interval

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="96,160,224", help="comma list of input sizes (px)")
    parser.add_argument("--k", default="0,15,60,999", help="captures per class (999: all)")
    args = parser.parse_args()
    if not (RIG.is_dir() and WILD.is_dir() and WEIGHTS.is_file()):
        print(f"skipped: needs {RIG}, {WILD} and {WEIGHTS} (../shared)")
        return 0
    ks = [int(k) for k in args.k.split(",")]
    n = sum(len(fold) for fold in wild_folds())
    print("| input px | trained on | captures/class | wild top-1 (95% CI) | per fold | s |")
    print("|---|---|---|---|---|---|")
    for size in [int(s) for s in args.sizes.split(",")]:
        t0 = time.monotonic()
        correct = probe(size, ks)
        seconds = time.monotonic() - t0
        for (name, k), per_fold in sorted(correct.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            lo, hi = wilson_interval(sum(per_fold), n)
            print(
                f"| {size} | {name} | {'all' if k >= 999 else k} | {sum(per_fold) / n:.1%} "
                f"({lo:.1%}–{hi:.1%}, n={n}) | {' / '.join(map(str, per_fold))} | {seconds:.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
