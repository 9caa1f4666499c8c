"""Benchmark every export mode of one trained run, on one machine, in one go.

    python benchmarks/bench_export.py [--run RUN] [--data ../shared/datasets/sign_digits]

Without ``--run`` it trains one: an ImageNet MobileNetV2-0.35 backbone (the local
weights file in ../shared/weights), frozen, with a new head fine-tuned briefly on the
phone-photo sign digits; it is saved as an ordinary run folder (edgeposinv.training.runs layout).
Prints one table — size, host latency, validation top-1 and top-1 agreement with the
float32 model for every mode — with the CPU named, and checks the targets: int8 at most
0.3x the float32 size, and int8 top-1 within 1 point of float32.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WEIGHTS = (
    REPO.parent
    / "shared"
    / "weights"
    / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
)
DATA = REPO.parent / "shared" / "datasets" / "sign_digits"


def train_mobilenet_run(data_dir: Path, run_dir: Path, size: int, epochs: int, seed: int) -> float:
    """Fine-tune a classifier head on a frozen MobileNetV2-0.35 and save a run folder."""
    from edgeposinv import __version__
    from edgeposinv.data.dataset import load_images, scan_dataset, split_indices
    from edgeposinv.tflite.preprocess import InputContract
    from edgeposinv.training.keras_api import keras, tf
    from edgeposinv.util.files import atomic_dir, atomic_write_json, atomic_write_text

    data = load_images(scan_dataset(data_dir), size)
    train_idx, val_idx = split_indices(data.label_ids, 0.2, seed, groups=data.sessions)
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(inputs)
    # input_tensor keeps the backbone's layers in the outer model (flat), which tfmot's QAT needs
    backbone = keras.applications.MobileNetV2(
        input_tensor=x, alpha=0.35, include_top=False, weights=str(WEIGHTS)
    )
    for layer in backbone.layers:
        layer.trainable = False
    x = keras.layers.GlobalAveragePooling2D(name="gap")(backbone.output)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    outputs = keras.layers.Dense(len(data.labels), activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="mobilenet_v2")
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    xs = data.images.astype(np.float32)
    hist = model.fit(
        xs[train_idx],
        data.label_ids[train_idx],
        validation_data=(xs[val_idx], data.label_ids[val_idx]),
        epochs=epochs,
        batch_size=32,
        verbose=2,
    ).history
    rel = data.relative_paths()
    config = {
        "arch": "mobilenet_v2",
        "image_size_px": size,
        "epochs": epochs,
        "batch_size": 32,
        "augment": "none",
        "seed": seed,
        "val_split": 0.2,
        "learning_rate": 3e-3,
        "alpha": 0.35,
        "backbone": "frozen, ImageNet",
    }
    with atomic_dir(run_dir, overwrite=True) as tmp:
        model.save(tmp / "model.keras")
        atomic_write_text(tmp / "labels.txt", "\n".join(data.labels) + "\n")
        atomic_write_json(
            tmp / "config.json",
            {
                "train": config,
                "input": InputContract(image_size_px=size).to_dict(),
                "dataset": {
                    "path": str(data_dir.resolve()),
                    "labels": list(data.labels),
                    "n_images": len(data.paths),
                    "n_skipped": len(data.skipped),
                },
                "result": {
                    "val_accuracy": hist["val_accuracy"][-1],
                    "n_train": len(train_idx),
                    "n_val": len(val_idx),
                },
                "versions": {
                    "edgeposinv": __version__,
                    "tensorflow": tf.__version__,
                    "python": platform.python_version(),
                },
            },
        )
        atomic_write_json(
            tmp / "split.json",
            {
                "seed": seed,
                "grouped_by_session": False,
                "train": [rel[i] for i in train_idx],
                "val": [rel[i] for i in val_idx],
            },
        )
    return float(hist["val_accuracy"][-1])


def make_qat_run(run_dir: Path, qat_dir: Path, epochs: int, seed: int) -> None:
    """Quantization-aware fine-tuning of a run's model with edgeposinv's QAT recipe
    (:mod:`edgeposinv.training.qat`: per-channel depthwise weights, ranges calibrated from the float
    model, BatchNormalization frozen), saved as a QAT run (HDF5 content, qat=true)."""
    import shutil

    from edgeposinv.data.dataset import DatasetIndex, ImageRecord, load_images
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.qat import calibrate_ranges, quantize_model
    from edgeposinv.training.runs import read_run

    run = read_run(run_dir)
    base = keras.models.load_model(run.model_path, compile=False)
    keras.utils.set_random_seed(seed)
    size = run.contract.image_size_px
    train = load_images(
        DatasetIndex(
            run.data_dir,
            run.labels,
            tuple(ImageRecord(p, p.parent.name) for p in run.split_paths("train")),
        ),
        size,
        show_progress=False,
    )
    qat = quantize_model(base)
    calibrate_ranges(qat, base, train.images[:512])
    qat.compile(
        optimizer=keras.optimizers.Adam(5e-5),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    qat.fit(
        train.images.astype(np.float32), train.label_ids, epochs=epochs, batch_size=32, verbose=2
    )
    shutil.rmtree(qat_dir, ignore_errors=True)
    shutil.copytree(run_dir, qat_dir)
    (qat_dir / "model.keras").unlink()
    qat.save(qat_dir / "model.keras", save_format="h5")
    config = json.loads((qat_dir / "config.json").read_text())
    config["train"].update(qat=True, qat_epochs=epochs)
    (qat_dir / "config.json").write_text(json.dumps(config, indent=2))


def size_by_alpha(alphas, size: int, n_classes: int) -> list[dict]:
    """float32 and int8 file sizes of MobileNetV2 at each width. Sizes do not depend on the
    image size, nor on the weights' values as long as they are all different (the converter
    stores identical constants once, so a freshly initialised model, whose BatchNormalization
    biases are all zero, would look smaller): random weights and calibration do."""
    from edgeposinv.export.quantize import QuantSpec, convert
    from edgeposinv.tflite.metadata import write_entries
    from edgeposinv.training.models import build_model

    calibration = np.random.default_rng(0).integers(0, 256, (32, size, size, 3), dtype=np.uint8)
    rows = []
    for alpha in alphas:
        model = build_model("mobilenet_v2", size, n_classes, alpha=alpha, weights="none")
        rng = np.random.default_rng(1)
        model.set_weights(
            [
                rng.uniform(0.5, 1.5, w.shape)
                if "variance" in w.name
                else rng.normal(0, 0.1, w.shape)
                for w in model.weights
            ]
        )
        f32 = write_entries(convert(model, QuantSpec.float32()), {})
        i8 = write_entries(convert(model, QuantSpec.int8(), calibration), {})
        rows.append(
            {
                "alpha": alpha,
                "params": int(model.count_params()),
                "float32_kib": len(f32) / 1024,
                "int8_kib": len(i8) / 1024,
                "ratio": len(i8) / len(f32),
            }
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--run",
        type=Path,
        help="an existing run folder (default: train MobileNetV2-0.35 on --data)",
    )
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument(
        "--work",
        type=Path,
        default=None,
        help="folder for the run and the models (default: temporary)",
    )
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--runs", type=int, default=50, help="timed invocations per model (after 5 warm-up)"
    )
    ap.add_argument(
        "--qat-epochs", type=int, default=3, help="QAT fine-tuning epochs for int8-qat (0: skip it)"
    )
    ap.add_argument(
        "--alphas",
        type=float,
        nargs="*",
        default=[0.35, 0.5, 0.75, 1.0],
        help="also print the int8/float32 size ratio of MobileNetV2 at these widths (none: skip)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    from edgeposinv.export.export import ExportOptions, export_run, validation_images
    from edgeposinv.export.quantize import QuantSpec
    from edgeposinv.tflite.runtime import TFLiteClassifier
    from edgeposinv.training.runs import read_run
    from edgeposinv.util.machine import machine_info

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-export-"))
    run_dir = args.run
    if run_dir is None:
        for path in (WEIGHTS, args.data):
            if not path.exists():
                print(f"skipped: {path} is not present (../shared holds the real data and weights)")
                return 0
        run_dir = work / "run_mobilenet_v2"
        t0 = time.monotonic()
        acc = train_mobilenet_run(args.data, run_dir, args.image_size, args.epochs, seed=0)
        print(f"trained {run_dir} in {time.monotonic() - t0:.0f}s (Keras val top-1 {acc:.3f})")
    run = read_run(run_dir)
    val = validation_images(run)
    specs = [
        QuantSpec.float32(),
        QuantSpec.float16(),
        QuantSpec.dynamic(),
        QuantSpec.int8(),
        QuantSpec.int8(io="float32"),
    ]
    options = ExportOptions(
        force=True, threads=args.threads, latency_runs=args.runs, latency_warmup=5
    )
    jobs = [(run_dir, spec) for spec in specs]
    if args.qat_epochs > 0:
        t0 = time.monotonic()
        make_qat_run(run_dir, work / "run_qat", args.qat_epochs, seed=0)
        print(f"QAT fine-tuned {work / 'run_qat'} in {time.monotonic() - t0:.0f}s")
        jobs.append((work / "run_qat", QuantSpec.int8_qat()))
    rows, preds = [], {}
    for source, spec in jobs:
        name = (
            spec.mode
            if spec.io == ("uint8" if spec.full_integer else "float32")
            else f"{spec.mode}/{spec.io}"
        )
        t0 = time.monotonic()
        res = export_run(
            source,
            work / "models" / f"{name.replace('/', '_')}.tflite",
            spec,
            overwrite=True,
            options=options,
        )
        clf = TFLiteClassifier(res.model_path, threads=args.threads)
        preds[name] = np.array([int(np.argmax(clf.predict_proba(x))) for x in val.images])
        side = res.sidecar
        rows.append(
            {
                "mode": name,
                "io": spec.io,
                "size_kib": res.size_bytes / 1024,
                "latency_ms": side["latency"]["median_ms"],
                "top1": side["parity"]["tflite_top1"],
                "keras_top1": side["parity"]["keras_top1"],
                "gate": "pass" if side["gate"]["passed"] else "FAIL",
                "export_s": time.monotonic() - t0,
            }
        )
    ref = preds["float32"]
    f32_kib = rows[0][
        "size_kib"
    ]  # the float32 export of the run (int8-qat's own sidecar compares with its QAT model)
    for row in rows:
        row["agree_f32"] = float((preds[row["mode"]] == ref).mean())
        row["ratio"] = row["size_kib"] / f32_kib
    m = machine_info()
    print(
        f"\nrun {run_dir} ({run.config['train']['arch']}, {run.contract.image_size_px}px, {len(run.labels)} classes); "
        f"validation split: {len(val.images)} images of {run.data_dir}"
    )
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['system']} {m['machine']}; LiteRT {args.threads} thread(s), "
        f"median of {args.runs} runs after 5 warm-up\n"
    )
    print(
        "| mode | io | size KiB | x float32 | latency ms | top-1 | agree w/ float32 | gate |\n|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['mode']} | {r['io']} | {r['size_kib']:.1f} | {r['ratio']:.3f} | {r['latency_ms']:.2f} | "
            f"{r['top1']:.1%} | {r['agree_f32']:.1%} | {r['gate']} |"
        )
    print(f"\nKeras float model top-1 on the same split: {rows[0]['keras_top1']:.1%}")
    f32 = next(r for r in rows if r["mode"] == "float32")
    i8 = next(r for r in rows if r["mode"] == "int8")
    size_ok, acc_ok = i8["ratio"] <= 0.3, (f32["top1"] - i8["top1"]) * 100 <= 1.0
    print(
        f"target int8 size <= 0.3x float32: {i8['ratio']:.3f} -> {'MET' if size_ok else 'MISSED'}"
    )
    print(
        f"target int8 top-1 within 1 point of float32: {100 * (i8['top1'] - f32['top1']):+.2f} points -> "
        f"{'MET' if acc_ok else 'MISSED'}"
    )
    from edgeposinv.tflite.inspect import inspect_model

    for r in (f32, i8):
        parts = inspect_model(work / "models" / f"{r['mode']}.tflite")["size_parts"]
        r["size_parts"] = parts
        print(
            f"{r['mode']} bytes: tensor data {parts['tensor_data'] / 1024:.1f} KiB, quantization parameters "
            f"{parts['quantization_params'] / 1024:.1f} KiB, tensor names {parts['tensor_names'] / 1024:.1f} KiB"
        )
    by_alpha = (
        size_by_alpha(args.alphas, run.contract.image_size_px, len(run.labels))
        if args.alphas
        else []
    )
    if by_alpha:
        print(
            "\nMobileNetV2 int8 size by width (per-channel scales are a fixed cost per channel, so the"
            " ratio falls as the model grows):"
        )
        print("| alpha | parameters | float32 KiB | int8 KiB | x float32 |\n|---|---|---|---|---|")
        for r in by_alpha:
            print(
                f"| {r['alpha']} | {r['params']:,} | {r['float32_kib']:.1f} | {r['int8_kib']:.1f} | {r['ratio']:.3f} |"
            )
    (work / "bench_export.json").write_text(
        json.dumps(
            {"machine": m, "rows": rows, "options": asdict(options), "size_by_alpha": by_alpha},
            indent=2,
            default=str,
        )
    )
    print(f"(figures also in {work / 'bench_export.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
