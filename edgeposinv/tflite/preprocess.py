"""The input contract: how a photo or camera frame becomes the model's input tensor.

Defined once, here, and carried inside every exported model so the trainer, the host
evaluation harness and the Android app apply the same policy (``docs/preprocessing.md``):

1. decode with EXIF orientation applied (:func:`edgeposinv.data.images.read_rgb`), RGB order;
2. centre square crop: side ``min(H, W)``, offset ``((W - side) // 2, (H - side) // 2)``;
3. resize the square to ``image_size_px``: area averaging when shrinking
   (``cv2.INTER_AREA``), bilinear with half-pixel centres when enlarging
   (``cv2.INTER_LINEAR``);
4. feed raw uint8 pixel values 0..255; normalisation ``(x - 127.5) / 127.5`` lives inside
   the model. A quantized input tensor receives ``round(x / scale) + zero_point``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from edgeposinv.errors import ConfigError

__all__ = [
    "InputContract",
    "POLICY_VERSION",
    "center_square_crop",
    "prepare",
    "quantize_input",
    "resize_square",
]

POLICY_VERSION = 1


@dataclass(frozen=True)
class InputContract:
    """What a consumer must do to a photo before handing it to the model."""

    image_size_px: int
    color_order: str = "RGB"
    pixel_range: tuple[int, int] = (0, 255)
    normalization_mean: tuple[float, float, float] = (127.5, 127.5, 127.5)
    normalization_std: tuple[float, float, float] = (127.5, 127.5, 127.5)
    normalization_inside_model: bool = True
    orientation: str = "exif"
    crop: str = "center_square"
    resize_down: str = "area"
    resize_up: str = "bilinear"
    policy_version: int = POLICY_VERSION

    def __post_init__(self) -> None:
        if not 8 <= self.image_size_px <= 1024:
            raise ConfigError(f"image_size_px must be in [8, 1024]. Got {self.image_size_px}.")

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("pixel_range", "normalization_mean", "normalization_std"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> InputContract:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for key in ("pixel_range", "normalization_mean", "normalization_std"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def center_square_crop(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return rgb[y0 : y0 + side, x0 : x0 + side]


def resize_square(rgb: np.ndarray, size_px: int) -> np.ndarray:
    """Resize a square image to ``size_px``: area when shrinking, bilinear when enlarging."""
    side = rgb.shape[0]
    if side == size_px:
        return np.ascontiguousarray(rgb)
    interpolation = cv2.INTER_AREA if side > size_px else cv2.INTER_LINEAR
    return cv2.resize(rgb, (size_px, size_px), interpolation=interpolation)


def prepare(rgb: np.ndarray, size_px: int) -> np.ndarray:
    """Apply the contract's crop and resize to a decoded RGB image → ``(S, S, 3)`` uint8."""
    return resize_square(center_square_crop(rgb), size_px)


def quantize_input(
    pixels: np.ndarray, dtype: np.dtype, scale: float, zero_point: int
) -> np.ndarray:
    """Turn uint8 pixel values into what an input tensor of ``dtype`` expects."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return pixels.astype(np.float32)
    if scale == 0:  # unquantized integer input: raw values
        return pixels.astype(dtype)
    info = np.iinfo(dtype)
    q = np.round(pixels.astype(np.float32) / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)
