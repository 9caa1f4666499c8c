"""Image geometry shared by training, evaluation and capture — no TensorFlow here.

Matrices are 3x3 and map *source* pixel coordinates to *destination* pixel
coordinates, with pixel centres at integer coordinates and ``(0, 0)`` the centre of the
top-left pixel. OpenCV applies them directly (:func:`warp`); the TensorFlow applier in
:mod:`edgeposinv.pipeline` uses :func:`to_projective_transform` (the inverse map, in the
layout of ``ImageProjectiveTransformV3``). A test shows both put a pixel in the same place.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def scaling(sx: float, sy: float | None = None) -> np.ndarray:
    return np.diag([sx, sx if sy is None else sy, 1.0])


def rotation(angle_deg: float) -> np.ndarray:
    """Rotation by ``angle_deg`` counter-clockwise as seen on screen (y points down)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def affine_matrix(
    size_px: int,
    *,
    rotation_deg: float = 0.0,
    shift_frac: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    crop_box: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """Compose crop → scale → rotation → shift for a square ``size_px`` frame.

    ``crop_box`` is ``(x0, y0, width, height)`` in pixels of the source: that region is
    stretched to fill the frame (random resized crop). ``scale`` < 1 shrinks the content
    about the centre (the object looks further away); ``rotation_deg`` turns it about the
    centre; ``shift_frac`` moves it by a fraction of the side (positive: right, down).
    """
    c = (size_px - 1) / 2.0
    m = np.eye(3)
    if crop_box is not None:
        x0, y0, w, h = crop_box
        crop_c = (x0 + (w - 1) / 2.0, y0 + (h - 1) / 2.0)
        m = translation(c, c) @ scaling(size_px / w, size_px / h) @ translation(-crop_c[0], -crop_c[1])
    m = translation(c, c) @ rotation(rotation_deg) @ scaling(scale) @ translation(-c, -c) @ m
    return translation(shift_frac[0] * size_px, shift_frac[1] * size_px) @ m


BORDER_MODES = {
    "nearest": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT_101,
    "constant": cv2.BORDER_CONSTANT,
}


def warp(image: np.ndarray, matrix: np.ndarray, fill_mode: str = "nearest", fill_value: float = 0.0) -> np.ndarray:
    """Apply ``matrix`` to ``image`` with OpenCV (bilinear), keeping its size."""
    h, w = image.shape[:2]
    return cv2.warpAffine(
        image,
        np.ascontiguousarray(matrix[:2], dtype=np.float64),
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=BORDER_MODES[fill_mode],
        borderValue=(fill_value, fill_value, fill_value, fill_value),
    )


def to_projective_transform(matrix: np.ndarray) -> np.ndarray:
    """The 8 numbers ``[a0, a1, a2, b0, b1, b2, c0, c1]`` of the inverse map, as TF wants them."""
    inv = np.linalg.inv(matrix)
    inv = inv / inv[2, 2]
    return inv.reshape(-1)[:8].astype(np.float32)
