"""Photometric building blocks shared by the OpenCV and TensorFlow appliers — no TensorFlow.

Colour changes (white balance, saturation, hue) are folded into one 3x3 matrix per image;
Gaussian and motion blur into one small kernel per image. Both appliers use these same
numbers, so they agree on what a drawn parameter means.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Side of every blur kernel (odd); the largest blur sigma/length is limited by it.
KERNEL_PX = 9
_LUMA = np.array([0.299, 0.587, 0.114])


def saturation_matrix(factor: float) -> np.ndarray:
    """Mix each pixel with its grey (``factor`` 0: grey, 1: unchanged, >1: more vivid)."""
    grey = np.tile(_LUMA, (3, 1))
    return factor * np.eye(3) + (1.0 - factor) * grey


def hue_matrix(angle_deg: float) -> np.ndarray:
    """Rotate colours about the grey axis by ``angle_deg`` (a hue shift that keeps greys)."""
    a = math.radians(angle_deg)
    u = np.ones(3) / math.sqrt(3.0)
    cross = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    return math.cos(a) * np.eye(3) + math.sin(a) * cross + (1 - math.cos(a)) * np.outer(u, u)


def color_matrix(white_balance_gains: np.ndarray, saturation: float, hue_deg: float) -> np.ndarray:
    """``hue @ saturation @ diag(gains)``: applied to column RGB vectors."""
    return hue_matrix(hue_deg) @ saturation_matrix(saturation) @ np.diag(white_balance_gains)


def blur_kernel(sigma_px: float, motion_length_px: float, motion_angle_deg: float) -> np.ndarray:
    """One normalised ``KERNEL_PX`` square kernel: a Gaussian (``sigma_px``) convolved with a
    motion streak (``motion_length_px`` long at ``motion_angle_deg``); identity when both 0."""
    k = np.zeros((KERNEL_PX, KERNEL_PX), np.float64)
    c = KERNEL_PX // 2
    if motion_length_px >= 1.0:
        a = math.radians(motion_angle_deg)
        half = (motion_length_px - 1) / 2.0
        dx, dy = math.cos(a) * half, -math.sin(a) * half
        cv2.line(
            k,
            (int(round(c - dx)), int(round(c - dy))),
            (int(round(c + dx)), int(round(c + dy))),
            1.0,
            1,
        )
    else:
        k[c, c] = 1.0
    if sigma_px > 0.0:
        k = cv2.GaussianBlur(k, (KERNEL_PX, KERNEL_PX), sigma_px, borderType=cv2.BORDER_CONSTANT)
    return (k / k.sum()).astype(np.float32)


def apply_photometric(
    image: np.ndarray,
    color: np.ndarray,
    brightness: float,
    contrast: float,
    kernel: np.ndarray,
    noise_std: float,
    noise_seed: int,
    jpeg_quality: int,
) -> np.ndarray:
    """The OpenCV/NumPy photometric applier for one image (float32 in, uint8 out).

    Order: colour matrix → brightness → contrast (about the image's mean) → blur →
    sensor noise → clip → JPEG re-compression (``jpeg_quality`` 0: none).
    """
    x = image.astype(np.float32) @ color.T.astype(np.float32)
    x = x + brightness
    mean = x.mean()
    x = (x - mean) * contrast + mean
    if not np.allclose(kernel, _identity_kernel()):
        x = cv2.filter2D(x, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    if noise_std > 0:
        x = x + np.random.default_rng(noise_seed).normal(0.0, noise_std, x.shape).astype(np.float32)
    out = np.clip(np.round(x), 0, 255).astype(np.uint8)
    if jpeg_quality:
        ok, buf = cv2.imencode(
            ".jpg",
            cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)],
        )
        if ok:
            out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out


def _identity_kernel() -> np.ndarray:
    k = np.zeros((KERNEL_PX, KERNEL_PX), np.float32)
    k[KERNEL_PX // 2, KERNEL_PX // 2] = 1.0
    return k
