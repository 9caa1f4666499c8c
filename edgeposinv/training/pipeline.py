"""tf.data input pipelines. Augmentation parameters are drawn in NumPy
(:mod:`edgeposinv.transforms.augment`, one seeded generator per epoch so a resumed run sees the same
data) and applied here with TensorFlow ops that reproduce the OpenCV appliers
(:mod:`edgeposinv.training.tf_image`: the same sampling map, bilinear interpolation and
border rules as ``cv2.remap``, the same colour matrices and blur kernels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from edgeposinv.training.keras_api import tf
from edgeposinv.training.tf_image import blur_some, jpeg, warp_batch
from edgeposinv.transforms.augment import AugmentConfig
from edgeposinv.transforms.params import AugmentParams


@dataclass(frozen=True)
class _Stages:
    """Which optional stages a config switches on (skipped entirely when off)."""

    blur: bool
    noise: bool
    jpeg: bool
    background: bool

    @classmethod
    def of(cls, a: AugmentConfig, has_backgrounds: bool) -> _Stages:
        return cls(
            blur=a.blur_prob > 0 or a.motion_blur_prob > 0,
            noise=a.max_noise_std > 0,
            jpeg=a.jpeg_prob > 0,
            background=a.uses_background and has_backgrounds,
        )


NOISE_BANK_SIZE = 64


def noise_bank(size_px: int, seed: int, n: int = NOISE_BANK_SIZE):
    """Unit Gaussian noise fields ``(n, S, S, 3)`` drawn once; each image takes the field its
    drawn noise seed points at. Drawing fresh Gaussian noise for every image was the most
    expensive step of the default recipe (about a third of the augmentation time)."""
    rng = np.random.default_rng([seed, 0x6E6F697365])
    return tf.constant(rng.standard_normal((n, size_px, size_px, 3), dtype=np.float32))


def _geometry_and_colour(x, p: dict, fill_mode: str, background: bool, masks=None, tiles=None):
    """Warp, composite onto a background, colour matrix, brightness and contrast."""
    if background:
        x = tf.concat([x, masks], axis=-1)
    x = warp_batch(x, p["transforms"], p["lens_k"], fill_mode)
    if background:
        x, m = x[..., :3], x[..., 3:] / 255.0
        bg = tf.gather(tiles, tf.maximum(p["background"], 0))
        use = tf.cast(p["background"] >= 0, tf.float32)[:, None, None, None]
        m = use * m + (1.0 - use)
        x = m * x + (1.0 - m) * bg
    x = tf.einsum("bhwc,bdc->bhwd", x, p["colors"])
    x = x + p["brightness"][:, None, None, None]
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * p["contrast"][:, None, None, None] + mean


# The same stage compiled with XLA, which fuses its ~40 element-wise and gather ops into a
# few loops: the warp alone goes from 0.57 to 0.16 ms per 96 px image on one core.
_geometry_and_colour_xla = tf.function(_geometry_and_colour, jit_compile=True)


def use_xla() -> bool:
    """XLA for the training pipeline's warp stage (``EDGEPOSINV_AUGMENT_XLA=0`` turns it off)."""
    return os.environ.get("EDGEPOSINV_AUGMENT_XLA", "1") != "0"


