"""Published vs wild accuracy of MobileNetV2 (alpha 0.35, 96 px, ImageNet weights from
../shared/weights) trained with ``--augment none`` and with the default recipe.

    PYTHONPATH=. python benchmarks/bench_robustness.py sign     # sign_digits (phone photos)
    PYTHONPATH=. python benchmarks/bench_robustness.py rps      # rps_pi_small (green backdrop)

``sign``: test = held-out photos as captured ("published") and the same photos shifted,
rotated and scaled into a larger cluttered frame ("wild").
``rps`` (our version of the hidden judging): the hands are keyed off the green backdrop
and composited, shifted, rotated, scaled and re-lit, onto backgrounds the training never
used ("wild"); the default recipe adds random-background compositing from a separate
background pool; a third model also gets 15 wild captures per class in its training set.
Backgrounds: crops of scikit-learn's two bundled photos plus drawn clutter — the
training pool and the wild pool share no photo and no clutter style.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from edgeposinv.data.images import read_rgb, write_rgb
from edgeposinv.tflite.preprocess import prepare
from edgeposinv.transforms import geometry
from edgeposinv.transforms.background import backdrop_mask

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
SIZE = 96


def clutter(rng: np.random.Generator, side: int, style: str) -> np.ndarray:
    img = np.empty((side, side, 3), np.float32)
    a, b = rng.uniform(40, 230, 3), rng.uniform(40, 230, 3)
    t = np.linspace(0, 1, side, dtype=np.float32)[:, None, None]
    img[:] = a * (1 - t) + b * t
    for _ in range(int(rng.integers(6, 14))):
        color = tuple(float(v) for v in rng.uniform(0, 255, 3))
        p = tuple(int(v) for v in rng.integers(0, side, 2))
        if style == "blobs":
            cv2.circle(img, p, int(rng.integers(side // 20, side // 5)), color, -1)
        else:  # "lines": stripes and boxes
            q = tuple(int(v) for v in rng.integers(0, side, 2))
            if rng.random() < 0.5:
                cv2.line(img, p, q, color, int(rng.integers(2, side // 15)))
            else:
                cv2.rectangle(img, p, q, color, -1)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def background_pool(kind: str, n: int, side: int, seed: int) -> list[np.ndarray]:
    """``train``: crops of china.jpg + blob clutter; ``wild``: crops of flower.jpg + line clutter."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    photo = photos[0] if kind == "train" else photos[1]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        if i % 2 == 0:
            h, w = photo.shape[:2]
            s = int(min(h, w) * rng.uniform(0.3, 0.9))
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            out.append(
                cv2.resize(photo[y : y + s, x : x + s], (side, side), interpolation=cv2.INTER_AREA)
            )
        else:
            out.append(clutter(rng, side, "blobs" if kind == "train" else "lines"))
    return out


def wild_view(
    rgb: np.ndarray, bg: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None
) -> np.ndarray:
    """``rgb`` (square, contract-prepared) shifted, rotated, scaled into the larger ``bg``."""
    side = bg.shape[0]
    s = rng.uniform(0.45, 0.75) * side / rgb.shape[0]
    margin = (1 - s * rgb.shape[0] / side) / 2
    shift = rng.uniform(-margin, margin, 2) * 0.9
    big = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_LINEAR)
    m = geometry.view_matrix(
        side,
        rotation_deg=rng.uniform(-30, 30),
        scale=s * rgb.shape[0] / side,
        shift_frac=tuple(shift),
    )
    obj = geometry.warp(big, m, fill_mode="constant").astype(np.float32)
    alpha = np.ones(rgb.shape[:2], np.float32) if mask is None else mask
    alpha = geometry.warp(cv2.resize(alpha, (side, side)), m, fill_mode="constant")[..., None]
    out = alpha * obj + (1 - alpha) * bg.astype(np.float32)
    gain = rng.uniform(0.75, 1.2) * rng.uniform(0.9, 1.1, 3)  # other light, other white balance
    return np.clip(out * gain, 0, 255).astype(np.uint8)


