"""Drawn augmentation parameters and how OpenCV applies them.

:class:`AugmentParams` holds the parameters of a batch of images, drawn by
:meth:`edgeposinv.transforms.augment.AugmentConfig.draw` or built from given values by
:func:`fixed_params` (evaluation sweeps); :func:`apply_params` applies one image's with
OpenCV (previews, evaluation). Training applies the same parameters inside tf.data
(:mod:`edgeposinv.training.pipeline`). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from edgeposinv.transforms import geometry, photometric
from edgeposinv.transforms.background import composite

__all__ = ["VIEW_KEYWORDS", "AugmentParams", "apply_params", "fixed_params"]


@dataclass(frozen=True)
class AugmentParams:
    """Drawn parameters for a batch of ``n`` images.

    ``matrices`` (n, 3, 3) source→output pixel maps; ``lens_k`` (n,); ``colors`` (n, 3, 3)
    colour matrices; ``brightness`` (n,) in pixel levels; ``contrast`` (n,); ``kernels``
    (n, K, K) blur kernels; ``noise_std`` (n,) in pixel levels with ``noise_seeds`` (n,);
    ``jpeg_quality`` (n,) (0: none); ``background`` (n,) tile index (-1: none).
    """

    matrices: np.ndarray
    lens_k: np.ndarray
    colors: np.ndarray
    brightness: np.ndarray
    contrast: np.ndarray
    kernels: np.ndarray
    noise_std: np.ndarray
    noise_seeds: np.ndarray
    jpeg_quality: np.ndarray
    background: np.ndarray

    def __len__(self) -> int:
        return len(self.matrices)

    def projective_transforms(self) -> np.ndarray:
        return np.stack([geometry.to_projective_transform(m) for m in self.matrices]).astype(
            np.float32
        )

    def subset(self, index: np.ndarray | slice) -> AugmentParams:
        return AugmentParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[AugmentParams]) -> AugmentParams:
        return AugmentParams(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(AugmentParams)
            }
        )


#: The geometric keywords of :func:`fixed_params`: exactly those of ``geometry.view_matrix``.
VIEW_KEYWORDS = tuple(
    name for name in inspect.signature(geometry.view_matrix).parameters if name != "size_px"
)


def fixed_params(
    size_px: int,
    *,
    lens_k: float = 0.0,
    brightness_delta: float = 0.0,
    contrast: float = 1.0,
    saturation: float = 1.0,
    hue_deg: float = 0.0,
    white_balance_gains: tuple[float, float, float] = (1.0, 1.0, 1.0),
    blur_sigma_px: float = 0.0,
    motion_blur_px: float = 0.0,
    motion_blur_angle_deg: float = 0.0,
    noise_std: float = 0.0,
    noise_seed: int = 0,
    jpeg_quality: int = 0,
    background: int = -1,
    **view: Any,
) -> AugmentParams:
    """Parameters for one image from given values (for sweeps): apply with :func:`apply_params`.

    The geometric keywords (``rotation_deg``, ``shift_frac``, ``scale``, ``crop_box``,
    ``tilt_deg``, ``flip_horizontal``, ``flip_vertical``) are passed on to
    ``geometry.view_matrix`` unchanged: :data:`VIEW_KEYWORDS` lists them.
    """
    unknown = sorted(set(view) - set(VIEW_KEYWORDS))
    if unknown:
        raise TypeError(
            f"fixed_params() got unexpected keyword(s) {', '.join(unknown)}; "
            f"geometric keywords are {', '.join(VIEW_KEYWORDS)}"
        )
    m = geometry.view_matrix(size_px, **view)
    return AugmentParams(
        matrices=m[None],
        lens_k=np.array([lens_k]),
        colors=photometric.color_matrix(np.asarray(white_balance_gains), saturation, hue_deg)[None],
        brightness=np.array([brightness_delta * 255.0]),
        contrast=np.array([contrast]),
        kernels=photometric.blur_kernel(blur_sigma_px, motion_blur_px, motion_blur_angle_deg)[None],
        noise_std=np.array([noise_std]),
        noise_seeds=np.array([noise_seed]),
        jpeg_quality=np.array([jpeg_quality], np.int32),
        background=np.array([background], np.int32),
    )


def apply_params(
    image: np.ndarray,
    params: AugmentParams,
    i: int = 0,
    fill_mode: str = "nearest",
    mask: np.ndarray | None = None,
    backgrounds: np.ndarray | None = None,
) -> np.ndarray:
    """Apply the ``i``-th drawn parameters to one uint8 image with OpenCV.

    With ``mask`` (object mask, 1 = object) and ``backgrounds`` tiles, the warped object is
    laid over tile ``params.background[i]`` (when not -1).
    """
    m, k = params.matrices[i], float(params.lens_k[i])
    out = geometry.warp(image, m, fill_mode=fill_mode, lens_k=k).astype(np.float32)
    bg = int(params.background[i])
    if bg >= 0 and mask is not None and backgrounds is not None:
        warped_mask = geometry.warp(mask.astype(np.float32), m, fill_mode=fill_mode, lens_k=k)
        out = composite(out, warped_mask, backgrounds[bg])
    return photometric.apply_photometric(
        out,
        params.colors[i],
        float(params.brightness[i]),
        float(params.contrast[i]),
        params.kernels[i],
        float(params.noise_std[i]),
        int(params.noise_seeds[i]),
        int(params.jpeg_quality[i]),
    )
