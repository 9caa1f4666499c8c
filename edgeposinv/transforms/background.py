"""Random-background compositing for datasets captured against a plain backdrop.

:func:`backdrop_mask` keys out a green screen or a white wall (soft mask, 1 = object);
:func:`load_background_tiles` cuts seeded square tiles from a folder of the user's
background photos. The augmenter warps image and mask together, then lays the warped
object over a tile, so the object moves and shrinks *within* a cluttered scene.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from edgeposinv.data.images import ImageDecodeError, is_image_name, read_rgb
from edgeposinv.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

BACKDROPS = ("green", "white")


def backdrop_mask(images: np.ndarray, backdrop: str) -> np.ndarray:
    """Object mask ``(N, H, W)`` float32 in [0, 1] (0 where the plain backdrop shows)."""
    x = images.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    if backdrop == "green":
        greenness = g - np.maximum(r, b)
        bg = np.clip((greenness - 15.0) / 25.0, 0.0, 1.0)
    elif backdrop == "white":
        lo, hi = x.min(axis=-1), x.max(axis=-1)
        bg = np.clip((lo - 170.0) / 40.0, 0.0, 1.0) * np.clip((40.0 - (hi - lo)) / 20.0, 0.0, 1.0)
    else:
        raise ConfigError(
            f"The 'backdrop' parameter of AugmentConfig must be one of {list(BACKDROPS)}. Got {backdrop!r}."
        )
    mask = 1.0 - bg
    # Remove speckle, keep soft edges.
    out = np.empty_like(mask)
    for i, m in enumerate(mask):
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        out[i] = cv2.GaussianBlur(m, (3, 3), 0)
    return out


def load_background_tiles(
    folder: str | os.PathLike, size_px: int, n_tiles: int, seed: int
) -> np.ndarray:
    """``n_tiles`` random square crops (``(n, S, S, 3)`` uint8) of the photos in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(
            f"Background folder {folder} does not exist; pass a folder of background photos "
            "(jpg/png) in the 'background_dir' augmentation setting"
        )
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p))
    photos = []
    for path in files:
        try:
            photos.append(read_rgb(path))
        except ImageDecodeError as e:
            log.warning("skipping background %s: %s", path, e)
    if not photos:
        raise DatasetError(
            f"No readable background images in {folder} (looked for .jpg, .jpeg, .png, .bmp)"
        )
    rng = np.random.default_rng(seed)
    tiles = np.empty((n_tiles, size_px, size_px, 3), np.uint8)
    for i in range(n_tiles):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(min(h, w) * rng.uniform(0.3, 1.0))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        tile = cv2.resize(
            photo[y0 : y0 + side, x0 : x0 + side], (size_px, size_px), interpolation=cv2.INTER_AREA
        )
        tiles[i] = tile[:, ::-1] if rng.random() < 0.5 else tile
    return tiles


def composite(image: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``mask * image + (1 - mask) * background`` (float32)."""
    m = mask[..., None].astype(np.float32)
    return m * image.astype(np.float32) + (1.0 - m) * background.astype(np.float32)