def split_files(root: Path, test_frac: float, seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    train, test = {}, {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        idx = rng.permutation(len(files))
        k = int(len(files) * test_frac)
        test[d.name] = [files[i] for i in idx[:k]]
        train[d.name] = [files[i] for i in idx[k:]]
    return train, test


def link_folder(dst: Path, files: dict) -> Path:
    for label, paths in files.items():
        (dst / label).mkdir(parents=True, exist_ok=True)
        for p in paths:
            os.symlink(p.resolve(), dst / label / p.name)
    return dst


def evaluate(run_dir: Path, sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    from edgeposinv.training.runs import load_keras_model, read_run

    model = load_keras_model(read_run(run_dir))
    return {
        name: float((model.predict(x.astype(np.float32), verbose=0).argmax(1) == y).mean())
        for name, (x, y) in sets.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", choices=["sign", "rps"])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=None, help="keep runs here (default: a temporary folder)")
    ap.add_argument(
        "--only", nargs="*", help="train only these models (none, default, default+wild15)"
    )
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="TrainConfig overrides, e.g. fine_tune_fraction=0.5",
    )
    args = ap.parse_args()
    folder = SHARED / "datasets" / ("sign_digits" if args.dataset == "sign" else "rps_pi_small")
    if not folder.is_dir() or not WEIGHTS.is_file():
        sys.exit(f"needs {folder} and {WEIGHTS}")
    from edgeposinv.training.train import TrainConfig, train

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_robustness_"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    train_files, test_files = split_files(folder, 0.25, args.seed)
    labels = sorted(test_files)
    canvas = int(SIZE * 1.6)
    wild_bgs = background_pool("wild", 60, canvas, args.seed + 1)
    key = "green" if args.dataset == "rps" else None

    def views(files: dict, pool: list, n_per_class: int | None = None):
        xs_pub, xs_wild, ys = [], [], []
        for k, label in enumerate(labels):
            for p in files[label][:n_per_class]:
                img = prepare(read_rgb(p), SIZE)
                mask = backdrop_mask(img[None], key)[0] if key else None
                xs_pub.append(img)
                xs_wild.append(
                    prepare(wild_view(img, pool[int(rng.integers(len(pool)))], rng, mask), SIZE)
                )
                ys.append(k)
        return np.stack(xs_pub), np.stack(xs_wild), np.array(ys)

    pub, wild, y = views(test_files, wild_bgs)
    cv2.imwrite(
        str(work / "wild_samples.png"),
        cv2.cvtColor(np.hstack(list(wild[:: max(1, len(wild) // 8)][:8])), cv2.COLOR_RGB2BGR),
    )
    sets = {"published": (pub, y), "wild": (wild, y)}
    data = (
        link_folder(work / "data_train", train_files)
        if not (work / "data_train").exists()
        else work / "data_train"
    )
    base = dict(
        arch="mobilenet_v2",
        image_size_px=SIZE,
        alpha=0.35,
        weights=str(WEIGHTS),
        epochs=args.epochs,
        seed=args.seed,
        batch_size=32,
    )
    models = {"none": (data, dict(augment="none")), "default": (data, dict(augment="default"))}
    if args.dataset == "rps":
        bg_dir = work / "backgrounds_train"
        bg_dir.mkdir(exist_ok=True)
        for i, bg in enumerate(background_pool("train", 60, 256, args.seed + 2)):
            write_rgb(bg_dir / f"{i:03d}.png", bg)
        cfg = work / "augment_rps.json"
        cfg.write_text(
            json.dumps(
                {
                    "preset": "default",
                    "background_dir": str(bg_dir),
                    "backdrop": "green",
                    "background_prob": 0.8,
                }
            )
        )
        models["default"] = (data, dict(augment_config=str(cfg)))
        # "some wild captures": 15 per class of *training* hands, in the wild pool's scenes
        plus = work / "data_train_plus_wild"
        if not plus.exists():
            link_folder(plus, train_files)
            _, extra, ey = views(train_files, wild_bgs, 15)
            for i, (img, k) in enumerate(zip(extra, ey)):
                write_rgb(plus / labels[k] / f"wild_{i:03d}.png", img)
        models["default+wild15"] = (plus, dict(augment_config=str(cfg)))
    print(
        f"{args.dataset}: {sum(map(len, train_files.values()))} training photos, {len(y)} test photos "
        f"(published and wild), MobileNetV2-0.35 @ {SIZE}px, {args.epochs} epochs, seed {args.seed}"
    )
    results = {}
    for item in args.set:
        key, value = item.split("=", 1)
        base[key] = (
            type(getattr(TrainConfig(), key))(value)
            if getattr(TrainConfig(), key) is not None
            else int(value)
        )
    for name, (d, extra) in models.items():
        if args.only and name not in args.only:
            continue
        t = time.monotonic()
        train(
            d,
            work / f"run_{name}",
            TrainConfig(**base, **extra),
            overwrite=True,
            show_progress=False,
        )
        results[name] = evaluate(work / f"run_{name}", sets)
        print(
            f"  {name:15s} published {results[name]['published']:6.1%}   wild {results[name]['wild']:6.1%}"
            f"   ({time.monotonic() - t:.0f}s)",
            flush=True,
        )
    if "default" in results and "none" in results:
        gain = results["default"]["wild"] - results["none"]["wild"]
        print(f"default - none, wild: {100 * gain:+.1f} points")
    print(f"runs and samples in {work}")


if __name__ == "__main__":
    main()
