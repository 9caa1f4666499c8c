"""Position-robust augmentation: parameters are drawn first, then applied.

:class:`AugmentConfig` says which ranges to draw from (units in the names);
:meth:`AugmentConfig.draw` returns :class:`AugmentParams` for a batch of images. The
same parameters can be applied with OpenCV (:func:`apply_params`, used by previews and
evaluation sweeps) or inside tf.data (:mod:`edgeposinv.pipeline`). Geometry comes from
:mod:`edgeposinv.geometry`; nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from edgeposinv import geometry
from edgeposinv.errors import ConfigError


def _check_range(name: str, value: tuple[float, float], lo: float, hi: float) -> None:
    a, b = value
    if not (lo <= a <= b <= hi):
        raise ConfigError(
            f"The '{name}' parameter of AugmentConfig must be an ordered pair within [{lo}, {hi}]. Got {value}."
        )


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms applied to each training image."""

    max_rotation_deg: float = 0.0
    max_shift_frac: float = 0.0
    scale_range: tuple[float, float] = (1.0, 1.0)
    crop_area_range: tuple[float, float] = (1.0, 1.0)
    crop_aspect_range: tuple[float, float] = (1.0, 1.0)
    brightness_max_delta: float = 0.0
    contrast_range: tuple[float, float] = (1.0, 1.0)
    fill_mode: str = "nearest"

    def __post_init__(self) -> None:
        if not 0 <= self.max_rotation_deg <= 180:
            raise ConfigError(
                f"The 'max_rotation_deg' parameter of AugmentConfig must be in [0, 180]. Got {self.max_rotation_deg}."
            )
        if not 0 <= self.max_shift_frac <= 0.5:
            raise ConfigError(
                f"The 'max_shift_frac' parameter of AugmentConfig must be in [0, 0.5]. Got {self.max_shift_frac}."
            )
        _check_range("scale_range", self.scale_range, 0.1, 4.0)
        _check_range("crop_area_range", self.crop_area_range, 0.05, 1.0)
        _check_range("crop_aspect_range", self.crop_aspect_range, 0.25, 4.0)
        _check_range("contrast_range", self.contrast_range, 0.0, 4.0)
        if not 0 <= self.brightness_max_delta <= 1:
            raise ConfigError(
                f"The 'brightness_max_delta' parameter of AugmentConfig must be in [0, 1]. Got {self.brightness_max_delta}."
            )
        if self.fill_mode not in geometry.BORDER_MODES:
            raise ConfigError(
                f"The 'fill_mode' parameter of AugmentConfig must be one of {sorted(geometry.BORDER_MODES)}. Got {self.fill_mode!r}."
            )

    @property
    def is_identity(self) -> bool:
        return self == AugmentConfig(fill_mode=self.fill_mode)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def preset(cls, name: str) -> AugmentConfig:
        try:
            return PRESETS[name]
        except KeyError:
            raise ConfigError(
                f"Unknown augmentation preset {name!r}; choose one of: {', '.join(PRESETS)}"
            ) from None

    def draw(self, rng: np.random.Generator, n: int, size_px: int) -> AugmentParams:
        """Draw parameters for ``n`` images of side ``size_px``."""
        matrices = np.empty((n, 3, 3))
        area = rng.uniform(*self.crop_area_range, size=n)
        log_aspect = rng.uniform(math.log(self.crop_aspect_range[0]), math.log(self.crop_aspect_range[1]), size=n)
        rot = rng.uniform(-self.max_rotation_deg, self.max_rotation_deg, size=n)
        shift = rng.uniform(-self.max_shift_frac, self.max_shift_frac, size=(n, 2))
        scale = np.exp(rng.uniform(math.log(self.scale_range[0]), math.log(self.scale_range[1]), size=n))
        cx, cy = rng.uniform(0, 1, size=n), rng.uniform(0, 1, size=n)
        for i in range(n):
            crop = None
            if area[i] < 1.0 or log_aspect[i] != 0.0:
                aspect = math.exp(log_aspect[i])
                w = min(size_px, size_px * math.sqrt(area[i] * aspect))
                h = min(size_px, size_px * math.sqrt(area[i] / aspect))
                crop = (cx[i] * (size_px - w), cy[i] * (size_px - h), w, h)
            matrices[i] = geometry.affine_matrix(
                size_px, rotation_deg=rot[i], shift_frac=tuple(shift[i]), scale=scale[i], crop_box=crop
            )
        brightness = rng.uniform(-self.brightness_max_delta, self.brightness_max_delta, size=n) * 255.0
        contrast = rng.uniform(*self.contrast_range, size=n)
        return AugmentParams(matrices, brightness, contrast)


@dataclass(frozen=True)
class AugmentParams:
    """Drawn parameters for a batch: ``matrices`` (n, 3, 3), ``brightness`` (n,) in pixel units, ``contrast`` (n,)."""

    matrices: np.ndarray
    brightness: np.ndarray
    contrast: np.ndarray

    def __len__(self) -> int:
        return len(self.matrices)

    def projective_transforms(self) -> np.ndarray:
        return np.stack([geometry.to_projective_transform(m) for m in self.matrices])


def apply_params(image: np.ndarray, params: AugmentParams, i: int, fill_mode: str = "nearest") -> np.ndarray:
    """Apply the ``i``-th drawn parameters to one uint8 image with OpenCV."""
    out = geometry.warp(image, params.matrices[i], fill_mode=fill_mode).astype(np.float32)
    mean = out.mean()
    out = (out - mean) * params.contrast[i] + mean + params.brightness[i]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(),
    "default": AugmentConfig(
        max_rotation_deg=25.0,
        max_shift_frac=0.25,
        scale_range=(0.5, 1.1),
        crop_area_range=(0.75, 1.0),
        crop_aspect_range=(0.8, 1.25),
        brightness_max_delta=0.15,
        contrast_range=(0.75, 1.25),
    ),
}