def augment_batch(
    x,
    p: dict,
    augment: AugmentConfig,
    stages: _Stages,
    masks=None,
    tiles=None,
    noise=None,
    jit: bool = False,
):
    """Apply drawn parameters ``p`` (batched tensors) to uint8 images ``x`` (B, S, S, 3)
    (``masks``: uint8 (B, S, S, 1), 255 = object; ``noise``: a :func:`noise_bank`);
    returns float32 0..255. ``jit``: run the geometric and colour stage through XLA."""
    stage = _geometry_and_colour_xla if jit else _geometry_and_colour
    geometry_keys = ("transforms", "lens_k", "background", "colors", "brightness", "contrast")
    x = stage(
        x, {k: p[k] for k in geometry_keys}, augment.fill_mode, stages.background, masks, tiles
    )
    if stages.blur:
        x = blur_some(x, p["kernels"])
    if stages.noise:
        if noise is None:
            seed = tf.stack([p["noise_seeds"][0], p["noise_seeds"][-1]])
            unit = tf.random.stateless_normal(tf.shape(x), seed)
        else:
            unit = tf.gather(
                noise,
                tf.math.floormod(
                    p["noise_seeds"], tf.shape(noise, out_type=p["noise_seeds"].dtype)[0]
                ),
            )
        x = x + unit * p["noise_std"][:, None, None, None]
    x = tf.clip_by_value(tf.round(x), 0.0, 255.0)
    if stages.jpeg:
        x = tf.map_fn(
            lambda a: jpeg(a[0], a[1]), (x, p["jpeg_quality"]), fn_output_signature=tf.float32
        )
    return x


def params_dict(params: AugmentParams) -> dict[str, np.ndarray]:
    """The drawn parameters as the float32/int32 arrays the TF applier takes."""
    return {
        "transforms": params.projective_transforms(),
        "lens_k": params.lens_k.astype(np.float32),
        "colors": params.colors.astype(np.float32),
        "brightness": params.brightness.astype(np.float32),
        "contrast": params.contrast.astype(np.float32),
        "kernels": params.kernels.astype(np.float32),
        "noise_std": params.noise_std.astype(np.float32),
        "noise_seeds": params.noise_seeds.astype(np.int32),
        "jpeg_quality": params.jpeg_quality.astype(np.int32),
        "background": params.background.astype(np.int32),
    }


def apply_params_tf(
    images: np.ndarray,
    params: AugmentParams,
    augment: AugmentConfig,
    masks: np.ndarray | None = None,
    tiles: np.ndarray | None = None,
) -> np.ndarray:
    """Eager TF applier for a uint8 batch (tests and previews): returns uint8."""
    stages = _Stages.of(augment, tiles is not None and masks is not None)
    p = {k: tf.constant(v) for k, v in params_dict(params).items()}
    m = None if masks is None else tf.constant(np.round(masks[..., None] * 255).astype(np.uint8))
    t = None if tiles is None else tf.constant(tiles.astype(np.float32))
    out = augment_batch(tf.constant(images), p, augment, stages, m, t)
    return out.numpy().astype(np.uint8)


