"""tf.data input pipelines. Augmentation parameters are drawn in NumPy
(:mod:`edgeposinv.augment`) and applied here with TensorFlow image ops.
"""

from __future__ import annotations

import numpy as np

from edgeposinv._keras import tf
from edgeposinv.augment import AugmentConfig

_FILL_MODES = {"nearest": "NEAREST", "reflect": "REFLECT", "constant": "CONSTANT"}


def apply_transforms(images, transforms, fill_mode: str = "nearest"):
    """Warp a float32 batch ``(B, H, W, 3)`` by ``transforms`` ``(B, 8)`` (inverse maps)."""
    size = tf.shape(images)[1:3]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=size,
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode=_FILL_MODES[fill_mode],
    )


def apply_photometric(images, brightness, contrast):
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    out = (images - mean) * contrast[:, None, None, None] + mean + brightness[:, None, None, None]
    return tf.clip_by_value(out, 0.0, 255.0)


def training_dataset(
    images: np.ndarray,
    label_ids: np.ndarray,
    augment: AugmentConfig,
    epochs: int,
    batch_size: int,
    seed: int,
) -> tuple[tf.data.Dataset, int]:
    """A stream of ``epochs`` shuffled, augmented passes; returns it and the steps per epoch.

    Shuffling order and every augmentation parameter come from one seeded NumPy
    generator, so a run is replayable.
    """
    n, size = len(images), images.shape[1]
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    if augment.is_identity:
        transforms = np.tile(np.array([1, 0, 0, 0, 1, 0, 0, 0], np.float32), (len(order), 1))
        brightness = np.zeros(len(order), np.float32)
        contrast = np.ones(len(order), np.float32)
    else:
        params = augment.draw(rng, len(order), size)
        transforms = params.projective_transforms()
        brightness = params.brightness.astype(np.float32)
        contrast = params.contrast.astype(np.float32)
    images_t = tf.constant(images)
    labels_t = tf.constant(label_ids.astype(np.int32))
    identity = augment.is_identity

    def make_batch(idx, t, b, c):
        x = tf.cast(tf.gather(images_t, idx), tf.float32)
        if not identity:
            x = apply_transforms(x, t, augment.fill_mode)
            x = apply_photometric(x, b, c)
        return x, tf.gather(labels_t, idx)

    ds = tf.data.Dataset.from_tensor_slices((order, transforms, brightness, contrast))
    ds = ds.batch(batch_size).map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    steps_per_epoch = max(1, n // batch_size)
    return ds.repeat().prefetch(tf.data.AUTOTUNE), steps_per_epoch


def eval_dataset(images: np.ndarray, label_ids: np.ndarray, batch_size: int) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((images, label_ids.astype(np.int32)))
    return ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(tf.data.AUTOTUNE)
