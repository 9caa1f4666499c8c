"""Position-robust augmentation: parameters are drawn first, then applied.

:class:`AugmentConfig` says which ranges to draw from (units in the names);
:meth:`AugmentConfig.draw` returns :class:`~edgeposinv.transforms.params.AugmentParams`
for a batch of images, which :mod:`edgeposinv.transforms.params` applies with OpenCV
(previews and evaluation) and :mod:`edgeposinv.training.pipeline` inside tf.data. Geometry comes from
:mod:`edgeposinv.transforms.geometry`, colour and blur from :mod:`edgeposinv.transforms.photometric`; nothing
here imports TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgeposinv.errors import ConfigError, ParameterError
from edgeposinv.transforms import geometry, photometric
from edgeposinv.transforms.background import BACKDROPS, BACKGROUND_CROPS
from edgeposinv.transforms.params import AugmentParams

__all__ = [
    "AugmentConfig",
    "PRESETS",
]

Pair = tuple[float, float]


def _check_range(name: str, value: Pair, lo: float, hi: float) -> None:
    if not (isinstance(value, tuple) and len(value) == 2 and lo <= value[0] <= value[1] <= hi):
        raise ParameterError(
            name, value, f"must be an ordered pair within [{lo}, {hi}]", owner="AugmentConfig"
        )


def _check_max(name: str, value: float, hi: float) -> None:
    if not 0 <= value <= hi:
        raise ParameterError(name, value, f"must be in [0, {hi}]", owner="AugmentConfig")


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms applied to each training image.

    Geometric: ``crop_area_range`` (fraction of the image kept by a random resized crop)
    and ``crop_aspect_range`` (width/height of that crop), ``max_rotation_deg``,
    ``max_shift_frac`` (fraction of the side), ``scale_range`` (zoom: <1 smaller),
    ``max_tilt_deg`` (camera not parallel to the object), ``lens_k_range`` (radial
    distortion, >0 barrel up to fisheye-like at ~0.6, <0 pincushion), flips (off by
    default). Photometric: ``brightness_max_delta`` (fraction of 255), ``contrast_range``,
    ``saturation_range``, ``max_hue_deg``, ``white_balance_max_frac`` (per-channel gain
    deviation), ``blur_prob``/``max_blur_sigma_px``, ``motion_blur_prob``/
    ``max_motion_blur_px``, ``max_noise_std`` (pixel levels), ``jpeg_prob``/
    ``jpeg_quality_range``. Background: ``background_dir`` (folder of photos),
    ``backdrop`` (``green``, ``white`` or ``auto``: detected per image, images without a
    plain backdrop left as they are), ``background_prob``, ``background_crop`` (``any``
    part of the photos, or only their ``surroundings``: corners, away from a centred object,
    for device photos of the objects themselves).
    """

    crop_area_range: Pair = (1.0, 1.0)
    crop_aspect_range: Pair = (1.0, 1.0)
    max_rotation_deg: float = 0.0
    max_shift_frac: float = 0.0
    scale_range: Pair = (1.0, 1.0)
    max_tilt_deg: float = 0.0
    lens_k_range: Pair = (0.0, 0.0)
    flip_horizontal: bool = False
    flip_vertical: bool = False
    brightness_max_delta: float = 0.0
    contrast_range: Pair = (1.0, 1.0)
    saturation_range: Pair = (1.0, 1.0)
    max_hue_deg: float = 0.0
    white_balance_max_frac: float = 0.0
    blur_prob: float = 0.0
    max_blur_sigma_px: float = 0.0
    motion_blur_prob: float = 0.0
    max_motion_blur_px: float = 0.0
    max_noise_std: float = 0.0
    jpeg_prob: float = 0.0
    jpeg_quality_range: tuple[int, int] = (60, 95)
    background_dir: str | None = None
    backdrop: str = "green"
    background_prob: float = 0.0
    background_crop: str = "any"
    fill_mode: str = "nearest"

    def __post_init__(self) -> None:
        _check_range("crop_area_range", self.crop_area_range, 0.05, 1.0)
        _check_range("crop_aspect_range", self.crop_aspect_range, 0.25, 4.0)
        _check_max("max_rotation_deg", self.max_rotation_deg, 180)
        _check_max("max_shift_frac", self.max_shift_frac, 0.5)
        _check_range("scale_range", self.scale_range, 0.1, 4.0)
        _check_max("max_tilt_deg", self.max_tilt_deg, 60)
        _check_range("lens_k_range", self.lens_k_range, -0.5, 1.0)
        _check_max("brightness_max_delta", self.brightness_max_delta, 1)
        _check_range("contrast_range", self.contrast_range, 0.0, 4.0)
        _check_range("saturation_range", self.saturation_range, 0.0, 4.0)
        _check_max("max_hue_deg", self.max_hue_deg, 180)
        _check_max("white_balance_max_frac", self.white_balance_max_frac, 0.9)
        for name in ("blur_prob", "motion_blur_prob", "jpeg_prob", "background_prob"):
            _check_max(name, getattr(self, name), 1)
        _check_max("max_blur_sigma_px", self.max_blur_sigma_px, photometric.KERNEL_PX / 3)
        _check_max("max_motion_blur_px", self.max_motion_blur_px, photometric.KERNEL_PX)
        _check_max("max_noise_std", self.max_noise_std, 64)
        _check_range("jpeg_quality_range", self.jpeg_quality_range, 5, 100)
        if self.backdrop not in BACKDROPS:
            raise ParameterError(
                "backdrop",
                self.backdrop,
                f"must be one of {list(BACKDROPS)}",
                owner="AugmentConfig",
            )
        if self.background_crop not in BACKGROUND_CROPS:
            raise ConfigError(
                f"The 'background_crop' parameter of AugmentConfig must be one of {list(BACKGROUND_CROPS)}. "
                f"Got {self.background_crop!r}."
            )
        if self.background_prob > 0 and not self.background_dir:
            raise ParameterError(
                "background_dir",
                self.background_dir,
                f"must be a folder of background photos when background_prob is "
                f"{self.background_prob} (> 0)",
                owner="AugmentConfig",
                fix="set background_dir, or background_prob to 0",
            )
        if self.fill_mode not in geometry.BORDER_MODES:
            raise ParameterError(
                "fill_mode",
                self.fill_mode,
                f"must be one of {sorted(geometry.BORDER_MODES)}",
                owner="AugmentConfig",
            )

    @property
    def is_identity(self) -> bool:
        return self == AugmentConfig(
            fill_mode=self.fill_mode,
            backdrop=self.backdrop,
            background_dir=self.background_dir,
            background_crop=self.background_crop,
        )

    @property
    def uses_background(self) -> bool:
        return self.background_prob > 0

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict, source: str = "augmentation config") -> AugmentConfig:
        """Build from a mapping; ``preset`` (optional) names the base the other keys override."""
        d = dict(d)
        base = cls.preset(str(d.pop("preset", "none")))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(
                f"Unknown key(s) {', '.join(unknown)} in {source}; valid keys: preset, {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        try:
            return replace(base, **values)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
        except (TypeError, ValueError) as e:
            raise ConfigError(f"Bad value in {source}: {e}") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> AugmentConfig:
        """Read a YAML (``.yaml``/``.yml``) or JSON file of AugmentConfig keys (plus ``preset``)."""
        path = Path(path)
        if not path.is_file():
            raise ParameterError(
                "augment_config", str(path), "must be an existing YAML or JSON file"
            )
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"Cannot read {path} as UTF-8 text ({e}); fix or replace it"
            ) from None
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as e:  # noqa: BLE001 - any parse error becomes one actionable line
            raise ConfigError(f"Cannot parse {path}: {str(e).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path} must hold a mapping of AugmentConfig keys; got {type(data).__name__}"
            )
        return cls.from_dict(data, source=str(path))

    @classmethod
    def preset(cls, name: str) -> AugmentConfig:
        try:
            return PRESETS[name]
        except KeyError:
            raise ParameterError(
                "preset", name, f"must be one of: {', '.join(PRESETS)}", owner="AugmentConfig"
            ) from None

    def draw(
        self, rng: np.random.Generator, n: int, size_px: int, n_backgrounds: int = 0
    ) -> AugmentParams:
        """Draw parameters for ``n`` images of side ``size_px``."""

        def u(lo: float, hi: float, shape: int | tuple[int, ...] = n) -> np.ndarray:
            return np.asarray(rng.uniform(lo, hi, size=shape))

        area = u(*self.crop_area_range)
        log_aspect = u(math.log(self.crop_aspect_range[0]), math.log(self.crop_aspect_range[1]))
        cx, cy = u(0, 1), u(0, 1)
        rot = u(-self.max_rotation_deg, self.max_rotation_deg)
        shift = u(-self.max_shift_frac, self.max_shift_frac, (n, 2))
        scale = np.exp(u(math.log(self.scale_range[0]), math.log(self.scale_range[1])))
        tilt = u(-self.max_tilt_deg, self.max_tilt_deg, (n, 2))
        flip_h = rng.random(n) < (0.5 if self.flip_horizontal else 0.0)
        flip_v = rng.random(n) < (0.5 if self.flip_vertical else 0.0)
        lens_k = u(*self.lens_k_range)
        matrices = np.empty((n, 3, 3))
        for i in range(n):
            crop = None
            if area[i] < 1.0 or log_aspect[i] != 0.0:
                aspect = math.exp(log_aspect[i])
                w = min(size_px, size_px * math.sqrt(area[i] * aspect))
                h = min(size_px, size_px * math.sqrt(area[i] / aspect))
                crop = (cx[i] * (size_px - w), cy[i] * (size_px - h), w, h)
            matrices[i] = geometry.view_matrix(
                size_px,
                rotation_deg=rot[i],
                shift_frac=tuple(shift[i]),
                scale=scale[i],
                crop_box=crop,
                tilt_deg=tuple(tilt[i]),
                flip_horizontal=bool(flip_h[i]),
                flip_vertical=bool(flip_v[i]),
            )
        gains = 1.0 + u(-self.white_balance_max_frac, self.white_balance_max_frac, (n, 3))
        sat = u(*self.saturation_range)
        hue = u(-self.max_hue_deg, self.max_hue_deg)
        colors = np.stack([photometric.color_matrix(gains[i], sat[i], hue[i]) for i in range(n)])
        sigma = np.where(rng.random(n) < self.blur_prob, u(0.0, self.max_blur_sigma_px), 0.0)
        motion = np.where(
            rng.random(n) < self.motion_blur_prob, u(0.0, self.max_motion_blur_px), 0.0
        )
        angle = u(0.0, 180.0)
        kernels = np.stack(
            [photometric.blur_kernel(sigma[i], motion[i], angle[i]) for i in range(n)]
        )
        jpeg = np.where(
            rng.random(n) < self.jpeg_prob,
            rng.integers(self.jpeg_quality_range[0], self.jpeg_quality_range[1] + 1, n),
            0,
        )
        use_bg = (rng.random(n) < self.background_prob) & (n_backgrounds > 0)
        background = np.where(use_bg, rng.integers(0, max(1, n_backgrounds), n), -1)
        return AugmentParams(
            matrices=matrices,
            lens_k=lens_k,
            colors=colors,
            brightness=u(-self.brightness_max_delta, self.brightness_max_delta) * 255.0,
            contrast=u(*self.contrast_range),
            kernels=kernels,
            noise_std=u(0.0, self.max_noise_std),
            noise_seeds=rng.integers(0, 2**31 - 1, n),
            jpeg_quality=jpeg.astype(np.int32),
            background=background.astype(np.int32),
        )


PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(),
    "default": AugmentConfig(
        crop_area_range=(0.75, 1.0),
        crop_aspect_range=(0.8, 1.25),
        max_rotation_deg=25.0,
        max_shift_frac=0.25,
        scale_range=(0.35, 1.1),
        max_tilt_deg=10.0,
        lens_k_range=(-0.05, 0.2),
        brightness_max_delta=0.15,
        contrast_range=(0.75, 1.25),
        saturation_range=(0.8, 1.2),
        max_hue_deg=8.0,
        white_balance_max_frac=0.08,
        blur_prob=0.2,
        max_blur_sigma_px=1.0,
        motion_blur_prob=0.1,
        max_motion_blur_px=5.0,
        max_noise_std=4.0,
        jpeg_prob=0.0,
    ),
    "strong": AugmentConfig(
        crop_area_range=(0.5, 1.0),
        crop_aspect_range=(0.75, 1.33),
        max_rotation_deg=40.0,
        max_shift_frac=0.35,
        scale_range=(0.35, 1.2),
        max_tilt_deg=25.0,
        lens_k_range=(-0.15, 0.6),
        brightness_max_delta=0.25,
        contrast_range=(0.6, 1.4),
        saturation_range=(0.6, 1.4),
        max_hue_deg=15.0,
        white_balance_max_frac=0.15,
        blur_prob=0.3,
        max_blur_sigma_px=2.0,
        motion_blur_prob=0.2,
        max_motion_blur_px=9.0,
        max_noise_std=8.0,
        jpeg_prob=0.3,
        jpeg_quality_range=(40, 90),
    ),
}
