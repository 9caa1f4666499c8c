"""Wild accuracy from a few device photos: rig photos + k captures per class, int8, real wild hands.

    PYTHONPATH=. nice python benchmarks/bench_wild.py --recipes default --k 0,5,15,30,60 --seeds 0,1,2
    PYTHONPATH=. python benchmarks/bench_wild.py --table-only     # print the table of what is done

Training: ``../shared/datasets/rps_pi_small`` (Raspberry Pi rig, green backdrop) plus k
photos per class from ``rps_wild_dev`` (webcams, phones, egocentric video). Test: int8
models (LiteRT) on wild photos from *other sources* than any capture, and on the run's
held-out rig photos ("published").

``rps_wild_dev`` is split by source, never by image (``source_of``): its 300 photos fall
into 3 folds of whole sources (stratified by class). Seed *s* tests on fold *s mod 3*
and draws its captures (and its AdaBN frames) from the other two folds, so three seeds
together test every wild photo exactly once; the pooled row of the table has n = 300.

Results go to ``--results`` (JSON lines, one per recipe/k/seed; a rerun skips what is
done), and the table is printed with Wilson 95% intervals and the time per run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RIG = SHARED / "datasets" / "rps_pi_small"
WILD = SHARED / "datasets" / "rps_wild_dev"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
LABELS = ("paper", "rock", "scissors")
FOLDS = 3

ORIENT = {
    "preset": "default",
    "flip_horizontal": True,
    "flip_vertical": True,
    "max_rotation_deg": 180.0,
}

# name → (TrainConfig overrides, options of this benchmark)
RECIPES: dict[str, tuple[dict, dict]] = {
    "default": ({}, {}),
    "oversample": ({}, {"capture_share": 0.3}),
    "adapt": ({}, {"adapt": True}),
    "oversample+adapt": ({}, {"capture_share": 0.3, "adapt": True}),
    "backgrounds": ({}, {"backgrounds": True}),
    "oversample+backgrounds": ({}, {"capture_share": 0.3, "backgrounds": True}),
    "oversample+backgrounds+adapt": (
        {},
        {"capture_share": 0.3, "backgrounds": True, "adapt": True},
    ),
    "folders": ({"folder_weights": "sqrt"}, {"folders": True}),
    "folders-equal": ({"folder_weights": "equal"}, {"folders": True}),
    "strong": ({"augment": "strong"}, {}),
    "oversample+strong": ({"augment": "strong"}, {"capture_share": 0.3}),
    "size128": ({"image_size_px": 128}, {}),
    # fine-tuning on the rig may distort the pretrained features (Kumar et al. 2022)
    "head-mostly": ({"frozen_epochs": 11}, {}),
    "shallow-ft": ({"fine_tune_fraction": 0.2}, {}),
    # the rig's hands all enter from the right, in colour; wild hands come from any side,
    # and some wild cameras are grey: a gesture's class survives flips and any rotation
    "orient": ({}, {"augment": ORIENT}),
    "orient+grey": ({}, {"augment": {**ORIENT, "saturation_range": [0.0, 1.2]}}),
    "orient+synthbg": ({}, {"augment": {**ORIENT, "background_prob": 0.8}, "synthetic_bg": True}),
    "crop+orient+synthbg": (
        {},
        {"augment": {**ORIENT, "background_prob": 0.8}, "synthetic_bg": True, "rig_crop": True},
    ),
    # self-training: the first model labels unlabeled device frames, its surest ones train a second
    "folders-equal+pseudo": ({"folder_weights": "equal"}, {"folders": True, "pseudo": True}),
    "epochs24": ({"epochs": 24}, {}),
    "folders-equal+epochs24": ({"folder_weights": "equal", "epochs": 24}, {"folders": True}),
    "orient+shelfbg": ({}, {"augment": {**ORIENT, "background_prob": 0.8}, "shelf_bg": True}),
    "randconv": ({}, {"randconv": 2}),
    "folders-equal+randconv": ({"folder_weights": "equal"}, {"folders": True, "randconv": 2}),
    # frozen ImageNet features separate the wild classes better at 160-224 px than at 96
    # (benchmarks/probe_wild_features.py); fine-tuned, 160 px won and became the default
    "folders-equal+size160": ({"folder_weights": "equal", "image_size_px": 160}, {"folders": True}),
    "folders-equal+size224": ({"folder_weights": "equal", "image_size_px": 224}, {"folders": True}),
    "folders-equal+size160+randconv": (
        {"folder_weights": "equal", "image_size_px": 160},
        {"folders": True, "randconv": 2},
    ),
    # the same through train --randconv 2: copies of every training image (captures too),
    # made at the training size after the split
    "folders-equal+size160+train-randconv": (
        {"folder_weights": "equal", "image_size_px": 160, "randconv_copies": 2},
        {"folders": True},
    ),
}
BASE = dict(
    arch="mobilenet_v2",
    alpha=0.35,
    image_size_px=96,
    epochs=12,
    batch_size=32,
    weights=str(WEIGHTS),
)


def source_of(name: str) -> str:
    """The source (clip or original photo) of an ``rps_wild_dev`` file name.

    ``rock.IMG_5567_mp4-32_jpg.rf.<hash>_00287.jpg`` → ``IMG_5567``;
    ``paper.egohands-public-1624465893587_png.rf...`` → ``egohands-public-1624465893587``.
    The label prefix is dropped, so one clip is one source across classes.
    """
    stem = name.split(".", 1)[1] if "." in name else name
    stem = re.split(r"_png|_jpg|_jpeg|\.rf\.", stem)[0]
    clip = re.match(r"(egohands-public-\d+|IMG_\d+)", stem)
    if clip:
        return clip.group(1)
    return re.sub(r"[_-](mp4|MOV|mov|avi)-\d+$", "", stem)


def wild_folds(seed: int = 0) -> list[list[tuple[Path, int]]]:
    """``FOLDS`` lists of (path, label id): whole sources per fold, stratified by class."""
    from sklearn.model_selection import StratifiedGroupKFold

    items = [(p, i) for i, lab in enumerate(LABELS) for p in sorted((WILD / lab).iterdir())]
    y = np.array([i for _, i in items])
    groups = [source_of(p.name) for p, _ in items]
    splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    return [[items[j] for j in test] for _, test in splitter.split(np.zeros(len(y)), y, groups)]


def cropped_rig(dest: Path) -> Path:
    """The rig photos cropped to a square around the hand (found by its green backdrop),
    as wild photos are framed: the hand centred and filling most of the picture."""
    import cv2

    from edgeposinv.data.images import read_rgb
    from edgeposinv.transforms.background import backdrop_mask

    for lab in LABELS:
        (dest / lab).mkdir(parents=True)
        for p in sorted((RIG / lab).iterdir()):
            rgb = read_rgb(p)
            ys, xs = np.nonzero(backdrop_mask(rgb[None], "green")[0] > 0.5)
            if len(xs) < 100:
                cv2.imwrite(str(dest / lab / p.name), rgb[:, :, ::-1])
                continue
            cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
            half = int(max(xs.max() - xs.min(), ys.max() - ys.min()) * 0.6)
            pad = cv2.copyMakeBorder(rgb, half, half, half, half, cv2.BORDER_REPLICATE)
            x0, y0 = int(cx), int(cy)  # centre + half - half in padded coordinates
            crop = pad[y0 : y0 + 2 * half, x0 : x0 + 2 * half]
            cv2.imwrite(str(dest / lab / p.name), crop[:, :, ::-1])
    return dest


_COPY = re.compile(r"_rc\d+$")  # the name suffix of a random-convolution copy


def photo_of(stem: str) -> str:
    """The rig photo a (random-convolution copy's) file stem comes from."""
    return _COPY.sub("", stem)


def randconv_rig(dest: Path, copies: int, seed: int) -> Path:
    """The rig photos plus ``copies`` random-convolution copies of each, with a manifest that
    keeps a photo and its copies in one session."""
    import cv2

    from edgeposinv.data.images import read_rgb
    from edgeposinv.transforms.randconv import random_convolution

    rng = np.random.default_rng([seed, 29])
    lines = []
    for lab in LABELS:
        (dest / lab).mkdir(parents=True)
        for p in sorted((RIG / lab).iterdir()):
            os.symlink(p, dest / lab / p.name)
            lines.append(json.dumps({"path": f"{lab}/{p.name}", "session": p.stem}))
            rgb = read_rgb(p)
            for j in range(copies):
                name = f"{p.stem}_rc{j}.png"
                cv2.imwrite(str(dest / lab / name), random_convolution(rgb, rng)[:, :, ::-1])
                lines.append(json.dumps({"path": f"{lab}/{name}", "session": p.stem}))
    (dest / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return dest


def build_training_folder(
    root: Path, captures: list[tuple[Path, int]], repeat: int, rig: Path = RIG
) -> Path:
    """Rig photos + captures (each repeated ``repeat`` times) as symlinks; the manifest
    groups a capture's copies, and captures of one source, into one session (each rig
    photo is its own session), so copies never straddle train and validation."""
    data = root / "data"
    lines = []
    for lab in LABELS:
        (data / lab).mkdir(parents=True)
        for p in sorted((rig / lab).iterdir()):
            os.symlink(p, data / lab / p.name)
            # Every image needs a session for the split to be grouped at all.
            session = "rig-" + photo_of(p.stem)  # a random-convolution copy: its photo's
            lines.append(json.dumps({"path": f"{lab}/{p.name}", "session": session}))
    for path, label in captures:
        for r in range(repeat):
            rel = f"{LABELS[label]}/cap{r}_{path.name}"
            os.symlink(path, data / rel)
            lines.append(json.dumps({"path": rel, "session": "cap-" + source_of(path.name)}))
    (data / "manifest.jsonl").write_text("\n".join(lines) + ("\n" if lines else ""))
    return data


def captures_folder(dest: Path, captures: list[tuple[Path, int]]) -> Path:
    """The captures alone as a dataset folder (symlinks), sessions = sources."""
    lines = []
    for path, label in captures:
        (dest / LABELS[label]).mkdir(parents=True, exist_ok=True)
        os.symlink(path, dest / LABELS[label] / path.name)
        rel = f"{LABELS[label]}/{path.name}"
        lines.append(json.dumps({"path": rel, "session": source_of(path.name)}))
    (dest / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return dest


def pseudo_labels(
    run_dir: Path,
    frames: list[tuple[Path, int]],
    dest: Path,
    per_class: int = 30,
    min_p: float = 0.7,
) -> tuple[Path, dict]:
    """The first model's surest answers on unlabeled device frames, as a dataset folder: per
    predicted class, the ``per_class`` most confident frames at ``min_p`` or above (their true
    labels are only used to report the pseudo-labels' precision)."""
    from edgeposinv.data.images import read_rgb
    from edgeposinv.tflite.preprocess import prepare
    from edgeposinv.training.runs import load_keras_model, read_run

    run = read_run(run_dir)
    model = load_keras_model(run)
    pixels = np.stack([prepare(read_rgb(p), run.contract.image_size_px) for p, _ in frames])
    probs = model.predict(pixels.astype(np.float32), verbose=0, batch_size=64)
    ids = [run.labels.index(lab) for lab in LABELS]
    probs = probs[:, ids]
    pred, conf = probs.argmax(1), probs.max(1)
    chosen = []
    for c in range(len(LABELS)):
        mine = [i for i in np.argsort(-conf) if pred[i] == c and conf[i] >= min_p]
        chosen += [(frames[i][0], c, frames[i][1]) for i in mine[:per_class]]
    for lab in LABELS:  # a class may get no pseudo-label; its folder stays
        (dest / lab).mkdir(parents=True, exist_ok=True)
    captures_folder(dest, [(path, c) for path, c, _ in chosen])
    right = sum(c == y for _, c, y in chosen)
    return dest, {"n": len(chosen), "correct": int(right), "of_frames": len(frames)}


def synthetic_backgrounds(out: Path, n: int, seed: int) -> Path:
    """Rooms without photos: smooth colour fields, walls, frames and clutter, blurred."""
    import cv2

    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        grid = rng.integers(0, 256, (rng.integers(2, 6), rng.integers(2, 6), 3)).astype(np.uint8)
        img = cv2.resize(grid, (160, 160), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        for _ in range(rng.integers(0, 8)):  # walls, doors, shelves, screens
            x0, y0 = rng.integers(-40, 160, 2)
            w, h = rng.integers(8, 120, 2)
            color = rng.integers(0, 256, 3).tolist()
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), color, -1)
        for _ in range(rng.integers(0, 6)):  # edges, cables, frames
            p = rng.integers(0, 160, 4).tolist()
            cv2.line(
                img,
                (p[0], p[1]),
                (p[2], p[3]),
                rng.integers(0, 256, 3).tolist(),
                int(rng.integers(1, 6)),
            )
        grey = img.mean(axis=2, keepdims=True)  # rooms are mostly muted
        img = grey + rng.uniform(0.1, 0.6) * (img - grey)
        img += rng.normal(0, rng.uniform(0, 12), img.shape)
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 4)))
        cv2.imwrite(str(out / f"bg_{i:04d}.png"), np.clip(img, 0, 255).astype(np.uint8))
    return out