def epoch_params(
    augment: AugmentConfig, seed: int, epoch: int, n: int, size_px: int, n_backgrounds: int = 0
) -> tuple[np.ndarray, AugmentParams | None]:
    """The shuffle order and augmentation parameters of one epoch (replayable on resume)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    params = None if augment.is_identity else augment.draw(rng, n, size_px, n_backgrounds)
    return order, params


def training_dataset(
    images: np.ndarray,
    label_ids: np.ndarray,
    augment: AugmentConfig,
    epochs: int,
    batch_size: int,
    seed: int,
    start_epoch: int = 0,
    num_classes: int | None = None,
    masks: np.ndarray | None = None,
    tiles: np.ndarray | None = None,
    folder_ids: np.ndarray | None = None,
    folder_shares: np.ndarray | None = None,
    replicas: int = 1,
    pipeline: tuple[int, int] = (0, 1),
) -> tuple[tf.data.Dataset, int]:
    """Epochs ``start_epoch..epochs-1`` of shuffled, augmented batches; returns it and the
    steps per epoch. Labels are one-hot when ``num_classes`` is given. With ``folder_ids``
    and ``folder_shares`` (several dataset folders), folder ``f`` fills ``folder_shares[f]``
    of every batch (:func:`edgeposinv.data.folders.batch_order`).

    Each epoch's order and parameters come from a generator seeded by ``(seed, epoch)``,
    so a run is replayable and a resumed run sees the data it would have seen.
    Under ``tf.distribute`` (``replicas`` > 1) it is input pipeline ``pipeline = (id,
    count)``'s share: per-replica batches of ``batch_size / replicas`` images cut from the
    same global batches (:func:`edgeposinv.training.distribute.replica_slots`), augmented
    here, on the worker that feeds them.
    """
    n, size = len(images), images.shape[1]
    steps = max(1, n // batch_size)
    used = steps * batch_size if n >= batch_size else n
    stages = _Stages.of(augment, tiles is not None and masks is not None)
    orders, parts = [], []
    for epoch in range(start_epoch, epochs):
        order, params = epoch_params(
            augment, seed, epoch, n, size, 0 if tiles is None else len(tiles)
        )
        if folder_ids is not None and folder_shares is not None and n >= batch_size:
            from edgeposinv.data.folders import batch_order

            rng = np.random.default_rng([seed, epoch, 0xF01DE5])
            order = batch_order(folder_ids, folder_shares, batch_size, steps, rng)
        orders.append(order[:used])
        if params is not None:
            parts.append(params.subset(slice(0, used)))  # parameters belong to slots, not images
    order = np.concatenate(orders) if orders else np.zeros(0, np.int64)
    slots = None
    if replicas > 1 or pipeline[1] > 1:
        from edgeposinv.training.distribute import replica_slots

        slots = replica_slots(len(order), batch_size, replicas, *pipeline)
        order, batch_size = order[slots], batch_size // replicas
    images_t = tf.constant(images)
    labels_t = tf.constant(label_ids.astype(np.int32))
    masks_t = (
        None
        if masks is None or not stages.background
        else tf.constant(np.round(masks[..., None] * 255).astype(np.uint8))
    )
    tiles_t = None if tiles is None or not stages.background else tf.constant(tiles)
    noise_t = noise_bank(size, seed) if stages.noise else None
    xla = use_xla()

    def labels_of(idx):
        y = tf.gather(labels_t, idx)
        if not num_classes:
            return y
        # label -1: an unknown image (outlier exposure) whose target is uniform over the classes
        uniform = tf.fill([tf.size(y), num_classes], 1.0 / num_classes)
        return tf.where((y < 0)[:, None], uniform, tf.one_hot(y, num_classes))

    if augment.is_identity:
        ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        ds = ds.map(
            lambda idx: (tf.cast(tf.gather(images_t, idx), tf.float32), labels_of(idx)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return ds.prefetch(tf.data.AUTOTUNE), steps

    p_np = params_dict(AugmentParams.concat(parts))
    if slots is not None:
        p_np = {k: v[slots] for k, v in p_np.items()}

    def make_batch(idx, p):
        x = tf.gather(images_t, idx)
        m = None if masks_t is None else tf.gather(masks_t, idx)
        t = None if tiles_t is None else tf.cast(tiles_t, tf.float32)
        return augment_batch(x, p, augment, stages, m, t, noise_t, jit=xla), labels_of(idx)

    ds = tf.data.Dataset.from_tensor_slices((order, p_np)).batch(batch_size)
    ds = ds.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options()), steps


def _options() -> tf.data.Options:
    """Augmentation runs on its own small thread pool (a quarter of the cores, at least
    one; ``EDGEPOSINV_AUGMENT_THREADS`` overrides) beside the model's, so on a 2-core
    machine it never oversubscribes the cores the training step needs."""
    options = tf.data.Options()
    threads = int(os.environ.get("EDGEPOSINV_AUGMENT_THREADS", "0")) or max(
        1, (os.cpu_count() or 1) // 4
    )
    options.threading.private_threadpool_size = threads
    return options


def eval_dataset(
    images: np.ndarray, label_ids: np.ndarray, batch_size: int, num_classes: int | None = None
) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((images, label_ids.astype(np.int32)))

    def cast(x, y):
        return tf.cast(x, tf.float32), (tf.one_hot(y, num_classes) if num_classes else y)

    return ds.batch(batch_size).map(cast).prefetch(tf.data.AUTOTUNE)
