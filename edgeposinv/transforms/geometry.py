"""Image geometry shared by training, evaluation and capture — no TensorFlow here.

Matrices are 3x3 and map *source* pixel coordinates to *destination* pixel
coordinates, with pixel centres at integer coordinates and ``(0, 0)`` the centre of the
top-left pixel. They may be projective (perspective tilt). Lens distortion is a radial
map applied last, on the output side (the camera's lens sees the posed object):
an output pixel at normalised radius ``r`` from the centre samples the undistorted
image at radius ``r * (1 + lens_k * r**2)`` (``r = 1`` at the middle of an edge);
``lens_k > 0`` is barrel (fisheye-like), ``lens_k < 0`` pincushion.

OpenCV applies them (:func:`warp`, :func:`sampling_map`); the TensorFlow applier in
:mod:`edgeposinv.training.pipeline` computes the same sampling map from
:func:`to_projective_transform` (the inverse map) and ``lens_k``. A test shows both put
a pixel in the same place.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

__all__ = [
    "BORDER_MODES",
    "affine_matrix",
    "is_affine",
    "lens_forward",
    "rotation",
    "sampling_map",
    "scaling",
    "tilt",
    "to_projective_transform",
    "transform_points",
    "translation",
    "view_matrix",
    "warp",
]


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def scaling(sx: float, sy: float | None = None) -> np.ndarray:
    return np.diag([sx, sx if sy is None else sy, 1.0])


def rotation(angle_deg: float) -> np.ndarray:
    """Rotation by ``angle_deg`` counter-clockwise as seen on screen (y points down)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def tilt(tilt_x_deg: float, tilt_y_deg: float, focal_px: float) -> np.ndarray:
    """Homography of a camera turned by ``tilt_x_deg`` (about the vertical axis: the left
    or right side recedes) and ``tilt_y_deg`` (about the horizontal axis), for a pinhole of
    focal length ``focal_px``, about the origin (compose with translations to centre it)."""
    ax, ay = math.radians(tilt_y_deg), math.radians(tilt_x_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    k = np.diag([focal_px, focal_px, 1.0])
    return k @ ry @ rx @ np.linalg.inv(k)


def view_matrix(
    size_px: int,
    *,
    rotation_deg: float = 0.0,
    shift_frac: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    crop_box: tuple[float, float, float, float] | None = None,
    tilt_deg: tuple[float, float] = (0.0, 0.0),
    flip_horizontal: bool = False,
    flip_vertical: bool = False,
) -> np.ndarray:
    """Compose crop → flip → scale → rotation → tilt → shift for a square ``size_px`` frame.

    ``crop_box`` is ``(x0, y0, width, height)`` in pixels of the source: that region is
    stretched to fill the frame (random resized crop). ``scale`` < 1 shrinks the content
    about the centre (the object looks further away); ``rotation_deg`` turns it about the
    centre; ``tilt_deg`` = ``(x, y)`` views it from a camera turned by those angles (focal
    length = the frame side, about a 53° field of view); ``shift_frac`` moves it by a
    fraction of the side (positive: right, down).
    """
    c = (size_px - 1) / 2.0
    m = np.eye(3)
    if crop_box is not None:
        x0, y0, w, h = crop_box
        crop_c = (x0 + (w - 1) / 2.0, y0 + (h - 1) / 2.0)
        m = (
            translation(c, c)
            @ scaling(size_px / w, size_px / h)
            @ translation(-crop_c[0], -crop_c[1])
        )
    flip = scaling(-1.0 if flip_horizontal else 1.0, -1.0 if flip_vertical else 1.0)
    m = translation(c, c) @ rotation(rotation_deg) @ scaling(scale) @ flip @ translation(-c, -c) @ m
    if tilt_deg[0] or tilt_deg[1]:
        m = (
            translation(c, c)
            @ tilt(tilt_deg[0], tilt_deg[1], float(size_px))
            @ translation(-c, -c)
            @ m
        )
    m = translation(shift_frac[0] * size_px, shift_frac[1] * size_px) @ m
    return m / m[2, 2]


def affine_matrix(
    size_px: int,
    *,
    rotation_deg: float = 0.0,
    shift_frac: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    crop_box: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """Compose crop → scale → rotation → shift (no tilt, no flip): see :func:`view_matrix`."""
    return view_matrix(
        size_px, rotation_deg=rotation_deg, shift_frac=shift_frac, scale=scale, crop_box=crop_box
    )


BORDER_MODES = {
    "nearest": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT_101,
    "constant": cv2.BORDER_CONSTANT,
}


def is_affine(matrix: np.ndarray) -> bool:
    return bool(np.allclose(matrix[2], [0.0, 0.0, matrix[2, 2]]))


def sampling_map(
    size_px: int, matrix: np.ndarray, lens_k: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """For each output pixel, the source coordinate it samples: ``(map_x, map_y)`` float32."""
    c = (size_px - 1) / 2.0
    half = size_px / 2.0
    ys, xs = np.mgrid[0:size_px, 0:size_px].astype(np.float64)
    if lens_k:
        r2 = ((xs - c) ** 2 + (ys - c) ** 2) / half**2
        f = 1.0 + lens_k * r2
        xs, ys = c + (xs - c) * f, c + (ys - c) * f
    inv = np.linalg.inv(matrix)
    w = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
    sx = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) / w
    sy = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) / w
    return sx.astype(np.float32), sy.astype(np.float32)


def warp(
    image: np.ndarray,
    matrix: np.ndarray,
    fill_mode: str = "nearest",
    fill_value: float = 0.0,
    lens_k: float = 0.0,
) -> np.ndarray:
    """Apply ``matrix`` (then lens distortion ``lens_k``) to a square or rectangular image
    with OpenCV (bilinear), keeping its size."""
    h, w = image.shape[:2]
    border: dict[str, Any] = {
        "borderMode": BORDER_MODES[fill_mode],
        "borderValue": (fill_value,) * 4,
    }
    if lens_k:
        if h != w:
            raise ValueError(f"lens distortion needs a square image; got {w}x{h}")
        map_x, map_y = sampling_map(w, matrix, lens_k)
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, **border)
    if is_affine(matrix):
        m = np.ascontiguousarray((matrix / matrix[2, 2])[:2], dtype=np.float64)
        return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, **border)
    return cv2.warpPerspective(
        image, np.asarray(matrix, np.float64), (w, h), flags=cv2.INTER_LINEAR, **border
    )