def pick_captures(pool: list[tuple[Path, int]], k: int, seed: int) -> list[tuple[Path, int]]:
    rng = np.random.default_rng([seed, k])
    out = []
    for label in range(len(LABELS)):
        mine = [item for item in pool if item[1] == label]
        take = rng.permutation(len(mine))[: min(k, len(mine))]
        out += [mine[i] for i in sorted(take)]
    return out


def accuracy(model_path: Path, items: list[tuple[Path, int]]) -> tuple[int, int]:
    from edgeposinv.data.images import read_rgb
    from edgeposinv.tflite.runtime import TFLiteClassifier

    clf = TFLiteClassifier(model_path, threads=1)
    ids = [clf.labels.index(lab) for lab in LABELS]
    correct = sum(
        int(clf.predict_proba(clf.prepare(read_rgb(p))).argmax()) == ids[y] for p, y in items
    )
    return correct, len(items)


def run_one(recipe: str, k: int, seed: int, work: Path, keep: Path | None = None) -> dict:
    from edgeposinv.export.export import ExportOptions, QuantSpec, export_run
    from edgeposinv.training.train import TrainConfig, train

    overrides, options = RECIPES[recipe]
    folds = wild_folds()
    test = folds[seed % FOLDS]
    pool = [item for f, fold in enumerate(folds) if f != seed % FOLDS for item in fold]
    captures = pick_captures(pool, k, seed)
    n_rig = sum(len(list((RIG / lab).iterdir())) for lab in LABELS)
    repeat = 1
    share = options.get("capture_share")
    if share and captures:
        repeat = max(1, min(30, round(share * n_rig / ((1 - share) * len(captures)))))
    rig = RIG
    if options.get("rig_crop"):
        rig = cropped_rig(work / "rig_cropped")
    if options.get("randconv"):
        rig = randconv_rig(work / "rig_randconv", options["randconv"], seed)
    if options.get("folders"):  # train RIG CAPTURES: the captures' batch share is folder_weights'
        data = [rig] + ([captures_folder(work / "captures", captures)] if captures else [])
    else:
        data = build_training_folder(work, captures, repeat, rig)
    adapt_dir = None
    if options.get("adapt"):
        adapt_dir = work / "frames"
        adapt_dir.mkdir()
        for path, _ in pool:
            os.symlink(path, adapt_dir / path.name)
    if options.get("augment"):  # AugmentConfig keys over a preset, as --augment-config takes
        aug = dict(options["augment"])
        if options.get("synthetic_bg"):
            aug["background_dir"] = str(synthetic_backgrounds(work / "synthbg", 300, seed))
        if options.get("shelf_bg"):
            aug["background_dir"] = str(SHARED / "datasets" / "unknown_dev" / "images")
        (work / "augment.json").write_text(json.dumps(aug))
        overrides = {**overrides, "augment_config": str(work / "augment.json")}
    config = TrainConfig(
        **{**BASE, **overrides, "seed": seed, "adapt_dir": str(adapt_dir) if adapt_dir else None}
    )
    t0 = time.monotonic()
    result = train(data, work / "run", config, show_progress=False)
    pseudo_info = None
    if options.get("pseudo"):
        unlabeled = [item for item in pool if item not in captures]
        folder, pseudo_info = pseudo_labels(work / "run", unlabeled, work / "pseudo")
        shutil.move(work / "run", work / "run_first")
        result = train([*data, folder], work / "run", config, show_progress=False)
    train_s = time.monotonic() - t0
    model = work / "model.tflite"
    # force: a recipe whose int8 loses accuracy is measured, not refused (the gap is in the table)
    fast = ExportOptions(force=True, compare_float32=False, latency_runs=1, latency_warmup=0)
    export_run(work / "run", model, QuantSpec.int8(), seed=seed, options=fast)
    split = json.loads((work / "run" / "split.json").read_text())
    if "val_folder" in split:  # several folders: folder 0 is the rig
        rels = [rel for rel, f in zip(split["val"], split["val_folder"]) if f == 0]
    else:
        rels = [rel for rel in split["val"] if "/cap" not in rel]
    rels = [rel for rel in rels if photo_of(Path(rel).stem) == Path(rel).stem]  # the rig's own
    val = [(RIG / rel, LABELS.index(rel.split("/")[0])) for rel in rels]
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(model, keep / f"{recipe}_k{k}_s{seed}.tflite")
        (keep / f"{recipe}_k{k}_s{seed}.test.txt").write_text(
            "\n".join(str(p) for p, _ in test) + "\n"
        )
    wild_k, wild_n = accuracy(model, test)
    pub_k, pub_n = accuracy(model, val)
    # The same network in float32: does int8 (calibrated on training images) cost wild accuracy?
    float_model = work / "model_float.tflite"
    export_run(work / "run", float_model, QuantSpec.float32(), seed=seed, options=fast)
    float_k, _ = accuracy(float_model, test)
    return {
        "recipe": recipe,
        "k": k,
        "seed": seed,
        "captures": len(captures),
        "repeat": repeat,
        "n_train": result.n_train,
        "wild_correct": wild_k,
        "wild_n": wild_n,
        "wild_float32_correct": float_k,
        "published_correct": pub_k,
        "published_n": pub_n,
        "train_s": train_s,
        "total_s": time.monotonic() - t0,
        "config": {**overrides, **options},
        **({"pseudo": pseudo_info} if pseudo_info else {}),
    }


