"""Quality gates for captured frames: blur (rejected), near-duplicates (rejected), exposure (flagged)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgeposinv.errors import ParameterError

#: Side of the grey thumbnail that near-duplicate detection compares.
THUMB_PX = 64


def to_gray(frame_bgr: np.ndarray) -> np.ndarray:
    return frame_bgr if frame_bgr.ndim == 2 else cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a grey image: low for blurred frames."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """A small float thumbnail (area-averaged, so sensor noise mostly cancels out)."""
    return cv2.resize(gray, (THUMB_PX, THUMB_PX), interpolation=cv2.INTER_AREA).astype(np.float32)


def change(thumb_a: np.ndarray, thumb_b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, as a fraction of full scale (0 = identical)."""
    return float(np.mean(np.abs(thumb_a - thumb_b)) / 255.0)


def exposure(
    gray: np.ndarray, dark_level: int = 20, bright_level: int = 235, fraction: float = 0.95
) -> str:
    """``"dark"`` or ``"bright"`` when nearly all pixels are black or white, else ``"ok"``."""
    n = gray.size
    if np.count_nonzero(gray <= dark_level) >= fraction * n:
        return "dark"
    if np.count_nonzero(gray >= bright_level) >= fraction * n:
        return "bright"
    return "ok"


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds: ``min_sharpness`` (Laplacian variance) and ``min_change`` (0..1 of full scale).

    A threshold of 0 turns that gate off.
    """

    min_sharpness: float = 10.0
    min_change: float = 0.01

    def __post_init__(self) -> None:
        if not self.min_sharpness >= 0:
            raise ParameterError(
                "min_sharpness",
                self.min_sharpness,
                "must be at least 0 (0 turns the blur gate off)",
                owner="QualityConfig",
            )
        if not 0 <= self.min_change < 1:
            raise ParameterError(
                "min_change",
                self.min_change,
                "must be in [0, 1) (fraction of full-scale difference; 0 turns the duplicate "
                "gate off)",
                owner="QualityConfig",
            )


@dataclass(frozen=True)
class Verdict:
    """What the gates say about one frame."""

    sharpness: float
    change: float | None  # None when there is no previous kept frame of this label
    exposure: str
    reject: str | None  # "blurry", "duplicate" or None

    @property
    def kept(self) -> bool:
        return self.reject is None


class QualityGates:
    """Judges frames; remembers the last kept thumbnail per label for the duplicate gate."""

    def __init__(self, config: QualityConfig) -> None:
        self.config = config
        self._last: dict[str, np.ndarray] = {}

    def judge(self, frame_bgr: np.ndarray, label: str) -> tuple[Verdict, np.ndarray]:
        gray = to_gray(frame_bgr)
        sharp = sharpness(gray)
        thumb = thumbnail(gray)
        prev = self._last.get(label)
        diff = None if prev is None else change(thumb, prev)
        reject = None
        if sharp < self.config.min_sharpness:
            reject = "blurry"
        elif diff is not None and diff < self.config.min_change:
            reject = "duplicate"
        return Verdict(sharp, diff, exposure(gray), reject), thumb

    def reference(self, label: str) -> np.ndarray | None:
        """The thumbnail new frames of ``label`` are compared with (None before the first)."""
        return self._last.get(label)

    def accept(self, label: str, thumb: np.ndarray) -> None:
        """Record a frame that was kept (and written) as the new reference for ``label``."""
        self._last[label] = thumb

    def forget(self, label: str, thumb: np.ndarray | None) -> None:
        """After an undo: the reference goes back to the previous kept frame (or none)."""
        if thumb is None:
            self._last.pop(label, None)
        else:
            self._last[label] = thumb
