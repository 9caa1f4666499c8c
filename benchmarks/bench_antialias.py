"""Shift consistency with and without ``--antialias`` (same data, same seed).

    PYTHONPATH=. python benchmarks/bench_antialias.py [--arch tiny --augment none --epochs 20]

Data: the demo's published digits (scikit-learn's bundled scans, rendered at 64 px).
Shift consistency (Zhang 2019): the fraction of test images whose predicted class is the
same for two random shifts of up to ``--max-shift-px`` pixels in x and y. Also prints
accuracy on shifted images and the worst-case agreement over a 1-pixel shift sweep.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from edgeposinv.transforms import geometry


def shifted(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    size = images.shape[1]
    return np.stack(
        [
            geometry.warp(
                img,
                geometry.affine_matrix(size, shift_frac=(dx / size, dy / size)),
                fill_mode="nearest",
            )
            for img, (dx, dy) in zip(images, shifts)
        ]
    ).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="tiny")
    ap.add_argument("--augment", default="none")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--max-shift-px", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.data.digits import DemoDataConfig, build_demo_datasets
    from edgeposinv.training.runs import load_keras_model, read_run
    from edgeposinv.training.train import TrainConfig, train

    work = Path(tempfile.mkdtemp(prefix="bench_antialias_"))
    folders = build_demo_datasets(
        work / "data", DemoDataConfig(seed=args.seed), show_progress=False
    )
    test = load_images(
        scan_dataset(folders["published_test"]), args.image_size, show_progress=False
    )
    rng = np.random.default_rng(args.seed)
    n = len(test.images)
    s1 = rng.integers(-args.max_shift_px, args.max_shift_px + 1, (n, 2))
    s2 = rng.integers(-args.max_shift_px, args.max_shift_px + 1, (n, 2))
    x1, x2 = shifted(test.images, s1), shifted(test.images, s2)
    print(
        f"{args.arch} @ {args.image_size}px, augment {args.augment}, {args.epochs} epochs, seed {args.seed}; "
        f"{n} test digits, random shifts up to {args.max_shift_px}px"
    )
    for antialias in (False, True):
        config = TrainConfig(
            arch=args.arch,
            image_size_px=args.image_size,
            epochs=args.epochs,
            augment=args.augment,
            seed=args.seed,
            antialias=antialias,
            weights="none",
        )
        run = work / f"aa_{antialias}"
        train(folders["published_train"], run, config, show_progress=False)
        model = load_keras_model(read_run(run))
        p0 = model.predict(test.images.astype(np.float32), verbose=0).argmax(1)
        p1, p2 = (model.predict(x, verbose=0).argmax(1) for x in (x1, x2))
        sweep = [
            model.predict(
                shifted(test.images[:200], np.tile([[d, 0]], (200, 1))), verbose=0
            ).argmax(1)
            for d in range(0, 5)
        ]
        one_px = min(float((a == b).mean()) for a, b in zip(sweep, sweep[1:]))
        print(
            f"  antialias {'on ' if antialias else 'off'}: consistency {np.mean(p1 == p2):6.1%}   "
            f"accuracy centred {np.mean(p0 == test.label_ids):6.1%}   shifted {np.mean(p1 == test.label_ids):6.1%}   "
            f"worst 1-px-step agreement {one_px:6.1%}",
            flush=True,
        )


if __name__ == "__main__":
    main()
