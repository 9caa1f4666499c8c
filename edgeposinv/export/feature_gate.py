""" "None of the above" without unknown images: a ``_background`` output from feature distance.

A classifier trained only on its classes is often *more* sure about a photo of a shelf than
about a real hand (softmax scores rank unknowns high; temperature scaling cannot reorder
them). The distance of the image's backbone features from the training images' features
does rank them: an image far from everything the model was trained on is unlikely to be
one of its classes (Lee et al. 2018, "A simple unified framework for detecting
out-of-distribution samples").

At export, :func:`fit` estimates one Gaussian of the training images' features (the
input of the ``probabilities`` head; Ledoit–Wolf shrinkage), keeps the ``components``
directions of least variance (where in-distribution images hardly move, so a distance
there is most telling), and scales the whitened L1 distance ``d`` by the
validation images' own distances. :func:`attach` then appends a gate to the model::

    g = sigmoid((d0 - d) / s)          # ~1 near the training images, ~0 far away
    outputs = [g * p_1, ..., g * p_C, 1 - g]   # the last one is ``_background``

so the exported model has the same contract as one trained with a background output: the
reserved label's probability, the known-class score and the threshold work unchanged in
the Python runtime and the Android app. Only Dense (ReLU), multiply, sigmoid and concatenation
are added, all of which convert to int8 TFLite.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edgeposinv.errors import ParameterError

__all__ = ["FeatureGate", "add_to_model", "attach", "distances", "features", "fit"]

log = logging.getLogger(__name__)

HEAD_LAYER = "probabilities"
#: Directions of least variance kept (measured on rock/paper/scissors, MobileNetV2-0.35
#: features of 1280: AUROC 0.94 at 128 and at 256, 0.95 with all of them).
DEFAULT_COMPONENTS = 256


@dataclass(frozen=True)
class FeatureGate:
    """A fitted gate: ``mean`` (D,), ``projection`` (D, K) whitening, ``d0`` and ``scale``."""

    mean: np.ndarray
    projection: np.ndarray
    d0: float
    scale: float
    n_train: int
    n_val: int

    def describe(self) -> dict:
        return {
            "score": "features",
            "components": int(self.projection.shape[1]),
            "feature_dim": int(self.projection.shape[0]),
            "d0": round(float(self.d0), 4),
            "scale": round(float(self.scale), 4),
            "n_train": self.n_train,
            "n_val": self.n_val,
        }


def features(model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The input of the model's ``probabilities`` head for ``images`` (N, D)."""
    from edgeposinv.training.keras_api import keras

    head = model.get_layer(HEAD_LAYER)
    return keras.Model(model.input, head.input).predict(
        images.astype(np.float32), verbose=0, batch_size=batch_size
    )


def distances(gate: FeatureGate, feats: np.ndarray) -> np.ndarray:
    """Whitened L1 distance of each feature row in the gate's kept directions.

    L1 rather than the squared (Mahalanobis) distance: it ranks unknowns as well (measured
    AUROC 0.943 vs 0.946) and stays linear in the whitened features, so int8 quantization
    does not lose the small distances of known images to the large range of unknown ones.
    """
    z = (feats - gate.mean) @ gate.projection
    return np.abs(z).sum(axis=1)


def fit(
    train_feats: np.ndarray,
    val_feats: np.ndarray,
    components: int = DEFAULT_COMPONENTS,
    keep: float = 0.95,
) -> FeatureGate:
    """Fit the Gaussian on training features; ``d0`` = the ``keep`` quantile of validation
    distances (the gate is 0.5 there), ``scale`` = a quarter of their spread above the median.

    The width is a trade-off, measured in ``benchmarks/bench_open_set.py``: a gate as wide as
    ``d0 / 2`` keeps far images apart in int8 outputs (rig only: AUROC 0.79 → 0.83) but lets
    the softmax score, which ranks unknowns *high*, back into the known score (validation on
    captures: 0.72 → 0.48).
    """
    from sklearn.covariance import LedoitWolf

    if len(train_feats) < 2 or len(val_feats) < 1:
        raise ParameterError(
            "images",
            f"{len(train_feats)} training / {len(val_feats)} validation",
            "must be at least 2 training and 1 validation image",
            owner="the feature gate",
        )
    if components < 1:
        raise ParameterError("components", components, "must be at least 1", owner="FeatureGate")
    mean = train_feats.mean(axis=0)
    cov = LedoitWolf().fit(train_feats - mean).covariance_
    eigenvalues, vectors = np.linalg.eigh(cov)  # ascending
    k = min(components, len(eigenvalues))
    projection = vectors[:, :k] / np.sqrt(np.maximum(eigenvalues[:k], 1e-12))
    partial = FeatureGate(mean, projection.astype(np.float32), 0.0, 1.0, len(train_feats), 0)
    d_val = distances(partial, val_feats)
    d0 = float(np.quantile(d_val, keep))
    spread = float(np.quantile(d_val, 0.99) - np.quantile(d_val, 0.5))
    scale = max(spread / 4.0, 1e-3 * max(d0, 1e-3))
    return FeatureGate(mean, partial.projection, d0, scale, len(train_feats), len(val_feats))