def lens_forward(points: np.ndarray, size_px: int, lens_k: float) -> np.ndarray:
    """Where undistorted output points ``(N, 2)`` land once lens distortion is applied."""
    if not lens_k:
        return points
    c, half = (size_px - 1) / 2.0, size_px / 2.0
    v = (points - c) / half
    r_src = np.linalg.norm(v, axis=1)
    r = r_src.copy()
    for _ in range(50):  # Newton on r * (1 + k r^2) = r_src
        r = r - (r * (1 + lens_k * r**2) - r_src) / (1 + 3 * lens_k * r**2)
    ratio = np.where(r_src > 0, r / np.maximum(r_src, 1e-12), 1.0)
    return c + v * ratio[:, None] * half


def transform_points(
    points: np.ndarray, matrix: np.ndarray, size_px: int | None = None, lens_k: float = 0.0
) -> np.ndarray:
    """Map source points ``(N, 2)`` (x, y) to where they appear in the output."""
    pts = np.asarray(points, np.float64)
    h = np.c_[pts, np.ones(len(pts))] @ np.asarray(matrix).T
    out = h[:, :2] / h[:, 2:3]
    if lens_k:
        if size_px is None:
            raise ValueError("transform_points needs size_px when lens_k is not 0")
        out = lens_forward(out, size_px, lens_k)
    return out


def to_projective_transform(matrix: np.ndarray) -> np.ndarray:
    """The 8 numbers ``[a0, a1, a2, b0, b1, b2, c0, c1]`` of the inverse map, as TF wants them."""
    inv = np.linalg.inv(matrix)
    inv = inv / inv[2, 2]
    return inv.reshape(-1)[:8].astype(np.float32)
