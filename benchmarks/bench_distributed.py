"""Training throughput under tf.distribute: step time and images/s of the same job (same
global batch, same augmentation) in one process, mirrored over two logical CPU devices in
one process, and as two MultiWorkerMirroredStrategy workers on 127.0.0.1 (``--layouts
one,mirrored`` on a machine with GPUs: one GPU vs all of them).

    PYTHONPATH=. python benchmarks/bench_distributed.py [--arch tiny --image-size 64
        --batch-size 32 --images 512 --epochs 4 --seed 0]

Each layout runs in fresh processes (a strategy has to be created before TensorFlow does
anything else). One warm-up epoch (tracing, XLA compilation) is not timed; then every
timed epoch gives one step time; printed: mean and 95% t-interval over the timed epochs,
and images/s = global batch / mean step time. On a machine with one device per worker
(this 2-core VM) no speed-up is expected: every layout has the same 2 cores to share.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def load_data(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of ../shared/datasets/sign_digits (random pixels when it is absent)."""
    folder = SHARED / "datasets" / "sign_digits"
    if folder.is_dir():
        from edgeposinv.data.dataset import load_images, scan_dataset

        index = scan_dataset(folder)
        records = index.records[:: max(1, len(index.records) // n)][:n]
        index = type(index)(index.root, index.labels, records, ())
        data = load_images(index, size, show_progress=False)
        return data.images, data.label_ids
    print(f"({folder} absent: random images)", file=sys.stderr)
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.integers(0, 10, n)


def worker(args: argparse.Namespace) -> None:
    """One process of a layout: train ``1 + epochs`` epochs, print epoch times as JSON."""
    if args.layout == "mirrored-2cpu":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    from edgeposinv.training import distribute
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.models import build_model
    from edgeposinv.training.pipeline import training_dataset
    from edgeposinv.training.schedule import WarmupCosine, make_optimizer
    from edgeposinv.transforms.augment import AugmentConfig

    choice = {
        "one": "none",
        "mirrored": "mirrored",  # every GPU of the machine
        "mirrored-2cpu": "mirrored",
        "two-workers": "multi-worker",
    }
    strategy, placement = distribute.make_strategy(choice[args.layout])
    images, labels = load_data(args.images, args.image_size, args.seed)
    n_classes = int(labels.max()) + 1
    augment = AugmentConfig.preset("default")
    epochs = args.epochs + 1
    steps = len(images) // args.batch_size
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        model = build_model(args.arch, args.image_size, n_classes, weights="none")
        optimizer = make_optimizer("adam", WarmupCosine(1e-3, epochs * steps, steps), 0.0)
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    ds = distribute.distributed_dataset(
        strategy,
        placement,
        lambda replicas, pipeline, pipelines: training_dataset(
            images,
            labels,
            augment,
            epochs,
            args.batch_size,
            args.seed,
            num_classes=n_classes,
            replicas=replicas,
            pipeline=(pipeline, pipelines),
        )[0],
    )
    ends: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    start = time.perf_counter()
    model.fit(ds, epochs=epochs, steps_per_epoch=steps, verbose=0, callbacks=[Clock()])
    times = np.diff([start, *ends])
    if placement.is_chief:
        print(
            json.dumps(
                {
                    "epoch_s": times.tolist(),
                    "steps": steps,
                    "replicas": placement.n_replicas,
                    "workers": placement.n_workers,
                }
            )
        )


def run_layout(layout: str, args: argparse.Namespace) -> dict:
    base = [sys.executable, __file__, "--worker", "--layout", layout] + [
        f"--{k.replace('_', '-')}={v}"
        for k, v in vars(args).items()
        if k in ("arch", "image_size", "batch_size", "images", "epochs", "seed")
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TF_CONFIG", None)
    if layout != "two-workers":
        out = subprocess.run(base, env=env, capture_output=True, text=True, check=False)
        outs, codes, errs = [out.stdout], [out.returncode], [out.stderr]
    else:
        socks = [socket.socket() for _ in range(2)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]}
        for s in socks:
            s.close()
        procs = [
            subprocess.Popen(
                base,
                env={
                    **env,
                    "TF_CONFIG": json.dumps(
                        {"cluster": cluster, "task": {"type": "worker", "index": i}}
                    ),
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        pairs = [p.communicate() for p in procs]
        outs, errs = [o for o, _ in pairs], [e for _, e in pairs]
        codes = [p.returncode for p in procs]
    if any(codes):
        raise SystemExit(f"{layout} failed: {errs[codes.index(max(codes))][-2000:]}")
    return json.loads(outs[0].strip().splitlines()[-1])


def summary(layout: str, result: dict, batch: int) -> dict:
    from scipy import stats

    step = np.array(result["epoch_s"][1:]) / result["steps"]  # first epoch: warm-up
    mean = float(step.mean())
    half = float(stats.t.ppf(0.975, len(step) - 1) * step.std(ddof=1) / np.sqrt(len(step)))
    return {
        "layout": layout,
        "workers": result["workers"],
        "replicas": result["replicas"],
        "step_ms": 1000 * mean,
        "step_ms_ci95": [1000 * (mean - half), 1000 * (mean + half)],
        "images_per_s": batch / mean,
        "images_per_s_ci95": [batch / (mean + half), batch / max(mean - half, 1e-9)],
        "timed_epochs": len(step),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="tiny")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs (after one warm-up)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--layouts", default="one,mirrored-2cpu,two-workers", help="comma-separated"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--layout", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    print(
        f"{args.arch} {args.image_size}px, global batch {args.batch_size}, {args.images} images, "
        f"default augmentation, seed {args.seed}, {args.epochs} timed epochs after 1 warm-up; "
        f"{os.cpu_count()} CPU cores"
    )
    rows = []
    for layout in args.layouts.split(","):
        row = summary(layout, run_layout(layout, args), args.batch_size)
        rows.append(row)
        lo, hi = row["step_ms_ci95"]
        ilo, ihi = row["images_per_s_ci95"]
        print(
            f"{layout:14s} workers {row['workers']} replicas {row['replicas']}: "
            f"step {row['step_ms']:.0f} ms [95% CI {lo:.0f}-{hi:.0f}], "
            f"{row['images_per_s']:.0f} images/s [{ilo:.0f}-{ihi:.0f}]"
        )
    base = rows[0]
    for row in rows[1:]:
        overlap = not (
            row["step_ms_ci95"][0] > base["step_ms_ci95"][1]
            or row["step_ms_ci95"][1] < base["step_ms_ci95"][0]
        )
        verdict = "inside the noise" if overlap else "outside the noise"
        print(
            f"{row['layout']} vs {base['layout']}: speed-up x{base['step_ms'] / row['step_ms']:.2f} "
            f"({verdict}: the 95% intervals {'overlap' if overlap else 'do not overlap'})"
        )


if __name__ == "__main__":
    main()
