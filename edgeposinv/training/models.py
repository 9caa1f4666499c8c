"""Model registry. Every model takes raw RGB pixels (0..255, float32) at a square size;
normalisation is its first layer, so a consumer never needs to know it.

Registered: ``tiny`` (from scratch; :func:`build_tiny`) and the pretrained-capable
backbones of :mod:`edgeposinv.training.backbones` (``mobilenet_v2``, ``mobilenet_v3_small``).
Every model is *flat* (no nested sub-models) so tensorflow-model-optimization can wrap it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgeposinv.errors import ConfigError, ParameterError

ModelBuilder = Callable[..., "object"]
_REGISTRY: dict[str, ModelBuilder] = {}
_NO_QAT: dict[str, str] = {}  # architecture → why quantization-aware training cannot wrap it
_SIZE: dict[str, int] = {}  # architecture → its default input size in pixels

#: Layer names of the classification head (everything else but the input is backbone).
HEAD_LAYERS = ("gap", "dropout", "probabilities")
INPUT_LAYERS = ("pixels", "normalize")


def register(
    name: str, no_qat: str | None = None, image_size_px: int = 64
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register a model builder; ``no_qat`` says why ``--qat`` cannot be used with it, and
    ``image_size_px`` is the input size it trains at unless told otherwise."""

    def wrap(fn: ModelBuilder) -> ModelBuilder:
        _REGISTRY[name] = fn
        _SIZE[name] = image_size_px
        if no_qat:
            _NO_QAT[name] = no_qat
        return fn

    return wrap


def available() -> list[str]:
    _load_backbones()
    return sorted(_REGISTRY)


def qat_unsupported(arch: str) -> str | None:
    """Why quantization-aware training cannot wrap ``arch``, or ``None`` when it can."""
    _load_backbones()
    return _NO_QAT.get(arch)


def default_image_size(arch: str) -> int:
    """The input size ``arch`` trains at when none is given (``TrainConfig.image_size_px`` 0)."""
    _load_backbones()
    return _SIZE[arch]


def _load_backbones() -> None:
    import edgeposinv.training.backbones  # noqa: F401  (registers the MobileNets)


def build_model(arch: str, image_size_px: int, num_classes: int, **options):
    """Build an uncompiled tf_keras classifier ``arch`` for ``num_classes`` labels."""
    if arch not in available():
        raise ConfigError(f"Unknown architecture {arch!r}; choose one of: {', '.join(available())}")
    if num_classes < 2:
        raise ConfigError(f"A classifier needs at least 2 classes. Got {num_classes}.")
    return _REGISTRY[arch](image_size_px=image_size_px, num_classes=num_classes, **options)


def pixels_input(keras, image_size_px: int, normalize: bool = True):
    """The raw-pixel input and (optionally) its scaling to [-1, 1]."""
    inputs = keras.Input((image_size_px, image_size_px, 3), name="pixels", dtype="float32")
    if not normalize:
        return inputs, inputs
    return inputs, keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(inputs)


def classifier_head(keras, x, num_classes: int, dropout: float):
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


def blur_layer(keras, channels: int, strides: int, name: str):
    """A fixed binomial ([1, 2, 1] x [1, 2, 1] / 16) depthwise blur: anti-aliasing before
    subsampling (Zhang 2019). A standard layer, so it saves, converts and quantizes."""
    k1 = np.array([1.0, 2.0, 1.0])
    kernel = np.outer(k1, k1) / 16.0
    weights = np.repeat(kernel[:, :, None, None], channels, axis=2).astype(np.float32)
    layer = keras.layers.DepthwiseConv2D(
        3, strides=strides, padding="same", use_bias=False, name=name
    )
    layer.build((None, None, None, channels))
    layer.set_weights([weights])
    layer.trainable = False
    return layer


def is_blur_layer(layer) -> bool:
    return layer.name.startswith("aa_blur")


@register("tiny")
def build_tiny(
    image_size_px: int,
    num_classes: int,
    dropout: float = 0.2,
    width: int = 16,
    antialias: bool = False,
    weights: str | None = None,
    **_,
):
    """A four-block CNN that trains in seconds on a CPU (tests, the demo, quick baselines).

    ``antialias``: each 2x max-pool becomes a dense max (stride 1) then a blur with
    stride 2 (MaxBlurPool)."""
    from edgeposinv.training.keras_api import keras

    if weights not in (None, "none"):
        if weights == "imagenet":
            raise ParameterError(
                "weights",
                weights,
                "cannot be 'imagenet' for arch 'tiny' (it trains from scratch)",
                fix="use 'none' or a weights file",
            )
    inputs, x = pixels_input(keras, image_size_px)
    filters_seq = (width, 2 * width, 4 * width, 4 * width)
    for i, filters in enumerate(filters_seq):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        if i < 3:
            if antialias:
                x = keras.layers.MaxPooling2D(2, strides=1, padding="same", name=f"pool{i}")(x)
                x = blur_layer(keras, filters, 2, f"aa_blur{i}")(x)
            else:
                x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    outputs = classifier_head(keras, x, num_classes, dropout)
    model = keras.Model(inputs, outputs, name="tiny")
    if weights not in (None, "none"):
        from edgeposinv.training.backbones import load_weights_file

        load_weights_file(model, weights)
    return model


def backbone_layers(model) -> list:
    """The layers of ``model`` that belong to the backbone (not input, normalisation, head)."""
    return [
        layer
        for layer in model.layers
        if layer.name not in HEAD_LAYERS + INPUT_LAYERS
        and layer.weights
        and not is_blur_layer(layer)
    ]


def set_trainable(model, phase: str, fine_tune_fraction: float = 0.6) -> None:
    """``phase``: ``all`` (from scratch), ``head`` (frozen backbone) or ``fine_tune`` (the top
    ``fine_tune_fraction`` of backbone layers trainable). BatchNormalization layers of a
    pretrained backbone stay frozen, which in tf_keras also keeps them in inference mode."""
    from edgeposinv.training.keras_api import keras

    layers = backbone_layers(model)
    first = int(round(len(layers) * (1.0 - fine_tune_fraction)))
    for i, layer in enumerate(layers):
        if phase == "all":
            layer.trainable = True
        elif phase == "head":
            layer.trainable = False
        else:
            layer.trainable = i >= first and not isinstance(layer, keras.layers.BatchNormalization)
    for layer in model.layers:
        if is_blur_layer(layer):
            layer.trainable = False
