"""Near-duplicate groups from a backbone's features (the TensorFlow side of the grouping).

Each image is embedded by MobileNetV2 (ImageNet weights, no top) at the training size,
global-average-pooled; within a class the embeddings are centred on the class's mean and
L2-normalised, and two images of the class are linked when the cosine similarity of their embeddings
is at least :data:`edgeposinv.data.duplicates.FEATURE_SIMILARITY` (single linkage: a cluster is a connected set of
such pairs). Unlike a perceptual hash this sees "same scene, different moment" (the
object moved, the camera zoomed or turned); the threshold was measured on planted copies
and on distinct photos by ``benchmarks/bench_feature_duplicates.py`` (see
``docs/dataset-format.md``, "Near-duplicates"). The numeric clustering lives in
:func:`edgeposinv.data.duplicates.link_similar` (no TensorFlow).
"""

from __future__ import annotations

import os

import numpy as np

from edgeposinv.errors import ModelError

__all__ = ["FEATURE_ALPHA", "embed_images", "feature_embedder"]

FEATURE_ALPHA = 0.35
FEATURE_SIZES = (96, 128, 160, 192, 224)

_CACHE: dict = {}


#: A local MobileNetV2-0.35 ImageNet weights file (no top) for feature grouping, for machines
#: that cannot download Keras's ``imagenet`` weights.
WEIGHTS_ENV = "EDGEPOSINV_FEATURE_WEIGHTS"


def _default_weights() -> str:
    """``$EDGEPOSINV_FEATURE_WEIGHTS`` when set, else Keras's ``imagenet`` (cached or downloaded)."""
    return os.environ.get(WEIGHTS_ENV) or "imagenet"


def feature_embedder(image_size_px: int, weights: str | None = None):
    """A Keras model: raw 0..255 RGB ``(n, s, s, 3)`` -> pooled MobileNetV2-0.35 features.

    ``weights``: ``imagenet``, a local ``.h5`` file, or ``None`` (``$EDGEPOSINV_FEATURE_WEIGHTS``
    if set, else ``imagenet``). Built once per (size, weights) and cached."""
    from edgeposinv.training.backbones import _resolve_weights, load_weights_file
    from edgeposinv.training.keras_api import keras

    size = min(FEATURE_SIZES, key=lambda s: abs(s - image_size_px))
    if weights in (None, "default", "none"):
        weights = _default_weights()
    key = (size, weights)
    if key not in _CACHE:
        w = _resolve_weights("mobilenet_v2", weights, size, FEATURE_ALPHA, False)
        if w is None:
            raise ModelError(
                "Feature grouping needs pretrained weights; pass 'weights' imagenet or a file",
                params=("near_duplicates",),
            )
        inputs = keras.Input((size, size, 3))
        x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
        base = keras.applications.MobileNetV2(
            input_tensor=x,
            include_top=False,
            alpha=FEATURE_ALPHA,
            weights="imagenet" if w == "imagenet" else None,
            pooling="avg",
        )
        model = keras.Model(inputs, base.output, name="feature_embedder")
        if w != "imagenet":
            load_weights_file(model, w)
        _CACHE[key] = (model, size)
    return _CACHE[key]


def embed_images(
    images: np.ndarray,
    image_size_px: int | None = None,
    weights: str | None = None,
    show_progress: bool = False,
) -> np.ndarray:
    """Pooled backbone features of ``images`` (uint8 RGB, square), float32 ``(n, d)``."""
    import cv2

    from edgeposinv.util.progress import progress

    images = np.asarray(images)
    model, size = feature_embedder(image_size_px or images.shape[1], weights)
    out = []
    starts = range(0, len(images), 64)
    for start in progress(starts, desc="features", unit="batch", disable=not show_progress):
        batch = images[start : start + 64]
        if batch.shape[1] != size:
            interp = cv2.INTER_AREA if batch.shape[1] > size else cv2.INTER_LINEAR
            batch = np.stack([cv2.resize(b, (size, size), interpolation=interp) for b in batch])
        out.append(model.predict_on_batch(batch.astype(np.float32)))
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 1280), np.float32)
