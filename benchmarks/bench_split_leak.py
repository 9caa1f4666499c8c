"""How much a by-image validation split flatters a model when near-identical shots straddle
it, and whether the near-duplicate grouped split (no manifest needed) is honest.

Two folders with repeated shots, neither with a manifest:

- ``rps``: ``../shared/datasets/rps_wild_dev`` (in-the-wild hands) where every photo is
  saved with ``--shots - 1`` more shots of a burst (shifted up to 4%, zoomed 0.95-1.05,
  re-lit, re-encoded as JPEG), as a phone's burst mode or a user's "take a few more" does.
  Sources (the clip named in the file name, see ``../shared/datasets/README.md``) are
  held apart: a third of each class's sources never enter the training folder.
- ``video``: clips of coloured shapes drifting over textured backgrounds that this script
  writes as real video files (OpenCV ``VideoWriter``), read back frame by frame; every
  third frame kept (10 per clip). A third of the clips are held apart.

Model: MobileNetV2-0.35 (ImageNet weights from ``../shared/weights``), 96 px, ``--epochs``
(the last two fine-tune), no augmentation, batch 32.

For each seed, the training folder is trained once per ``--splits`` — validation split by
image (``near_duplicates="off"``), grouped by perceptual-hash cluster (``grouped``, the
default, no manifest), by backbone-feature cluster (``features``), by the union of both
(``hash+features``), and grouped by capture session (a copy of the folder with a ``manifest.jsonl`` whose
session is the source clip: what ``capture`` records) — and each model is scored on its
validation split and on the held-apart sources (float Keras model; int8 is not involved:
the question is the split). Accuracies with Wilson 95% intervals; note that shots of one
photo are correlated, so the intervals of the validation figures are too narrow.

    python benchmarks/bench_split_leak.py [--data rps video] [--seeds 0 1 2] [--epochs 6]
        [--clips 24] [--shots 4]

Target (issue #18): grouped validation within 5 points of held-apart accuracy, where the
by-image split is 10+ points above it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeposinv.evaluation.metrics import wilson_interval  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"


def source_of(name: str) -> str:
    """The source clip of an rps_wild_dev file name (``rock.IMG_5567_mp4-32_jpg.rf...``)."""
    stem = re.split(r"_png|_jpg|\.rf\.", name.split(".", 1)[1])[0]
    stem = re.sub(r"_(mp4|MOV|mov)-\d+$", "", stem)  # frames of one video clip
    return stem


def burst(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One more shot of the same scene: small shift and zoom, light change, JPEG."""
    h, w = rgb.shape[:2]
    s = rng.uniform(0.95, 1.05)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-2, 2), s)
    m[:, 2] += rng.uniform(-0.04, 0.04, 2) * (w, h)
    out = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    out = np.clip(out.astype(np.float32) * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12), 0, 255)
    ok, buf = cv2.imencode(".jpg", out.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def view(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another shot of the same scene from elsewhere: a different part of it (55-85% of the
    area), turned up to 10 degrees, other light; pixels as unlike as two phone shots of one
    shop shelf (hash distance ~110 of 256 bits, like unrelated photos)."""
    h, w = rgb.shape[:2]
    side = rng.uniform(0.55, 0.85) ** 0.5
    ch, cw = int(h * side), int(w * side)
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    m = cv2.getRotationMatrix2D((cw / 2, ch / 2), rng.uniform(-10, 10), 1.0)
    out = cv2.warpAffine(
        rgb[y0 : y0 + ch, x0 : x0 + cw], m, (cw, ch), borderMode=cv2.BORDER_REFLECT_101
    )
    out = np.clip(out.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-15, 15), 0, 255)
    ok, buf = cv2.imencode(".jpg", out.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def with_sessions(train_dir: Path, dest: Path, session_of) -> Path:
    """A hard-linked copy of ``train_dir`` plus a manifest naming each image's session."""
    shutil.copytree(train_dir, dest, copy_function=os.link)
    lines = []
    for f in sorted(dest.rglob("*")):
        if f.is_file():
            rel = f.relative_to(dest).as_posix()
            lines.append(json.dumps({"path": rel, "session": session_of(rel)}))
    (dest / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return dest


def held_apart(sources: dict[str, list], seed: int, frac: float = 1 / 3) -> set[str]:
    """A third of each class's sources (by name), seeded."""
    rng = np.random.default_rng([seed, 7])
    held = set()
    by_class = defaultdict(list)
    for key in sources:
        by_class[key.split("/", 1)[0]].append(key)
    for keys in by_class.values():
        keys = sorted(keys)
        n = max(1, int(round(len(keys) * frac)))
        held.update(keys[i] for i in rng.choice(len(keys), n, replace=False))
    return held


def wild_sources() -> dict[str, list[Path]]:
    """rps_wild_dev's photos by source (``label/clip``)."""
    root = SHARED / "datasets" / "rps_wild_dev"
    sources: dict[str, list[Path]] = defaultdict(list)
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(label_dir.glob("*.jpg")):
            sources[f"{label_dir.name}/{source_of(f.name)}"].append(f)
    return sources


def copy_held_apart(photo: Path, dest: Path) -> None:
    """Copy a photo of a held-apart source, unchanged, into the held-apart class folder."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(photo, dest / photo.name)


def build_rps(out: Path, shots: int, seed: int) -> tuple[Path, Path]:
    sources = wild_sources()
    held = held_apart(sources, seed)
    rng = np.random.default_rng([seed, 11])
    train_dir, test_dir = out / "train", out / "held"
    for key, files in sources.items():
        label = key.split("/", 1)[0]
        for f in files:
            if key in held:
                copy_held_apart(f, test_dir / label)
                continue
            bgr = cv2.imread(str(f))
            (train_dir / label).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(train_dir / label / f"{f.stem}_0.jpg"), bgr)
            for k in range(1, shots):
                cv2.imwrite(str(train_dir / label / f"{f.stem}_{k}.jpg"), burst(bgr, rng))
    return train_dir, test_dir


def build_gallery(out: Path, shots: int, seed: int) -> tuple[Path, Path]:
    """rps_wild_dev as a phone gallery: each source clip is one visit, each of its photos is
    shot ``shots`` times from different places (:func:`view`), and each class folder is
    numbered in shooting order (``rock_0001.jpg``, ...): no names of originals, no hash links
    — only the numbering says which shots belong together (the issue's shop photos)."""
    sources = wild_sources()
    held = held_apart(sources, seed)
    rng = np.random.default_rng([seed, 13])
    train_dir, test_dir = out / "train", out / "held"
    counter: dict[str, int] = defaultdict(int)
    visits = {}
    for k in rng.permutation(len(sources)):  # visits in a random order
        key = list(sources)[k]
        label = key.split("/", 1)[0]
        for f in sources[key]:
            if key in held:
                copy_held_apart(f, test_dir / label)
                continue
            bgr = cv2.imread(str(f))
            (train_dir / label).mkdir(parents=True, exist_ok=True)
            for _ in range(shots):
                counter[label] += 1
                name = f"{label}_{counter[label]:04d}.jpg"
                cv2.imwrite(str(train_dir / label / name), view(bgr, rng))
                visits[f"{label}/{name}"] = key
    (out / "visits.json").write_text(json.dumps(visits))
    return train_dir, test_dir


def write_clip(path: Path, kind: str, rng: np.random.Generator, frames: int = 30, size=96):
    """A video of one shape drifting and turning over a textured background."""
    low = rng.integers(0, 255, (6, 6, 3)).astype(np.uint8)
    bg = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(-20, 20, (size, size, 3))
    bg = np.clip(bg.astype(int) + noise, 0, 255).astype(np.uint8)
    colour = tuple(int(v) for v in rng.integers(0, 255, 3))  # any colour, low contrast too
    pos = rng.uniform(30, size - 30, 2)
    vel = rng.uniform(-0.6, 0.6, 2)
    r = rng.uniform(10, 18)
    angle, spin = rng.uniform(0, 90), rng.uniform(-1.5, 1.5)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (size, size))
    for t in range(frames):
        img = bg.copy()
        c = pos + vel * t
        a = np.deg2rad(angle + spin * t)
        n = {"circle": 24, "square": 4, "triangle": 3}[kind]
        pts = np.stack(
            [
                c + r * np.array([np.cos(a + 2 * np.pi * i / n), np.sin(a + 2 * np.pi * i / n)])
                for i in range(n)
            ]
        ).astype(np.int32)
        cv2.fillPoly(img, [pts], colour)
        writer.write(img)
    writer.release()


def build_video(out: Path, clips_per_class: int, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng([seed, 13])
    videos = out / "videos"
    videos.mkdir(parents=True)
    sources = {}
    for kind in ("circle", "square", "triangle"):
        for c in range(clips_per_class):
            path = videos / f"{kind}_{c:02d}.avi"
            write_clip(path, kind, rng)
            sources[f"{kind}/{c:02d}"] = path
    held = held_apart(sources, seed)
    for key, path in sources.items():
        label = key.split("/", 1)[0]
        dest = (out / ("held" if key in held else "train")) / label
        dest.mkdir(parents=True, exist_ok=True)
        cap = cv2.VideoCapture(str(path))
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % 3 == 0:
                cv2.imwrite(str(dest / f"{path.stem}_f{i:03d}.png"), frame)
            i += 1
        cap.release()
        if i == 0:
            raise RuntimeError(f"OpenCV could not read back {path} (no MJPG codec?)")
    return out / "train", out / "held"


def accuracy(run_dir: Path, folder: Path) -> tuple[int, int]:
    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.training.runs import load_keras_model, read_run

    run = read_run(run_dir)
    data = load_images(
        scan_dataset(folder), run.contract.image_size_px, labels=run.labels, show_progress=False
    )
    model = load_keras_model(run)
    pred = model.predict(data.images.astype(np.float32), verbose=0, batch_size=64).argmax(1)
    return int((pred == data.label_ids).sum()), len(pred)


def fmt(k: int, n: int) -> str:
    lo, hi = wilson_interval(k, n)
    return f"{k / n:6.1%} ({lo:.1%}-{hi:.1%}, n={n})"


# split name -> (TrainConfig.near_duplicates, folder: plain "train" or "sessions" manifest)
SPLITS = {
    "by image": ("off", "train"),
    "grouped": ("hash", "train"),
    "features": ("features", "train"),
    "hash+features": ("hash+features", "train"),
    "sessions": ("hash", "sessions"),
    # the default without the numbered-sequence rule (as before it existed)
    "grouped, no numbering": ("hash", "train"),
}


def source_key(data: str, base: Path):
    """Split-file path (``label/name``) -> its source (rps, gallery: the clip; video: the clip)."""
    if data == "gallery":
        return json.loads((base / "visits.json").read_text()).__getitem__
    if data == "rps":
        return lambda rel: rel.split("/")[0] + "/" + source_of(rel.split("/")[1])
    return lambda rel: rel.rsplit("_f", 1)[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data", nargs="+", default=["rps", "video"], choices=["rps", "video", "gallery"]
    )
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--shots", type=int, default=4, help="rps: shots per photo")
    ap.add_argument("--clips", type=int, default=24, help="video: clips per class")
    ap.add_argument(
        "--splits",
        nargs="+",
        default=list(SPLITS),
        choices=list(SPLITS),
        help="which validation splits to train (default all)",
    )
    ap.add_argument("--keep", type=Path, default=None, help="keep the folders and runs here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import edgeposinv.data.names as dup
    from edgeposinv.training.train import TrainConfig, train

    min_run = dup.MIN_NUMBERED_RUN

    work = args.keep or Path(tempfile.mkdtemp(prefix="split_leak_"))
    rows = []
    for data in args.data:
        if data in ("rps", "gallery") and not (SHARED / "datasets" / "rps_wild_dev").is_dir():
            print(f"skip rps: {SHARED / 'datasets' / 'rps_wild_dev'} absent")
            continue
        for seed in args.seeds:
            base = work / f"{data}_{seed}"
            shutil.rmtree(base, ignore_errors=True)
            if data == "rps":
                train_dir, held_dir = build_rps(base, args.shots, seed)
            elif data == "gallery":
                train_dir, held_dir = build_gallery(base, args.shots, seed)
            else:
                train_dir, held_dir = build_video(base, args.clips, seed)
            common = dict(
                arch="mobilenet_v2",
                image_size_px=96,
                weights=str(WEIGHTS) if WEIGHTS.is_file() else "imagenet",
                alpha=0.35,
                frozen_epochs=max(1, args.epochs - 2),
            )
            sessions = with_sessions(train_dir, base / "train_sessions", source_key(data, base))
            for split in args.splits:
                near, which = SPLITS[split]
                folder = train_dir if which == "train" else sessions
                config = TrainConfig(
                    epochs=args.epochs,
                    batch_size=32,
                    augment="none",
                    seed=seed,
                    near_duplicates=near,
                    **common,
                )
                run_dir = base / f"run_{split.replace(' ', '_').replace(',', '')}"
                t0 = time.monotonic()
                dup.MIN_NUMBERED_RUN = 10**9 if split.endswith("no numbering") else min_run
                result = train(folder, run_dir, config, show_progress=False)
                n_val = result.n_val
                k_val = int(round(result.val_accuracy * n_val))
                k_held, n_held = accuracy(run_dir, held_dir)
                split_json = json.loads((run_dir / "split.json").read_text())
                src = source_key(data, base)
                train_src = {src(f) for f in split_json["train"]}
                leaks = sum(src(f) in train_src for f in split_json["val"])
                # does validation look like the folder? shots of sources with 2+ photos
                size = Counter(src(f) for f in split_json["train"] + split_json["val"])
                big = 2 * args.shots  # rps, gallery: 2+ photos (video: every clip, so 100%)
                share_val = np.mean([size[src(f)] >= big for f in split_json["val"]])
                share_all = sum(n for n in size.values() if n >= big) / sum(size.values())
                near = split_json["grouping"].get("near_duplicates", {})
                rows.append(
                    (data, seed, split, k_val, n_val, k_held, n_held, time.monotonic() - t0)
                )
                print(
                    f"{data} seed {seed} {split:>13}: validation {fmt(k_val, n_val)}  "
                    f"held-apart {fmt(k_held, n_held)}  "
                    f"gap {100 * (k_val / n_val - k_held / n_held):+5.1f} points  "
                    f"{leaks}/{n_val} val shots from a source in training, "
                    f"{near.get('n_clusters', '-')} clusters ({near.get('method', '-')}), "
                    f"{share_val:.0%} of validation / {share_all:.0%} of the folder from "
                    f"sources of {big}+ shots  "
                    f"({time.monotonic() - t0:.0f}s)",
                    flush=True,
                )
    print("\nPooled over seeds (validation - held-apart, points):")
    for data in args.data:
        for split in args.splits:
            sel = [r for r in rows if r[0] == data and r[2] == split]
            if not sel:
                continue
            kv, nv = sum(r[3] for r in sel), sum(r[4] for r in sel)
            kh, nh = sum(r[5] for r in sel), sum(r[6] for r in sel)
            gaps = [100 * (r[3] / r[4] - r[5] / r[6]) for r in sel]
            print(
                f"  {data:>5} {split:>13}: validation {fmt(kv, nv)}  held-apart {fmt(kh, nh)}  "
                f"gap per seed {', '.join(f'{g:+.1f}' for g in gaps)} (mean {np.mean(gaps):+.1f})"
            )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
