"""Occlusion sensitivity: where in the picture a model looks (Zeiler & Fergus 2014) — no TensorFlow.

A grey square slides over the prepared image; at each position the model runs again and
the drop of the true class's probability is recorded. Positions whose cover costs the
most probability are the ones the answer depends on. Works on any .tflite classifier the
runtime opens (int8 or float).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeposinv.errors import ConfigError
from edgeposinv.tflite.runtime import TFLiteClassifier


@dataclass(frozen=True)
class OcclusionConfig:
    """The patch (a fraction of the image side), its step, and its grey level (0..255)."""

    patch_frac: float = 0.25
    stride_frac: float = 0.125
    fill_level: int = 128

    def __post_init__(self) -> None:
        if not 0.0 < self.patch_frac <= 1.0:
            raise ConfigError(
                f"'patch_frac' of OcclusionConfig must be in (0, 1]. Got {self.patch_frac}."
            )
        if not 0.0 < self.stride_frac <= self.patch_frac:
            raise ConfigError(
                f"'stride_frac' of OcclusionConfig must be in (0, patch_frac={self.patch_frac}]. "
                f"Got {self.stride_frac}."
            )
        if not 0 <= self.fill_level <= 255:
            raise ConfigError(
                f"'fill_level' of OcclusionConfig must be in [0, 255]. Got {self.fill_level}."
            )

    def positions(self, size_px: int) -> tuple[int, list[int]]:
        """Patch side in pixels and the top-left offsets along one axis (the last one flush)."""
        patch = max(1, round(self.patch_frac * size_px))
        stride = max(1, round(self.stride_frac * size_px))
        starts = list(range(0, size_px - patch + 1, stride))
        if starts[-1] != size_px - patch:
            starts.append(size_px - patch)
        return patch, starts


def occlusion_map(
    clf: TFLiteClassifier,
    pixels: np.ndarray,
    class_id: int,
    config: OcclusionConfig = OcclusionConfig(),
) -> np.ndarray:
    """Per-pixel sensitivity of ``class_id`` on one prepared ``(S, S, 3)`` uint8 image.

    Each pixel gets the mean probability drop over the patches that cover it (positive:
    covering it costs the class probability). Shape ``(S, S)``, values in [-1, 1].
    """
    size = pixels.shape[0]
    base = float(clf.predict_proba(pixels)[class_id])
    patch, starts = config.positions(size)
    total = np.zeros((size, size), np.float64)
    count = np.zeros((size, size), np.float64)
    for y in starts:
        for x in starts:
            covered = pixels.copy()
            covered[y : y + patch, x : x + patch] = config.fill_level
            drop = base - float(clf.predict_proba(covered)[class_id])
            total[y : y + patch, x : x + patch] += drop
            count[y : y + patch, x : x + patch] += 1
    return (total / np.maximum(count, 1)).astype(np.float32)


def centre_share(sensitivity: np.ndarray) -> float:
    """Share of the positive sensitivity inside the central half of the frame (by side).

    Near 0.25 for a model that looks everywhere alike; near 1 for one that looks at a
    centred object; low for one that looks at the borders (the backdrop).
    """
    pos = np.clip(sensitivity, 0.0, None)
    total = float(pos.sum())
    if total <= 0.0:
        return float("nan")
    s = sensitivity.shape[0]
    a, b = s // 4, s - s // 4
    return float(pos[a:b, a:b].sum() / total)


def overlay(pixels: np.ndarray, sensitivity: np.ndarray, scale: float | None = None) -> np.ndarray:
    """The image dimmed, with red where covering costs the class probability (what the
    answer rests on) and blue where covering raises it (what misleads; display only)."""
    scale = scale or max(float(np.abs(sensitivity).max()), 1e-6)
    pos = np.clip(sensitivity / scale, 0.0, 1.0)[..., None]
    neg = np.clip(-sensitivity / scale, 0.0, 1.0)[..., None]
    dim = pixels.astype(np.float32) * 0.55
    red = np.array([255.0, 30.0, 0.0], np.float32)
    blue = np.array([0.0, 90.0, 255.0], np.float32)
    out = dim * (1 - pos - neg) + red * pos + blue * neg
    return np.clip(out, 0, 255).astype(np.uint8)