def table(rows: list[dict]) -> str:
    from edgeposinv.evaluation.metrics import wilson_interval

    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["recipe"], r["k"])].append(r)
    out = [
        "| recipe | captures/class | seeds | wild top-1 int8, pooled (95% CI) | per seed | wild float32 | published top-1 int8 (95% CI) | min/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (recipe, k), rs in sorted(
        groups.items(), key=lambda kv: (list(RECIPES).index(kv[0][0]), kv[0][1])
    ):
        rs = sorted(rs, key=lambda r: r["seed"])
        wk, wn = sum(r["wild_correct"] for r in rs), sum(r["wild_n"] for r in rs)
        pk, pn = sum(r["published_correct"] for r in rs), sum(r["published_n"] for r in rs)
        wl, wh = wilson_interval(wk, wn)
        pl, ph = wilson_interval(pk, pn)
        per_seed = " / ".join(f"{r['wild_correct'] / r['wild_n']:.1%}" for r in rs)
        minutes = np.mean([r["total_s"] for r in rs]) / 60
        floats = [r for r in rs if "wild_float32_correct" in r]
        fl = (
            f"{sum(r['wild_float32_correct'] for r in floats) / sum(r['wild_n'] for r in floats):.1%}"
            f" ({len(floats)} seed{'s' if len(floats) > 1 else ''})"
            if floats
            else "–"
        )
        out.append(
            f"| {recipe} | {k} | {','.join(str(r['seed']) for r in rs)} | {wk / wn:.1%} ({wl:.1%}–{wh:.1%}, n={wn}) "
            f"| {per_seed} | {fl} | {pk / pn:.1%} ({pl:.1%}–{ph:.1%}) | {minutes:.1f} |"
        )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", default="default", help=f"comma list of: {', '.join(RECIPES)}")
    parser.add_argument("--k", default="0,5,15,30,60", help="captures per class")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--results", default=str(REPO / "benchmarks" / "results" / "bench_wild.jsonl")
    )
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument(
        "--keep-models", default=None, help="copy each int8 model (and its test list) here"
    )
    args = parser.parse_args()
    if not RIG.is_dir() or not WILD.is_dir() or not WEIGHTS.is_file():
        print(f"skipped: {RIG}, {WILD} or {WEIGHTS} is absent (real data lives in ../shared)")
        return 0
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    rows = (
        [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    )
    if not args.table_only:
        recipes = args.recipes.split(",")
        unknown = [r for r in recipes if r not in RECIPES]
        if unknown:
            parser.error(f"unknown recipe(s) {unknown}; choose from {', '.join(RECIPES)}")
        done = {(r["recipe"], r["k"], r["seed"]) for r in rows}
        for seed in (int(s) for s in args.seeds.split(",")):
            for recipe in recipes:
                for k in (int(v) for v in args.k.split(",")):
                    if (recipe, k, seed) in done:
                        continue
                    with tempfile.TemporaryDirectory(prefix="bench_wild_") as tmp:
                        keep = Path(args.keep_models) if args.keep_models else None
                        row = run_one(recipe, k, seed, Path(tmp), keep)
                    rows.append(row)
                    with results.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(
                        f"{recipe} k={k} seed={seed}: wild {row['wild_correct']}/{row['wild_n']} "
                        f"published {row['published_correct']}/{row['published_n']} ({row['total_s']:.0f} s)",
                        flush=True,
                    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
