"""Quantization-aware fine-tuning with tensorflow-model-optimization (tf_keras models).

Every layer tfmot knows is annotated; the input normalisation (``Rescaling``, which the
default 8-bit registry does not cover) and the input layer stay float and are quantized by
the converter from the representative data. The wrapped model saves to ``model.keras``
and loads under ``tfmot.quantization.keras.quantize_scope()``.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _tfmot():
    import tensorflow_model_optimization as tfmot

    return tfmot


def quantize_model(model):
    """A QAT-wrapped copy of a trained float ``model`` (same weights)."""
    from edgeposinv._keras import keras

    tfmot = _tfmot()
    qk = tfmot.quantization.keras
    skip = (keras.layers.Rescaling, keras.layers.InputLayer)

    def annotate(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        return fresh if isinstance(layer, skip) else qk.quantize_annotate_layer(fresh)

    annotated = keras.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    with qk.quantize_scope():
        quantized = qk.quantize_apply(annotated)
    log.info("quantization-aware model: %d layers wrapped", sum("quant" in layer.name for layer in quantized.layers))
    return quantized


def quantize_scope():
    return _tfmot().quantization.keras.quantize_scope()


def load_qat_model(path):
    from edgeposinv._keras import keras

    with quantize_scope():
        return keras.models.load_model(path, compile=False)
