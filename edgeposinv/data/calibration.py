"""Calibration sets for full-integer quantization (``calibration/<name>/``).

A calibration set is a small folder of images that shows the converter the range of
values each activation takes. ``build_calibration_set`` picks a stratified sample of a
dataset — per class, spread over capture sessions and guide cells when the dataset's
``manifest.jsonl`` knows them — copies it to ``calibration/<name>/<label>/`` and writes
``calibration.json`` saying where each image came from. ``load_calibration`` reads a
set (or samples the run's training split) for ``export``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeposinv.data.dataset import (
    DatasetIndex,
    ImageRecord,
    check_dataset_dir,
    load_images,
    scan_dataset,
)
from edgeposinv.data.images import IMAGE_EXTENSIONS, ImageDecodeError, is_image_name, read_rgb
from edgeposinv.data.manifest import read_manifest, warn_problems
from edgeposinv.errors import DatasetError, ExportError, ParameterError
from edgeposinv.util.files import (
    atomic_dir,
    atomic_write_json,
    check_can_write,
    check_not_in_dataset,
    output_error,
)

__all__ = [
    "CALIBRATION_MANIFEST",
    "CalibrationBuildConfig",
    "CalibrationSet",
    "RECOMMENDED_MIN_IMAGES",
    "build_calibration_set",
    "check_count",
    "load_calibration",
]

log = logging.getLogger(__name__)

CALIBRATION_MANIFEST = "calibration.json"
RECOMMENDED_MIN_IMAGES = 100


@dataclass(frozen=True)
class CalibrationBuildConfig:
    per_class: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if self.per_class < 1:
            raise ParameterError(
                "per_class", self.per_class, "must be at least 1", owner="CalibrationBuildConfig"
            )


@dataclass(frozen=True)
class CalibrationSet:
    root: Path
    n_images: int
    per_label: dict
    skipped: tuple[tuple[Path, str], ...]


def _manifest_entries(root: Path) -> dict[str, dict]:
    """relative path → manifest entry (session, guide cell), when the dataset has a manifest."""
    entries, problems = read_manifest(root)
    warn_problems(root, problems)
    return {e["path"]: e for e in entries}


def _stratum(entry: dict | None) -> tuple[str, str]:
    """(session, guide cell) of an image; unknown parts are '-'."""
    if not entry:
        return ("-", "-")
    guide = entry.get("guide") or {}
    cell = guide.get("cell_name") or (
        ",".join(str(v) for v in guide["cell"]) if guide.get("cell") else "-"
    )
    return (str(entry.get("session") or "-"), str(cell))


def _round_robin(groups: dict[tuple[str, str], list[ImageRecord]], rng: np.random.Generator):
    """Yield records taking one from each (session, cell) group in turn, groups in random order."""
    keys = sorted(groups)
    rng.shuffle(keys)
    queues = {k: list(groups[k]) for k in keys}
    for k in keys:
        rng.shuffle(queues[k])
    while any(queues.values()):
        for k in keys:
            if queues[k]:
                yield queues[k].pop()


def build_calibration_set(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: CalibrationBuildConfig = CalibrationBuildConfig(),
    overwrite: bool = False,
) -> CalibrationSet:
    """Copy a stratified sample of ``data_dir`` to ``out_dir`` with a provenance manifest."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    check_dataset_dir(data_dir)
    check_not_in_dataset(out_dir, [data_dir], is_dir=True, param="out_dir")
    check_can_write(out_dir, overwrite)
    index = scan_dataset(data_dir, min_classes=1)
    manifest = _manifest_entries(data_dir)
    rng = np.random.default_rng(config.seed)
    chosen: list[tuple[ImageRecord, tuple[str, str]]] = []
    skipped: list[tuple[Path, str]] = list(index.skipped)
    per_label: dict[str, int] = {}
    for label in index.labels:
        groups: dict[tuple[str, str], list[ImageRecord]] = defaultdict(list)
        for rec in index.records:
            if rec.label == label:
                groups[_stratum(manifest.get(rec.path.relative_to(data_dir).as_posix()))].append(
                    rec
                )
        taken = 0
        for rec in _round_robin(groups, rng):
            if taken == config.per_class:
                break
            try:
                read_rgb(rec.path)
            except ImageDecodeError as e:
                skipped.append((rec.path, str(e).split(": ", 1)[-1]))
                continue
            chosen.append((rec, _stratum(manifest.get(rec.path.relative_to(data_dir).as_posix()))))
            taken += 1
        per_label[label] = taken
        if taken < config.per_class:
            log.warning(
                "class %s has only %d decodable image(s) for per_class %d",
                label,
                taken,
                config.per_class,
            )
    if skipped:
        log.warning(
            "Skipped %d file(s) that do not decode:\n%s",
            len(skipped),
            "\n".join(f"  {p}: {why}" for p, why in skipped),
        )
    images = []
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        for rec, (session, cell) in chosen:
            rel = rec.path.relative_to(data_dir).as_posix()
            dest = Path(rel)  # LABEL/sub/folders/NAME: files of the same name never collide
            (tmp / dest).parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(rec.path, tmp / dest)
            except OSError as e:
                raise output_error(e, out_dir) from None
            images.append(
                {
                    "path": dest.as_posix(),
                    "label": rec.label,
                    "source": rel,
                    "session": None if session == "-" else session,
                    "cell": None if cell == "-" else cell,
                }
            )
        atomic_write_json(
            tmp / CALIBRATION_MANIFEST,
            {
                "source_dataset": str(data_dir.resolve()),
                "seed": config.seed,
                "per_class": config.per_class,
                "stratified_by": ["label", "session", "guide cell"] if manifest else ["label"],
                "n_images": len(images),
                "images": images,
            },
        )
    log.info("wrote %d calibration images to %s", len(images), out_dir)
    return CalibrationSet(out_dir, len(images), per_label, tuple(skipped))


