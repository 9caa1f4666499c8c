""" "None of the above" on real photos: how well a rock/paper/scissors model rejects supermarket
shelves, with and without unknown images in training, before and after temperature scaling.

    PYTHONPATH=. python benchmarks/bench_open_set.py [--epochs 6] [--captures 15] [--seed 0]

Data (read-only, ``../shared/datasets``): training = ``rps_pi_small`` (the Pi rig) plus, as
a second dataset folder (multi-folder training, ``sqrt`` batch shares: the default when
this table was measured),
``--captures`` per class from source-group A of ``rps_wild_dev``; measured = the other
source-group of ``rps_wild_dev`` (known wild hands) against one half of
``unknown_dev/images`` (shelves); the other half of ``unknown_dev`` is the ``--unknown``
folder of the open-set recipes. ``rps_wild_dev`` is split by *source* (the clip or photo a
frame came from: the file name without its class prefix, up to ``_png``/``_jpg``/``.rf.``;
screen recordings up to ``_mov``), never by image.

Recipes: ``closed`` (no unknown images), ``uniform`` (outlier exposure: a uniform target on
unknown images) and ``background`` (an extra ``_background`` output); ``closed`` is also
trained on the rig alone (the setting of the 0.39 AUROC measured in the issue), and
``capval`` is ``closed`` with twice the captures, 30% of which are the validation split
(``--val-from``: validation images like the wild, no rig validation). Each model
is exported as int8 twice: without and with temperature scaling; models without a trained
background output a third time with ``--unknown-score features`` (a ``_background`` output
from the distance to the training images' features, :mod:`edgeposinv.export.feature_gate`). Printed per row: AUROC
(known wild vs unknown shelves, max known-class probability, bootstrap 95% CI, seed 0),
FPR at 95% TPR, expected calibration error on the wild hands, the shipped threshold, the
share of unknown shelves accepted at it (Wilson 95% CI), and known-wild accuracy without a
threshold and at it (a rejected hand counts as an error; Wilson 95% CI).
MobileNetV2-0.35, 96 px, ImageNet weights from ``../shared/weights``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATASETS = SHARED / "datasets"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
CLASSES = ("paper", "rock", "scissors")
SIZE = 96


def source_of(name: str) -> str:
    """The clip or photo a ``rps_wild_dev`` frame came from (see the module docstring)."""
    stem = name.split(".", 1)[1] if "." in name else name
    stem = re.split(r"_png|_jpg|\.rf\.", stem)[0]
    return stem.split("_mov")[0]


def split_wild(seed: int) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Source-group A (captures) and B (measured), half of the sources each, seeded."""
    root = DATASETS / "rps_wild_dev"
    files = {c: sorted((root / c).glob("*.jpg")) for c in CLASSES}
    sources = sorted({source_of(p.name) for c in CLASSES for p in files[c]})
    rng = np.random.default_rng(seed)
    group_a = set(rng.permutation(sources)[: len(sources) // 2].tolist())
    a = {c: [p for p in files[c] if source_of(p.name) in group_a] for c in CLASSES}
    b = {c: [p for p in files[c] if source_of(p.name) not in group_a] for c in CLASSES}
    return a, b


def split_unknown(seed: int) -> tuple[list[Path], list[Path]]:
    files = sorted((DATASETS / "unknown_dev" / "images").glob("*"))
    order = np.random.default_rng(seed + 1).permutation(len(files))
    half = len(files) // 2
    return [files[i] for i in sorted(order[:half])], [files[i] for i in sorted(order[half:])]


def link_dataset(dst: Path, per_class: dict[str, list[Path]]) -> Path:
    for c, paths in per_class.items():
        (dst / c).mkdir(parents=True, exist_ok=True)
        for p in paths:
            (dst / c / p.name).symlink_to(p)
    return dst


def link_flat(dst: Path, paths: list[Path]) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for p in paths:
        (dst / p.name).symlink_to(p)
    return dst


def probabilities(model: Path, paths: list[Path]) -> tuple[np.ndarray, object]:
    from edgeposinv.data.images import read_rgb
    from edgeposinv.tflite.runtime import TFLiteClassifier

    clf = TFLiteClassifier(model)
    return np.stack([clf.predict_proba(clf.prepare(read_rgb(p))) for p in paths]), clf


def measure(model: Path, wild: dict[str, list[Path]], unknown: list[Path]) -> dict:
    from edgeposinv.evaluation.metrics import wilson_interval
    from edgeposinv.evaluation.open_set import (
        expected_calibration_error,
        separation,
    )
    from edgeposinv.tflite.open_set import decide_batch

    wild_paths = [p for c in CLASSES for p in wild[c]]
    wild_probs, clf = probabilities(model, wild_paths)
    y = np.array([clf.labels.index(c) for c in CLASSES for _ in wild[c]])
    unk_probs, _ = probabilities(model, unknown)
    r, t = clf.reserved_index, clf.score_threshold
    pred, known_score = decide_batch(wild_probs, r, None)
    kept, _ = decide_batch(wild_probs, r, t)
    u_kept, u_score = decide_batch(unk_probs, r, t)
    n, n_u = len(y), len(unknown)
    hits, hits_t, u_acc = int((pred == y).sum()), int((kept == y).sum()), int((u_kept >= 0).sum())
    sep = separation(known_score, u_score, rounds=1000, seed=0)
    return {
        "auroc": sep["auroc"],
        "auroc_ci95": sep["auroc_ci95"],
        "fpr95": sep["fpr_at_95_tpr"],
        "ece_wild": expected_calibration_error(known_score, pred == y)[0],
        "threshold": t,
        "temperature": clf.open_set.temperature if clf.open_set else None,
        "unknown_accepted": u_acc / n_u,
        "unknown_accepted_ci95": wilson_interval(u_acc, n_u),
        "unknown_ge_0.9": float((u_score >= 0.9).mean()),
        "wild_acc": hits / n,
        "wild_acc_ci95": wilson_interval(hits, n),
        "wild_acc_at_t": hits_t / n,
        "wild_acc_at_t_ci95": wilson_interval(hits_t, n),
        "n_wild": n,
        "n_unknown": n_u,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--captures", type=int, default=15, help="wild captures per class in training")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recipes", default="background,closed,rig-closed,uniform,capval")
    ap.add_argument("--keep-correct", type=float, default=0.95)
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the rows")
    args = ap.parse_args()
    if not (DATASETS / "rps_wild_dev").is_dir() or not WEIGHTS.is_file():
        print(f"skipped: {DATASETS} or {WEIGHTS} is absent (needs ../shared)")
        return
    from edgeposinv.export.export import ExportOptions, QuantSpec, export_run
    from edgeposinv.export.open_set import OpenSetOptions
    from edgeposinv.training.train import TrainConfig, train

    group_a, group_b = split_wild(args.seed)
    unknown_train, unknown_test = split_unknown(args.seed)
    rng = np.random.default_rng(args.seed)
    captures = {c: sorted(rng.permutation(group_a[c])[: args.captures].tolist()) for c in CLASSES}
    rig = {c: sorted((DATASETS / "rps_pi_small" / c).glob("*.png")) for c in CLASSES}
    print(
        f"train: rps_pi_small {sum(map(len, rig.values()))} + captures {args.captures}/class from "
        f"wild group A; unknown train {len(unknown_train)}; measured: wild group B "
        f"{sum(map(len, group_b.values()))} hands vs {len(unknown_test)} shelves; "
        f"MobileNetV2-0.35 @ {SIZE}px, {args.epochs} epochs, seed {args.seed}",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rig_only = link_dataset(tmp / "rig", rig)
        caps = link_dataset(tmp / "captures", captures)
        # capval: twice the captures, 30% of them the validation split (no rig validation)
        more = {
            c: sorted(rng.permutation(group_a[c])[: 2 * args.captures].tolist()) for c in CLASSES
        }
        caps_val = link_dataset(tmp / "captures_val", more)
        unknown_dir = link_flat(tmp / "unknown", unknown_train)
        for recipe in args.recipes.split(","):
            # several folders (multi-folder training): the captures get their own batch share
            data = [rig_only] if recipe == "rig-closed" else [rig_only, caps]
            mode = recipe if recipe in ("uniform", "background") else "uniform"
            validation: dict = {}
            if recipe == "capval":
                data = [rig_only, caps_val]
                validation = {"val_from": str(caps_val), "val_split": 0.3}
            config = TrainConfig(
                **validation,
                arch="mobilenet_v2",
                image_size_px=SIZE,
                epochs=args.epochs,
                weights=str(WEIGHTS),
                seed=args.seed,
                unknown_dir=str(unknown_dir) if recipe in ("uniform", "background") else None,
                folder_weights="sqrt",
                open_set_mode=mode,
            )
            t0 = time.monotonic()
            train(data, tmp / recipe, config, show_progress=False)
            train_s = time.monotonic() - t0
            variants = [(False, "softmax"), (True, "softmax")]
            if recipe != "background":  # the feature-distance output needs no unknown images
                variants.append((True, "features"))
            for temperature, score in variants:
                model = tmp / f"{recipe}_{int(temperature)}_{score}.tflite"
                options = ExportOptions(
                    force=True,  # a refused parity gate is reported in the row, not fatal
                    latency_runs=1,
                    latency_warmup=0,
                    compare_float32=False,
                    open_set=OpenSetOptions(
                        True, temperature, args.keep_correct, unknown_score=score
                    ),
                )
                result = export_run(tmp / recipe, model, QuantSpec.int8(), options=options)
                row = {
                    "recipe": recipe,
                    "temperature_scaling": temperature,
                    "unknown_score": score,
                    "parity_drop_points": round(result.parity.get("drop_points", 0.0), 1),
                    "train_s": round(train_s, 1),
                    **measure(model, group_b, unknown_test),
                }
                rows.append(row)
                print(format_row(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


def _ci(lo_hi) -> str:
    return f"({lo_hi[0]:.2f}-{lo_hi[1]:.2f})"


def format_row(r: dict) -> str:
    return (
        f"{r['recipe']:>10} {r.get('unknown_score', 'softmax'):>8} "
        f"T-scaling {'yes' if r['temperature_scaling'] else 'no ':>3} "
        f"T={r['temperature']:.2f}  AUROC {r['auroc']:.3f} {_ci(r['auroc_ci95'])}  "
        f"FPR@95 {r['fpr95']:.2f}  ECE {r['ece_wild']:.3f}  thr {r['threshold']:.3f}  "
        f"unknown accepted {r['unknown_accepted']:.1%} {_ci(r['unknown_accepted_ci95'])} "
        f"(>=0.9: {r['unknown_ge_0.9']:.0%})  wild acc {r['wild_acc']:.1%} {_ci(r['wild_acc_ci95'])}"
        f" -> at thr {r['wild_acc_at_t']:.1%} {_ci(r['wild_acc_at_t_ci95'])}  "
        f"parity drop {r.get('parity_drop_points', 0.0):.1f}  [{r['train_s']:.0f}s train]"
    )


if __name__ == "__main__":
    sys.exit(main())
