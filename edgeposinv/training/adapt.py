"""AdaBN: BatchNormalization statistics re-estimated on unlabeled frames from the device.

Li et al., "Revisiting Batch Normalization For Practical Domain Adaptation" (2016): a
network trained on one domain (rig photos) normalises each layer with that domain's
means and variances; replacing them with the target domain's (device frames, no labels
needed) re-centres every layer for the pictures the model will really see. Only the
moving mean and variance of each BatchNormalization layer change; every learned weight
(kernels, gamma, beta, the head) stays as trained.

The statistics are exact averages over all frames, computed layer by layer in network
order, so each layer's statistics are measured on inputs already normalised by the
adapted layers before it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from edgeposinv.errors import DatasetError

log = logging.getLogger(__name__)

MAX_FRAMES = 2000  # enough for stable statistics; more only costs time


def _frame_paths(folder: Path) -> list[Path]:
    from edgeposinv.data.images import is_image_name

    if not folder.is_dir():
        raise DatasetError(
            f"--adapt {folder} is not a folder; give a folder of unlabeled device frames (any layout)"
        )
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p))
    if not paths:
        raise DatasetError(
            f"No images in --adapt {folder} (looked for .jpg, .jpeg, .png, .bmp, .webp, in every sub-folder)"
        )
    return paths


def check_adapt_dir(folder: str | os.PathLike) -> int:
    """The number of frames in ``folder``; a one-line error when there are none."""
    return len(_frame_paths(Path(folder)))


def load_frames(
    folder: str | os.PathLike, image_size_px: int, max_frames: int = MAX_FRAMES, seed: int = 0
) -> np.ndarray:
    """Up to ``max_frames`` images of ``folder`` (recursive), prepared with the input contract."""
    from edgeposinv.data.images import ImageDecodeError, read_rgb
    from edgeposinv.tflite.preprocess import prepare

    paths = _frame_paths(Path(folder))
    if len(paths) > max_frames:
        keep = np.random.default_rng(seed).choice(len(paths), max_frames, replace=False)
        paths = [paths[i] for i in sorted(keep)]
    frames, bad = [], 0
    for path in paths:
        try:
            frames.append(prepare(read_rgb(path), image_size_px))
        except ImageDecodeError:
            bad += 1
    if bad:
        log.warning(
            "--adapt: %d of %d frames could not be decoded and were skipped", bad, len(paths)
        )
    if not frames:
        raise DatasetError(f"No readable images in --adapt {folder}; every file failed to decode")
    return np.stack(frames)


def batchnorm_layers(model) -> list:
    from edgeposinv.training.keras_api import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def adapt_batchnorm(model, frames: np.ndarray, batch_size: int = 64) -> dict:
    """Set every BatchNormalization layer's moving statistics to those of ``frames`` (AdaBN).

    Returns a summary: frames used, layers adapted, and the mean absolute change of the
    normalised means (in units of the old standard deviation) — how far the device's
    pictures were from the training domain, layer by layer on average.
    """
    from edgeposinv.training.keras_api import keras

    layers = batchnorm_layers(model)
    if not layers:
        return {"frames": int(len(frames)), "layers": 0, "mean_shift_std": 0.0}
    x = frames.astype(np.float32)
    shifts = []
    for layer in layers:
        probe = keras.Model(model.inputs, layer.input)
        channels = int(layer.moving_mean.shape[0])
        total, total_sq = np.zeros(channels), np.zeros(channels)
        count = 0
        for start in range(0, len(x), batch_size):
            out = probe(x[start : start + batch_size], training=False).numpy().astype(np.float64)
            flat = out.reshape(-1, out.shape[-1])
            total += flat.sum(axis=0)
            total_sq += (flat * flat).sum(axis=0)
            count += flat.shape[0]
        mean = total / count
        var = np.maximum(total_sq / count - mean * mean, 0.0)
        old_mean = layer.moving_mean.numpy()
        old_std = np.sqrt(layer.moving_variance.numpy() + layer.epsilon)
        shifts.append(float(np.mean(np.abs(mean - old_mean) / old_std)))
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(var.astype(np.float32))
    summary = {
        "frames": int(len(frames)),
        "layers": len(layers),
        "mean_shift_std": float(np.mean(shifts)),
    }
    log.info(
        "adapted %d BatchNormalization layers on %d frames (mean shift %.2f std)",
        summary["layers"],
        summary["frames"],
        summary["mean_shift_std"],
    )
    return summary


def adapt_from_folder(model, folder: str | os.PathLike, image_size_px: int, seed: int = 0) -> dict:
    """:func:`adapt_batchnorm` on the frames of ``folder``; the summary names the folder."""
    frames = load_frames(folder, image_size_px, seed=seed)
    return {"dir": str(Path(folder).resolve()), **adapt_batchnorm(model, frames)}
