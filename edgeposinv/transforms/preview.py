"""``augment-preview``: a contact sheet of augmented samples (OpenCV applier, no TensorFlow)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edgeposinv.errors import ConfigError, ParameterError
from edgeposinv.transforms.augment import AugmentConfig
from edgeposinv.transforms.params import apply_params
from edgeposinv.util.files import atomic_write_bytes, check_can_write, check_not_in_dataset


def preview(
    data_dir: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    preset: str = "default",
    augment_config: str | None = None,
    image_size_px: int = 128,
    rows: int = 4,
    cols: int = 6,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Sample ``rows`` images of ``data_dir`` (spread over the classes; with several
    folders, rows alternate between them), draw ``cols`` augmentations of each and write
    them, original first, as one PNG to ``out``."""
    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.data.folders import as_paths

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ParameterError("out", str(out), "must name a .png file")
    for name, value in (("rows", rows), ("cols", cols)):
        if not 1 <= value <= 32:
            raise ParameterError(name, value, "must be in [1, 32]")
    check_not_in_dataset(out, as_paths(data_dir), is_dir=False)
    check_can_write(out, overwrite)
    augment = (
        AugmentConfig.from_file(augment_config) if augment_config else AugmentConfig.preset(preset)
    )
    roots = as_paths(data_dir)
    indexes = [scan_dataset(r, min_classes=1 if len(roots) > 1 else 2) for r in roots]
    rng = np.random.default_rng(seed)
    picks = []
    for row in range(rows):  # round-robin over the folders, then over each folder's classes
        index = indexes[row % len(indexes)]
        label = index.labels[(row // len(indexes)) % len(index.labels)]
        records = [r for r in index.records if r.label == label]
        picks.append(records[int(rng.integers(len(records)))])
    labels = tuple(sorted({r.label for r in picks}))
    sub = type(indexes[0])(indexes[0].root, labels, tuple(picks), ())
    data = load_images(sub, image_size_px, show_progress=False)
    masks = tiles = None
    if augment.uses_background and augment.background_dir:  # AugmentConfig requires both
        from edgeposinv.transforms.background import backdrop_mask, load_background_tiles

        masks = backdrop_mask(data.images, augment.backdrop)
        tiles = load_background_tiles(
            augment.background_dir, image_size_px, 64, seed, augment.background_crop
        )
    pad = 4
    cell = image_size_px + pad
    sheet = np.full((len(data.images) * cell + pad, (cols + 1) * cell + pad, 3), 255, np.uint8)
    for r, image in enumerate(data.images):
        params = augment.draw(rng, cols, image_size_px, 0 if tiles is None else len(tiles))
        samples = [image] + [
            apply_params(
                image, params, c, augment.fill_mode, None if masks is None else masks[r], tiles
            )
            for c in range(cols)
        ]
        for c, s in enumerate(samples):
            y, x = pad + r * cell, pad + c * cell
            sheet[y : y + image_size_px, x : x + image_size_px] = s
        cv2.putText(
            sheet,
            data.labels[data.label_ids[r]],
            (pad + 3, pad + r * cell + 14),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (255, 255, 0),
            1,
            cv2.LINE_AA,
        )
    ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ConfigError(f"OpenCV could not encode the contact sheet for {out}")
    atomic_write_bytes(out, buf.tobytes())
    return out
