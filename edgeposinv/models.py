"""Model registry. Every model takes raw RGB pixels (0..255, float32) at a square size;
normalisation is its first layer, so a consumer never needs to know it.
"""

from __future__ import annotations

from collections.abc import Callable

from edgeposinv.errors import ConfigError

ModelBuilder = Callable[..., "object"]
_REGISTRY: dict[str, ModelBuilder] = {}


def register(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    def wrap(fn: ModelBuilder) -> ModelBuilder:
        _REGISTRY[name] = fn
        return fn

    return wrap


def available() -> list[str]:
    return sorted(_REGISTRY)


def build_model(arch: str, image_size_px: int, num_classes: int, **options):
    """Build an uncompiled tf_keras classifier ``arch`` for ``num_classes`` labels."""
    if arch not in _REGISTRY:
        raise ConfigError(f"Unknown architecture {arch!r}; choose one of: {', '.join(available())}")
    if num_classes < 2:
        raise ConfigError(f"A classifier needs at least 2 classes. Got {num_classes}.")
    return _REGISTRY[arch](image_size_px=image_size_px, num_classes=num_classes, **options)


def _pixels_input(keras, image_size_px: int):
    inputs = keras.Input((image_size_px, image_size_px, 3), name="pixels", dtype="float32")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(inputs)
    return inputs, x


@register("tiny")
def build_tiny(image_size_px: int, num_classes: int, dropout: float = 0.2, width: int = 16):
    """A four-block CNN that trains in seconds on a CPU (tests, the demo, quick baselines)."""
    from edgeposinv._keras import keras

    inputs, x = _pixels_input(keras, image_size_px)
    for i, filters in enumerate((width, 2 * width, 4 * width, 4 * width)):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        if i < 3:
            x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="tiny")
