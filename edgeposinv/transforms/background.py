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

BACKDROPS = ("green", "white", "auto")
BACKGROUND_CROPS = ("any", "surroundings")
AUTO_BORDER_FRAC = 0.12  # the ring of the frame that "auto" inspects
# Share of that ring that must be backdrop-coloured. White needs more: light walls and
# overexposed skin in ordinary photos are white-ish too.
AUTO_MIN_SHARE = {"green": 0.5, "white": 0.8}


def _backdrop_share(images: np.ndarray, backdrop: str) -> np.ndarray:
    """Per pixel, how surely it shows a plain ``green`` or ``white`` backdrop (0..1)."""
    x = images.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    if backdrop == "green":
        greenness = g - np.maximum(r, b)
        return np.clip((greenness - 15.0) / 25.0, 0.0, 1.0)
    lo, hi = x.min(axis=-1), x.max(axis=-1)
    return np.clip((lo - 170.0) / 40.0, 0.0, 1.0) * np.clip((40.0 - (hi - lo)) / 20.0, 0.0, 1.0)


def detect_backdrop(images: np.ndarray) -> list[str | None]:
    """Per image: ``green`` or ``white`` when that plain backdrop fills most of the frame's
    border ring, else ``None`` (a photo taken anywhere: nothing to replace)."""
    h, w = images.shape[1:3]
    ring = np.ones((h, w), bool)
    dy, dx = max(1, round(AUTO_BORDER_FRAC * h)), max(1, round(AUTO_BORDER_FRAC * w))
    ring[dy:-dy, dx:-dx] = False
    shares = {
        name: _backdrop_share(images, name)[:, ring].mean(axis=1) for name in ("green", "white")
    }
    out: list[str | None] = []
    for i in range(len(images)):
        best = max(shares, key=lambda name: shares[name][i])
        out.append(best if shares[best][i] >= AUTO_MIN_SHARE[best] else None)
    return out


def backdrop_mask(images: np.ndarray, backdrop: str) -> np.ndarray:
    """Object mask ``(N, H, W)`` float32 in [0, 1] (0 where the plain backdrop shows).

    ``auto``: each image's backdrop is detected (:func:`detect_backdrop`); an image with
    no plain backdrop gets an all-object mask, so compositing leaves it unchanged.
    """
    if backdrop not in BACKDROPS:
        raise ConfigError(
            f"The 'backdrop' parameter of AugmentConfig must be one of {list(BACKDROPS)}. Got {backdrop!r}."
        )
    if backdrop == "auto":
        kinds = detect_backdrop(images) if len(images) else []
        bg = np.zeros(images.shape[:3], np.float32)
        for kind in ("green", "white"):
            idx = [i for i, k in enumerate(kinds) if k == kind]
            if idx:
                bg[idx] = _backdrop_share(images[idx], kind)
    else:
        bg = _backdrop_share(images, backdrop)
    mask = 1.0 - bg
    # Remove speckle, keep soft edges.
    out = np.empty_like(mask)
    for i, m in enumerate(mask):
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        out[i] = cv2.GaussianBlur(m, (3, 3), 0)
    return out


def load_background_tiles(
    folder: str | os.PathLike, size_px: int, n_tiles: int, seed: int, crop: str = "any"
) -> np.ndarray:
    """``n_tiles`` random square crops (``(n, S, S, 3)`` uint8) of the photos in ``folder``.

    ``crop="surroundings"``: only corner squares (25-40% of the short side), the parts of a
    device photo of a centred object that show where it is used rather than the object.
    """
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
        if crop == "surroundings":
            side = max(1, int(min(h, w) * rng.uniform(0.25, 0.4)))
            y0 = 0 if rng.random() < 0.5 else h - side
            x0 = 0 if rng.random() < 0.5 else w - side
        else:
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
