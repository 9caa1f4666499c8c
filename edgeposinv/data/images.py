"""Reading images the one way the whole project reads them (OpenCV, EXIF honoured).

Policy: files are decoded with OpenCV's ``IMREAD_COLOR``, which applies the EXIF
orientation tag (phone JPEGs are often stored sideways), turns grayscale into three
channels, drops alpha and scales 16-bit samples to 8 bits. The result is returned as
8-bit **RGB**. TensorFlow's decoders ignore EXIF, so training never decodes with them.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from edgeposinv.errors import DatasetError, ImageDecodeError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def is_image_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to an ``(H, W, 3)`` uint8 RGB array, EXIF orientation applied."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageDecodeError(f"{path}: cannot read ({e.strerror})") from None
    if data.size == 0:
        raise ImageDecodeError(f"{path}: empty file (0 bytes)")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise ImageDecodeError(f"{path}: not a decodable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_rgb(path: str | os.PathLike, rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    """Encode an RGB uint8 array to ``path`` (format from the extension), atomically."""
    from edgeposinv.util.files import atomic_write_bytes

    path = Path(path)
    params = (
        [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if path.suffix.lower() in (".jpg", ".jpeg") else []
    )
    ok, buf = cv2.imencode(path.suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise DatasetError(f"{path}: OpenCV cannot encode this format; use .jpg or .png")
    atomic_write_bytes(path, buf.tobytes())
