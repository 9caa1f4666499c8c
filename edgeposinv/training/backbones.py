"""Pretrained-capable backbones: MobileNetV2 and MobileNetV3-Small from tf_keras.applications,
each with the normalisation, head and dropout inside one flat model (raw 0..255 input).

Weights: ``imagenet`` (the standard Keras files, downloaded and cached by Keras under
``~/.keras/models/`` when online), a local file path, or ``none`` (from scratch; then the
BatchNormalization momentum is lowered so the moving statistics actually converge on a
small dataset instead of collapsing the model at evaluation time).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from edgeposinv.errors import ModelError, ParameterError
from edgeposinv.training.models import blur_layer, classifier_head, pixels_input, register

log = logging.getLogger(__name__)

MOBILENET_SIZES = (96, 128, 160, 192, 224)
#: The MobileNets' default input size. On real wild hands with 15-60 device photos per class,
#: MobileNetV2-0.35 at 160 px beat 96 px by 8.1 points (95% CI +3.6 ... +12.6) and 224 px
#: did not beat 160 (benchmarks/bench_wild.py, README); MobileNetV3-Small follows, unmeasured.
DEFAULT_SIZE = 160
V2_ALPHAS = (0.35, 0.5, 0.75, 1.0)
V3_ALPHAS = (0.75, 1.0)
FROM_SCRATCH_BN_MOMENTUM = 0.9


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def imagenet_file_name(
    arch: str, image_size_px: int, alpha: float, minimalistic: bool = False
) -> str:
    """The standard Keras file name of the no-top ImageNet weights for these settings."""
    if arch == "mobilenet_v2":
        rows = image_size_px if image_size_px in MOBILENET_SIZES else 224
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}_no_top.h5"
    model_type = "small" + ("_minimalistic" if minimalistic else "")
    return f"weights_mobilenet_v3_{model_type}_224_{alpha}_float_no_top_v2.h5"


def _check_size(arch: str, image_size_px: int) -> None:
    if not MOBILENET_SIZES[0] <= image_size_px <= MOBILENET_SIZES[-1]:
        raise ParameterError(
            "image_size_px", image_size_px, f"must be in [96, 224] pixels for {arch}"
        )


def _resolve_weights(
    arch: str, weights: str | None, image_size_px: int, alpha: float, minimalistic: bool
):
    """``None`` (from scratch), ``'imagenet'`` (cached file present) or a checked local path."""
    if weights in (None, "none"):
        return None
    if weights == "imagenet":
        name = imagenet_file_name(arch, image_size_px, alpha, minimalistic)
        cached = keras_cache_dir() / name
        if cached.is_file():
            return "imagenet"
        try:
            import urllib.request

            urllib.request.urlopen(
                "https://storage.googleapis.com/tensorflow/keras-applications/", timeout=5
            )
        except Exception as e:  # noqa: BLE001 - any network failure means "offline" here
            if getattr(e, "code", None) is None:  # an HTTP status code means we are online
                raise ModelError(
                    f"ImageNet weights for {arch} (alpha {alpha}) are not cached and cannot be downloaded "
                    f"(offline: {type(e).__name__}). Put the standard Keras file at {cached} "
                    f"(file name {name}), or set 'weights' to a local file or to none",
                    params=("weights",),
                ) from None
        return "imagenet"
    path = Path(weights)
    if not path.is_file():
        raise ParameterError(
            "weights",
            weights,
            "must be 'imagenet', 'none' or the path of a weights file (.h5)",
            fix="no such file",
        )
    return str(path)


def load_weights_file(model, path: str | os.PathLike) -> None:
    """Load a local weights file into ``model``, with a clear error on a mismatch."""
    try:
        model.load_weights(str(path))
    except Exception as e:  # noqa: BLE001 - shape/format errors become one actionable line
        raise ModelError(
            f"Cannot load weights from {path} into {model.name}: {str(e).splitlines()[0][:200]}; "
            "check that the file matches the architecture and 'alpha'",
            params=("alpha",),
        ) from None


def antialias_rebuild(keras, model, name: str):
    """Rebuild a functional ``model`` with a blur inserted before every 2-strided layer
    (blur-then-subsample, after Zhang 2019), re-using the same (already weighted) layers."""
    new = {}
    inputs = model.inputs[0]
    new[id(inputs)] = inputs
    n = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        srcs = layer.input if isinstance(layer.input, list) else [layer.input]
        args = [new[id(t)] for t in srcs]
        if tuple(getattr(layer, "strides", (1, 1))) == (2, 2):
            args = [blur_layer(keras, int(a.shape[-1]), 1, f"aa_blur{n}")(a) for a in args]
            n += 1
        out = layer(args if isinstance(layer.input, list) else args[0])
        new[id(layer.output)] = out
    return keras.Model(inputs, new[id(model.outputs[0])], name=name)


def _finish(
    keras, base, inputs, num_classes: int, dropout: float, weights, antialias: bool, name: str
):
    if weights is None:
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = FROM_SCRATCH_BN_MOMENTUM
    features = keras.Model(inputs, base.output)
    if weights not in (None, "imagenet"):
        load_weights_file(features, weights)
    if antialias:
        features = antialias_rebuild(keras, features, name + "_features")
    outputs = classifier_head(keras, features.output, num_classes, dropout)
    return keras.Model(inputs, outputs, name=name)


@register("mobilenet_v2", image_size_px=DEFAULT_SIZE)
def build_mobilenet_v2(
    image_size_px: int,
    num_classes: int,
    alpha: float = 0.35,
    dropout: float = 0.2,
    weights: str | None = None,
    antialias: bool = False,
    **_,
):
    """MobileNetV2 (alpha 0.35..1.0) + GAP, dropout and softmax head."""
    from edgeposinv.training.keras_api import keras

    _check_size("mobilenet_v2", image_size_px)
    if alpha not in V2_ALPHAS:
        raise ParameterError("alpha", alpha, f"must be one of {V2_ALPHAS} for mobilenet_v2")
    w = _resolve_weights("mobilenet_v2", weights, image_size_px, alpha, False)
    inputs, x = pixels_input(keras, image_size_px)
    base = keras.applications.MobileNetV2(
        input_tensor=x,
        include_top=False,
        alpha=alpha,
        weights="imagenet" if w == "imagenet" else None,
    )
    return _finish(keras, base, inputs, num_classes, dropout, w, antialias, "mobilenet_v2")


@register(
    "mobilenet_v3_small",
    image_size_px=DEFAULT_SIZE,
    no_qat=(
        "tensorflow-model-optimization cannot wrap its hard-swish activations (TFOpLambda layers; "
        "tensorflow/model-optimization#1145)"
    ),
)
def build_mobilenet_v3_small(
    image_size_px: int,
    num_classes: int,
    alpha: float = 1.0,
    dropout: float = 0.2,
    weights: str | None = None,
    antialias: bool = False,
    minimalistic: bool = False,
    **_,
):
    """MobileNetV3-Small (optionally minimalistic); its own 0..255 rescaling is inside."""
    from edgeposinv.training.keras_api import keras

    _check_size("mobilenet_v3_small", image_size_px)
    if alpha not in V3_ALPHAS:
        raise ParameterError("alpha", alpha, f"must be one of {V3_ALPHAS} for mobilenet_v3_small")
    if antialias:
        raise ParameterError(
            "antialias",
            antialias,
            "is implemented for 'tiny' and 'mobilenet_v2' only",
            fix="drop it for mobilenet_v3_small",
        )
    w = _resolve_weights("mobilenet_v3_small", weights, image_size_px, alpha, minimalistic)
    inputs, _ = pixels_input(keras, image_size_px, normalize=False)
    base = keras.applications.MobileNetV3Small(
        input_tensor=inputs,
        include_top=False,
        alpha=alpha,
        minimalistic=minimalistic,
        weights="imagenet" if w == "imagenet" else None,
        include_preprocessing=True,
    )
    return _finish(keras, base, inputs, num_classes, dropout, w, False, "mobilenet_v3_small")
