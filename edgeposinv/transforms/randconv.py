"""Random convolutions (RandConv, Xu et al., ICLR 2021): copies of a photo whose colours and
textures change while its shapes stay, so a model trained on one camera, light and backdrop
leans less on them.

Each copy goes through a random 3→3-channel kernel of size 1, 3, 5 or 7 with He-scaled
normal weights, is rescaled to the photo's own mean and spread, and is blended with the
photo at a uniform random weight. ``train --randconv N`` adds N copies of every training
image after the split (a copy never validates), before augmentation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KERNEL_SIZES", "random_convolution", "random_convolution_copies"]

KERNEL_SIZES = (1, 3, 5, 7)


def random_convolution(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One RandConv copy of an ``(H, W, 3)`` uint8 image, as uint8."""
    import cv2

    k = int(rng.choice(KERNEL_SIZES))
    weights = rng.normal(0.0, 1.0 / np.sqrt(3 * k * k), (3, 3, k, k)).astype(np.float32)
    x = rgb.astype(np.float32) / 255.0
    out = np.stack(
        [
            sum(
                cv2.filter2D(x[..., c], -1, weights[o, c], borderType=cv2.BORDER_REFLECT_101)
                for c in range(3)
            )
            for o in range(3)
        ],
        axis=-1,
    )
    out = (out - out.mean()) / (out.std() + 1e-6) * x.std() + x.mean()
    alpha = rng.uniform()
    return np.clip(255.0 * (alpha * x + (1 - alpha) * out), 0, 255).astype(np.uint8)


def random_convolution_copies(images: np.ndarray, copies: int, seed: int) -> np.ndarray:
    """``copies`` RandConv copies of each of ``images`` (``(N, H, W, 3)`` uint8): an
    ``(N * copies, H, W, 3)`` array, copy *j* of every image in block *j*."""
    rng = np.random.default_rng([seed, 29])
    out = np.empty((len(images) * copies, *images.shape[1:]), np.uint8)
    for j in range(copies):
        for i, rgb in enumerate(images):
            out[j * len(images) + i] = random_convolution(rgb, rng)
    return out