def attach(model, gate: FeatureGate):
    """A new Keras model: the classes' probabilities times the gate, then ``1 - gate``."""
    from edgeposinv.training.keras_api import keras

    layers = keras.layers
    head = model.get_layer(HEAD_LAYER)
    feats = head.input
    probs = model.output
    n_classes = int(probs.shape[-1])
    k = gate.projection.shape[1]
    # |z| = relu(z) + relu(-z): one Dense with both signs, then a Dense that sums them
    whiten = layers.Dense(2 * k, activation="relu", name="ood_whiten_abs")
    to_logit = layers.Dense(1, name="ood_gate_logit")  # (d0 - sum|z|) / s
    g = layers.Activation("sigmoid", name="ood_gate")(to_logit(whiten(feats)))
    repeat = layers.Dense(n_classes, use_bias=False, name="ood_repeat")
    known = layers.Multiply(name="ood_known")([probs, repeat(g)])
    complement = layers.Dense(1, name="ood_background")  # 1 - g
    background = complement(g)
    out = layers.Concatenate(name="gated_probabilities")([known, background])
    gated = keras.Model(model.input, out, name=f"{model.name}_gated")
    offset = -(gate.mean @ gate.projection).astype(np.float32)
    whiten.set_weights(
        [np.concatenate([gate.projection, -gate.projection], 1), np.concatenate([offset, -offset])]
    )
    to_logit.set_weights(
        [
            np.full((2 * k, 1), -1.0 / gate.scale, np.float32),
            np.array([gate.d0 / gate.scale], np.float32),
        ]
    )
    repeat.set_weights([np.ones((1, n_classes), np.float32)])
    complement.set_weights([np.full((1, 1), -1.0, np.float32), np.ones(1, np.float32)])
    return gated


def range_images(calibration: np.ndarray, seed: int = 0, share: float = 0.25) -> np.ndarray:
    """Far-from-the-classes images to add to the int8 calibration sample.

    int8 ranges come from the calibration images; calibrated on the classes alone, the
    whitened features of an unknown image would be clipped to the classes' own range and
    the distance would look small. Patch-shuffled copies of calibration images keep their
    colours (the backbone's ranges move little) but not their content, so their features
    lie far away and widen the gate's ranges.
    """
    n = max(1, int(round(len(calibration) * share)))
    rng = np.random.default_rng(seed)
    picked = calibration[rng.choice(len(calibration), n, replace=len(calibration) < n)]
    out = np.empty_like(picked)
    h, w = picked.shape[1:3]
    grid = 4
    ph, pw = h // grid, w // grid
    for i, img in enumerate(picked):
        tiles = [
            img[r * ph : (r + 1) * ph, c * pw : (c + 1) * pw]
            for r in range(grid)
            for c in range(grid)
        ]
        order = rng.permutation(len(tiles))
        shuffled = img.copy()
        for slot, t in enumerate(order):
            r, c = divmod(slot, grid)
            shuffled[r * ph : (r + 1) * ph, c * pw : (c + 1) * pw] = tiles[t]
        out[i] = shuffled
    return out


def add_to_model(model, run, load_train, val, keep: float):
    """Export's step: the model with a feature-distance ``_background`` output, the run with
    that label appended, and the gate's description. ``val``: the loaded validation images;
    ``load_train()`` loads the training images, only once the run is known to qualify."""
    import dataclasses

    from edgeposinv.tflite.open_set import RESERVED_LABEL, reserved_index

    def refuse(expected: str) -> ParameterError:
        fix = "export with '--unknown-score softmax'"
        return ParameterError("unknown_score", "features", expected, owner="export", fix=fix)

    if reserved_index(run.labels) >= 0:
        raise refuse("is for runs without a trained '_background' output (this run has one)")
    if run.is_qat:
        raise refuse("cannot extend a quantization-aware-trained model")
    if val is None or not len(val.images):
        raise refuse("needs the run's validation images (to scale the distances)")
    train = load_train()
    if train is None or len(train.images) < 2:
        raise refuse("needs the run's training images (to fit the distances)")
    log.info("fitting the feature-distance gate on %d training images", len(train.images))
    gate = fit(features(model, train.images), features(model, val.images), keep=keep)
    info = gate.describe()
    log.info("feature gate: %s", info)
    labels = run.labels + (RESERVED_LABEL,)
    return attach(model, gate), dataclasses.replace(run, labels=labels), info