def check_count(n: int, batch_size: int, source: str) -> None:
    """Fewer images than one batch is an error; fewer than 100 a warning that says why."""
    if n < batch_size:
        raise ExportError(
            f"The calibration set ({source}) has {n} decodable image(s), fewer than one batch "
            f"({batch_size}); add images (100+ from the target device) or build one with "
            "'edgeposinv calibration build DATA --out calibration/NAME'"
        )
    if n < RECOMMENDED_MIN_IMAGES:
        log.warning(
            "The calibration set (%s) has only %d images (100+ recommended): int8 ranges are "
            "estimated from these images alone, and values they never show are clipped on the "
            "device, costing accuracy",
            source,
            n,
        )


def load_calibration(
    run, calibration_dir: Path | None, size: int, batch_size: int, seed: int = 0
) -> tuple[np.ndarray, dict]:
    """Calibration pixels and a description of where they came from.

    ``calibration_dir``: every image under it (undecodable ones listed and skipped);
    ``None``: a stratified sample of ``size`` images of the run's training split.
    """
    image_size = run.contract.image_size_px
    if calibration_dir is not None:
        root = Path(calibration_dir)
        if not root.is_dir():
            raise ParameterError(
                "calibration_dir",
                str(root),
                "must be an existing folder of images",
                fix="build one with 'edgeposinv calibration build DATA --out calibration/NAME'",
            )
        files = sorted(p for p in root.rglob("*") if p.is_file() and is_image_name(p))
        if not files:
            raise ExportError(
                f"No images in calibration folder {root} (looked for {', '.join(IMAGE_EXTENSIONS)})"
            )
        index = DatasetIndex(
            root, ("calibration",), tuple(ImageRecord(p, "calibration") for p in files)
        )
        try:
            loaded = load_images(index, image_size, show_progress=False)
        except DatasetError:
            raise ExportError(
                f"No image in calibration folder {root} decodes; replace the files"
            ) from None
        check_count(len(loaded.images), batch_size, str(root))
        return loaded.images, {
            "source": root.name,
            "n_images": int(len(loaded.images)),
            "n_skipped": len(loaded.skipped),
        }
    from sklearn.model_selection import train_test_split

    paths = run.split_paths("train")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise ExportError(
            f"{len(missing)} training image(s) of the run are gone (e.g. {missing[0]}); "
            "pass a 'calibration_dir' with images from the target device",
            params=("calibration_dir",),
        )
    labels = [p.parent.name for p in paths]
    if len(run.data_dirs) > 1 and len(paths) > size:  # several folders: each its batch share
        from edgeposinv.data.folders import stratified_sample

        shares = [f.get("batch_share", 1.0) for f in run.config["dataset"]["folders"]]
        keep = stratified_sample(run.split_folders("train"), labels, shares, size, seed)
        paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
    elif len(paths) > size:
        paths, _, labels, _ = train_test_split(
            paths, labels, train_size=size, stratify=labels, random_state=seed
        )
    index = DatasetIndex(
        run.data_dir, run.class_labels, tuple(ImageRecord(p, lab) for p, lab in zip(paths, labels))
    )
    loaded = load_images(index, image_size, labels=run.labels, show_progress=False)
    images = loaded.images
    # The int8 ranges must also cover what the model meets beyond its classes: the run's
    # unknown training images (open-set training), up to a fifth of the sample.
    unknown = [p for p in run.unknown_paths("train") if p.is_file()]
    if unknown:
        from edgeposinv.data.dataset import load_unknown_images

        rng = np.random.default_rng(seed)
        pick = rng.permutation(len(unknown))[: max(1, size // 5)]
        extra, _ = load_unknown_images([unknown[i] for i in sorted(pick)], image_size)
        images = np.concatenate([images, extra])
    check_count(len(images), batch_size, "sample of the run's training split")
    return images, {
        "source": "training split sample",
        "n_images": int(len(images)),
        "n_unknown": len(images) - len(loaded.images),
        "n_skipped": len(loaded.skipped),
    }
