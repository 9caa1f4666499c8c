"""Quantization-aware fine-tuning with tensorflow-model-optimization (tf_keras models).

Every layer is annotated; the input normalisation (``Rescaling``, which the default 8-bit
registry does not cover) becomes the equivalent fixed 1x1 depthwise convolution, so the
model's input gets a learned quantization range like every other tensor. The wrapped model saves to ``model.keras``
and loads under ``tfmot.quantization.keras.quantize_scope()``.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def _tfmot():
    import tensorflow_model_optimization as tfmot

    return tfmot


def _normalize_as_depthwise(keras, layer):
    """The input ``Rescaling`` as an equivalent fixed 1x1 depthwise convolution, which the
    default 8-bit registry quantizes (so the converter gets the input's range)."""
    cfg = layer.get_config()
    conv = keras.layers.DepthwiseConv2D(1, use_bias=True, name=layer.name, trainable=False)
    conv.build((None, None, None, 3))
    conv.set_weights([np.full((1, 1, 3, 1), cfg["scale"], np.float32), np.full((3,), cfg["offset"], np.float32)])
    return conv


def quantize_model(model):
    """A QAT-wrapped copy of a trained float ``model`` (same weights, same function)."""
    from edgeposinv._keras import keras

    tfmot = _tfmot()
    qk = tfmot.quantization.keras

    def annotate(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        if isinstance(layer, keras.layers.Rescaling):
            return qk.quantize_annotate_layer(_normalize_as_depthwise(keras, layer))
        return qk.quantize_annotate_layer(layer.__class__.from_config(layer.get_config()))

    annotated = keras.models.clone_model(model, clone_function=annotate)
    inner = {getattr(w, "layer", w).name: getattr(w, "layer", w) for w in annotated.layers}
    for layer in model.layers:
        if layer.weights and not isinstance(layer, keras.layers.Rescaling):
            inner[layer.name].set_weights(layer.get_weights())
    with qk.quantize_scope():
        quantized = qk.quantize_apply(annotated)
    fix_input_range(quantized)
    log.info("quantization-aware model: %d layers wrapped", sum("quant" in layer.name for layer in quantized.layers))
    return quantized


def fix_input_range(model, low: float = 0.0, high: float = 255.0) -> None:
    """Pin the input quantizer's range to the pixel range, so the int8 model's uint8 input
    is the raw pixel value (scale 1, zero point 0), as the input contract promises."""
    for layer in model.layers:
        if type(layer).__name__ == "QuantizeLayer":
            for v in layer.weights:
                if v.name.endswith("_min:0"):
                    v.assign(low)
                elif v.name.endswith("_max:0"):
                    v.assign(high)


def quantize_scope():
    return _tfmot().quantization.keras.quantize_scope()


def load_qat_model(path):
    from edgeposinv._keras import keras

    with quantize_scope():
        return keras.models.load_model(path, compile=False)
