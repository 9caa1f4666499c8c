"""Position, rotation and shift sweeps: fixed geometric parameters, the training apply.

Each sweep is a frozen config plus a picklable task for :mod:`edgeposinv.tflite.parallel`: the
task makes the variants of one prepared image with :mod:`edgeposinv.transforms.geometry` (rotation
and shifts through :func:`edgeposinv.transforms.params.apply_params`, the function that applies
training's augmentation with OpenCV) and returns the top-1 class id of every variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from edgeposinv.errors import ConfigError, ParameterError
from edgeposinv.evaluation.metrics import wilson_interval
from edgeposinv.tflite.runtime import TFLiteClassifier
from edgeposinv.transforms import geometry
from edgeposinv.transforms.augment import AugmentConfig
from edgeposinv.transforms.params import AugmentParams, apply_params, fixed_params

BACKGROUNDS = ("mean", "blur", "folder")
TRAINING_FILL_MODE = AugmentConfig().fill_mode


def _top1_of_variants(clf: TFLiteClassifier, variants: list[np.ndarray]) -> np.ndarray:
    return np.array([int(clf.predict_raw(v).argmax()) for v in variants], np.int64)


def _as_params(size: int, views: list[dict]) -> AugmentParams:
    """Fixed augmentation parameters, one set per view (e.g. ``{"rotation_deg": 30}``)."""
    return AugmentParams.concat([fixed_params(size, **view) for view in views])


@dataclass(frozen=True)
class PositionSweepConfig:
    """Each image shrunk to ``object_scale`` of the frame and placed at every cell of a grid.

    Object centres are spread evenly so the object stays whole inside the frame: from
    ``object_scale / 2`` to ``1 - object_scale / 2`` of the side, left to right and top to
    bottom. The rest of the frame is the image's mean colour, a blurred copy of the image,
    or one of the ``backgrounds`` images (cycled).
    """

    grid_rows: int = 5
    grid_cols: int = 5
    object_scale: float = 0.5
    background: str = "mean"

    def __post_init__(self) -> None:
        if not (1 <= self.grid_rows <= 15 and 1 <= self.grid_cols <= 15):
            raise ParameterError(
                "grid",
                f"{self.grid_rows}x{self.grid_cols}",
                "must be ROWSxCOLS with 1..15 each",
                owner="PositionSweepConfig",
            )
        if not 0.1 <= self.object_scale <= 1.0:
            raise ParameterError(
                "object_scale",
                self.object_scale,
                "must be in [0.1, 1.0]",
                owner="PositionSweepConfig",
            )
        if self.background not in BACKGROUNDS:
            raise ParameterError(
                "background",
                self.background,
                f"must be one of: {', '.join(BACKGROUNDS)}",
                owner="PositionSweepConfig",
            )

    def centres_frac(self) -> tuple[np.ndarray, np.ndarray]:
        """Object-centre positions (fractions of the side) of the columns and of the rows."""
        s = self.object_scale

        def spread(n: int) -> np.ndarray:
            return np.full(1, 0.5) if n == 1 else np.linspace(s / 2, 1 - s / 2, n)

        return spread(self.grid_cols), spread(self.grid_rows)

    def matrices(self, size_px: int) -> list[np.ndarray]:
        xs, ys = self.centres_frac()
        return [
            geometry.affine_matrix(size_px, scale=self.object_scale, shift_frac=(x - 0.5, y - 0.5))
            for y in ys
            for x in xs
        ]

    def centre_cells(self) -> list[tuple[int, int]]:
        """The middle cell (or the 2 or 4 middle cells of an even grid)."""

        def mid(n: int) -> list[int]:
            return [n // 2] if n % 2 else [n // 2 - 1, n // 2]

        return [(r, c) for r in mid(self.grid_rows) for c in mid(self.grid_cols)]

    def to_dict(self) -> dict:
        return {
            "grid": [self.grid_rows, self.grid_cols],
            "object_scale": self.object_scale,
            "background": self.background,
        }


@dataclass
class PositionTask:
    config: PositionSweepConfig
    backgrounds: list[np.ndarray] = field(default_factory=list)  # prepared, for background="folder"

    def background_for(self, pixels: np.ndarray, index: int) -> np.ndarray:
        size = pixels.shape[0]
        if self.config.background == "mean":
            return np.broadcast_to(pixels.reshape(-1, 3).mean(axis=0), pixels.shape).astype(
                np.float32
            )
        if self.config.background == "blur":
            return cv2.GaussianBlur(pixels, (0, 0), sigmaX=max(1.0, size / 10)).astype(np.float32)
        return self.backgrounds[index % len(self.backgrounds)].astype(np.float32)

    def variants(self, pixels: np.ndarray, index: int) -> list[np.ndarray]:
        size = pixels.shape[0]
        background = self.background_for(pixels, index)
        ones = np.ones(pixels.shape[:2], np.float32)
        out = []
        for m in self.config.matrices(size):
            # Constant-0 borders make the warped object premultiplied by its coverage.
            obj = geometry.warp(pixels.astype(np.float32), m, fill_mode="constant")
            cover = geometry.warp(ones, m, fill_mode="constant")[..., None]
            composite = obj + background * (1.0 - cover)
            out.append(np.clip(np.round(composite), 0, 255).astype(np.uint8))
        return out

    def __call__(self, clf: TFLiteClassifier, pixels: np.ndarray, index: int) -> np.ndarray:
        return _top1_of_variants(clf, self.variants(pixels, index))


def summarize_position(
    config: PositionSweepConfig, top1: np.ndarray, y_true: np.ndarray, set_name: str
) -> dict:
    """``top1`` is ``(N, rows*cols)``: the heatmap of accuracy and its headline figures."""
    correct = top1 == y_true[:, None]
    acc = correct.mean(axis=0).reshape(config.grid_rows, config.grid_cols)
    centre = float(np.mean([acc[r, c] for r, c in config.centre_cells()]))
    worst_idx = np.unravel_index(int(np.argmin(acc)), acc.shape)
    worst = float(acc[worst_idx])
    corners = [acc[0, 0], acc[0, -1], acc[-1, 0], acc[-1, -1]]
    return {
        "set": set_name,
        **config.to_dict(),
        "n": int(len(y_true)),
        "accuracy": acc.round(6).tolist(),  # rows top to bottom, columns left to right
        "centre_accuracy": centre,
        "worst_accuracy": worst,
        "worst_cell": [int(worst_idx[0]), int(worst_idx[1])],
        "corner_accuracy": float(np.mean(corners)),
        "worst_to_centre": worst / centre if centre > 0 else None,
    }


@dataclass(frozen=True)
class RotationSweepConfig:
    """Top-1 at every angle from -180 to 180 degrees, ``step_deg`` apart."""

    step_deg: float = 15.0
    fill_mode: str = TRAINING_FILL_MODE

    def __post_init__(self) -> None:
        if not 1.0 <= self.step_deg <= 180.0:
            raise ParameterError(
                "step_deg",
                self.step_deg,
                "must be in [1, 180] degrees",
                owner="RotationSweepConfig",
            )
        if self.fill_mode not in geometry.BORDER_MODES:
            raise ConfigError(
                f"fill_mode must be one of {sorted(geometry.BORDER_MODES)}. Got {self.fill_mode!r}."
            )

    def angles_deg(self) -> list[float]:
        n = int(math.floor(360.0 / self.step_deg + 1e-9))
        angles = [-180.0 + i * self.step_deg for i in range(n + 1)]
        return [a for a in angles if a <= 180.0 + 1e-9]


@dataclass
class RotationTask:
    config: RotationSweepConfig

    def __call__(self, clf: TFLiteClassifier, pixels: np.ndarray, index: int) -> np.ndarray:
        size = pixels.shape[0]
        params = _as_params(size, [{"rotation_deg": a} for a in self.config.angles_deg()])
        variants = [
            apply_params(pixels, params, i, fill_mode=self.config.fill_mode)
            for i in range(len(params))
        ]
        return _top1_of_variants(clf, variants)


def summarize_rotation(
    config: RotationSweepConfig, top1: np.ndarray, y_true: np.ndarray, set_name: str
) -> dict:
    acc = (top1 == y_true[:, None]).mean(axis=0)
    angles = config.angles_deg()
    return {
        "set": set_name,
        "n": int(len(y_true)),
        "step_deg": config.step_deg,
        "fill_mode": config.fill_mode,
        "angles_deg": angles,
        "accuracy": acc.round(6).tolist(),
        "upright_accuracy": float(acc[int(np.argmin(np.abs(np.asarray(angles))))]),
        "worst_accuracy": float(acc.min()),
    }


@dataclass(frozen=True)
class ShiftConsistencyConfig:
    """Zhang (2019): do two random shifts of the same image get the same top-1?

    Each image gets one pair of shifts, each drawn uniformly in ``±max_shift_frac`` of the
    side on both axes (seeded per image, so the result does not depend on the workers).
    """

    max_shift_frac: float = 0.125
    seed: int = 0
    fill_mode: str = TRAINING_FILL_MODE

    def __post_init__(self) -> None:
        if not 0.0 < self.max_shift_frac <= 0.5:
            raise ParameterError(
                "max_shift_frac",
                self.max_shift_frac,
                "must be in (0, 0.5] of the side",
                owner="ShiftConsistencyConfig",
            )
        if self.fill_mode not in geometry.BORDER_MODES:
            raise ConfigError(
                f"fill_mode must be one of {sorted(geometry.BORDER_MODES)}. Got {self.fill_mode!r}."
            )

    def shifts(self, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, index])
        return rng.uniform(-self.max_shift_frac, self.max_shift_frac, size=(2, 2))


@dataclass
class ShiftTask:
    config: ShiftConsistencyConfig

    def __call__(self, clf: TFLiteClassifier, pixels: np.ndarray, index: int) -> np.ndarray:
        size = pixels.shape[0]
        params = _as_params(size, [{"shift_frac": tuple(s)} for s in self.config.shifts(index)])
        variants = [
            apply_params(pixels, params, i, fill_mode=self.config.fill_mode) for i in range(2)
        ]
        return _top1_of_variants(clf, variants)


def summarize_shift(
    config: ShiftConsistencyConfig, top1: np.ndarray, y_true: np.ndarray, set_name: str
) -> dict:
    same = top1[:, 0] == top1[:, 1]
    k, n = int(same.sum()), int(len(same))
    return {
        "set": set_name,
        "pairs": n,
        "consistency": k / n if n else 0.0,
        "consistency_ci95": list(wilson_interval(k, n)),
        "max_shift_frac": config.max_shift_frac,
        "max_shift_px": None,
        "fill_mode": config.fill_mode,
        "seed": config.seed,
        "accuracy_of_shifted": float((top1 == y_true[:, None]).mean()) if n else 0.0,
    }
