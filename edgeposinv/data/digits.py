"""The embedded default dataset: scikit-learn's bundled handwritten digits (real scans,
no download), rendered as a "published" set (centred, upright, plain paper) and a "wild"
set (off-centre, rotated, smaller, on cluttered backgrounds, from held-out writers' digits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgeposinv.data.images import write_rgb
from edgeposinv.transforms import geometry
from edgeposinv.util.progress import progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoDataConfig:
    canvas_px: int = 64
    published_digit_frac: float = 0.7
    wild_digit_frac: tuple[float, float] = (0.4, 0.6)
    wild_max_rotation_deg: float = 30.0
    test_fraction: float = 0.35
    seed: int = 0


def _digit_mask(digit: np.ndarray, side_px: int) -> np.ndarray:
    """An 8x8 digit (0..16) as a smooth ink mask (0..1) of ``side_px`` pixels."""
    small = (digit / 16.0).astype(np.float32)
    padded = np.pad(small, 1)
    big = cv2.resize(padded, (side_px, side_px), interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0.0, 1.0)


def _paper(rng: np.random.Generator, size: int) -> np.ndarray:
    tone = rng.uniform(215, 245)
    tint = rng.uniform(-8, 8, size=3)
    img = np.full((size, size, 3), tone, np.float32) + tint
    return img + rng.normal(0, 3, size=(size, size, 3))


def _clutter(rng: np.random.Generator, size: int) -> np.ndarray:
    """A busy but lighter-than-ink background: gradient, coloured shapes and lines."""
    a, b = rng.uniform(150, 250, size=3), rng.uniform(150, 250, size=3)
    t = np.linspace(0, 1, size, dtype=np.float32)
    axis = t[None, :, None] if rng.random() < 0.5 else t[:, None, None]
    img = (a * (1 - axis) + b * axis) * np.ones((size, size, 3), np.float32)
    for _ in range(int(rng.integers(3, 7))):
        color = tuple(float(v) for v in rng.uniform(110, 230, size=3))
        kind = rng.integers(3)
        p = tuple(int(v) for v in rng.integers(0, size, size=2))
        if kind == 0:
            cv2.circle(img, p, int(rng.integers(4, size // 4)), color, -1)
        elif kind == 1:
            q = tuple(int(v) for v in rng.integers(0, size, size=2))
            cv2.rectangle(img, p, q, color, -1)
        else:
            q = tuple(int(v) for v in rng.integers(0, size, size=2))
            cv2.line(img, p, q, color, int(rng.integers(1, 3)))
    return img + rng.normal(0, 4, size=(size, size, 3))


def _compose(background: np.ndarray, mask: np.ndarray, ink: np.ndarray) -> np.ndarray:
    m = mask[..., None]
    return np.clip(background * (1 - m) + ink * m, 0, 255).astype(np.uint8)


def _centred_mask(digit: np.ndarray, cfg: DemoDataConfig) -> np.ndarray:
    """The digit's ink mask, centred on the canvas at the published size."""
    size = cfg.canvas_px
    side = int(round(cfg.published_digit_frac * size))
    mask = np.zeros((size, size), np.float32)
    o = (size - side) // 2
    mask[o : o + side, o : o + side] = _digit_mask(digit, side)
    return mask


def render_published(
    digit: np.ndarray, rng: np.random.Generator, cfg: DemoDataConfig
) -> np.ndarray:
    size = cfg.canvas_px
    mask = _centred_mask(digit, cfg)
    ink = rng.uniform(10, 60, size=3)
    return _compose(_paper(rng, size), mask, ink)


def render_wild(digit: np.ndarray, rng: np.random.Generator, cfg: DemoDataConfig) -> np.ndarray:
    size = cfg.canvas_px
    base = _centred_mask(digit, cfg)
    frac = rng.uniform(*cfg.wild_digit_frac)
    scale = frac / cfg.published_digit_frac
    room = (1 - frac) / 2 * 0.9
    m = geometry.affine_matrix(
        size,
        rotation_deg=rng.uniform(-cfg.wild_max_rotation_deg, cfg.wild_max_rotation_deg),
        scale=scale,
        shift_frac=(rng.uniform(-room, room), rng.uniform(-room, room)),
    )
    mask = geometry.warp(base, m, fill_mode="constant")
    ink = rng.uniform(10, 70, size=3)
    return _compose(_clutter(rng, size), mask, ink)


def build_demo_datasets(
    root: Path, cfg: DemoDataConfig = DemoDataConfig(), show_progress: bool = True
) -> dict[str, Path]:
    """Write ``published_train``, ``published_test`` and ``wild_test`` dataset folders under ``root``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    train_idx, test_idx = train_test_split(
        np.arange(len(digits.target)),
        test_size=cfg.test_fraction,
        stratify=digits.target,
        random_state=cfg.seed,
    )
    rng = np.random.default_rng(cfg.seed)
    jobs = [("published_train", i, render_published) for i in train_idx]
    jobs += [("published_test", i, render_published) for i in test_idx]
    jobs += [("wild_test", i, render_wild) for i in test_idx]
    folders = {name: root / name for name in ("published_train", "published_test", "wild_test")}
    for name, i, render in progress(
        jobs, desc="render digits", unit="img", disable=not show_progress
    ):
        label = str(digits.target[i])
        write_rgb(folders[name] / label / f"digit_{i:04d}.png", render(digits.images[i], rng, cfg))
    log.info(
        "demo data: %d train, %d published test, %d wild test images",
        len(train_idx),
        len(test_idx),
        len(test_idx),
    )
    return folders
