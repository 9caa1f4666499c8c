"""Quantization-aware fine-tuning with tensorflow-model-optimization (tf_keras models).

tfmot's default 8-bit scheme, with three changes that make it work on a pretrained
MobileNet fine-tuned for a few epochs (before them, MobileNetV2-0.35 fell from 87.6% to
10% the moment it was wrapped, and to 32.5% after QAT):

- **Per-channel depthwise weights.** The default quantizer keeps one range per *last*
  axis, which for a depthwise kernel ``(h, w, channels, 1)`` is a single range for the
  whole layer; MobileNet's depthwise channels differ by two orders of magnitude, so most
  of them collapse to a few levels. :class:`DepthwiseWeightsQuantizer` quantizes each
  channel on its own, as the int8 converter and TFLite's per-channel kernels do.
- **Ranges calibrated before training** (:func:`calibrate_ranges`). Activation ranges
  start at [-6, 6] and move by a 0.999 moving average, so a short fine-tune never
  reaches the real ranges (residual sums reach ±60). They are set from the float model's
  own activations on a sample of images, the way post-training calibration does.
- **BatchNormalization frozen**: in inference mode, with its
  ImageNet statistics, which is what the converter folds into the weights.

The input normalisation (``Rescaling``, which the registry does not cover) becomes the
equivalent fixed 1x1 depthwise convolution, so the model's input gets a quantization range
like every other tensor. The wrapped model saves to ``model.keras`` (HDF5 content) and
loads under :func:`quantize_scope`.
"""

from __future__ import annotations

import logging

import numpy as np

from edgeposinv.errors import ModelError

log = logging.getLogger(__name__)


def _tfmot():
    import tensorflow_model_optimization as tfmot

    return tfmot


def _custom_classes() -> dict:
    """The quantizer and config classes (defined lazily: they subclass tfmot's)."""
    if _CLASSES:
        return _CLASSES
    import tensorflow as tf

    from edgeposinv.training.keras_api import keras

    qk = _tfmot().quantization.keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_scheme as scheme,
    )

    # tfmot reached through a module object: mypy cannot see the base class
    class DepthwiseWeightsQuantizer(qk.quantizers.LastValueQuantizer):  # type: ignore[name-defined]
        """Symmetric per-channel int8 for a depthwise kernel ``(h, w, c, m)``: one range per
        output channel ``c * m``, the layout TFLite's depthwise kernels quantize along."""

        def __init__(self, **_):
            super().__init__(num_bits=8, per_axis=True, symmetric=True, narrow_range=True)

        def build(self, tensor_shape, name, layer):
            channels = int(tensor_shape[2]) * int(tensor_shape[3])
            ranges = {}
            for end, value in (("min", -6.0), ("max", 6.0)):
                ranges[f"{end}_var"] = layer.add_weight(
                    f"{name}_{end}",
                    shape=(channels,),
                    initializer=keras.initializers.Constant(value),
                    trainable=False,
                )
            return ranges

        def __call__(self, inputs, training, weights, **kwargs):
            h, w, c, m = inputs.shape
            channels_last = tf.reshape(inputs, (h, w, 1, c * m))
            quantized = super().__call__(channels_last, training, weights, **kwargs)
            return tf.reshape(quantized, (h, w, c, m))

    class DepthwiseQuantizeConfig(registry.Default8BitConvQuantizeConfig):
        """The default depthwise config with :class:`DepthwiseWeightsQuantizer`."""

        def __init__(
            self,
            weight_attrs=("depthwise_kernel",),
            activation_attrs=("activation",),
            quantize_output=False,
        ):
            super().__init__(list(weight_attrs), list(activation_attrs), quantize_output)
            self.weight_quantizer = DepthwiseWeightsQuantizer()

    class Registry(registry.Default8BitQuantizeRegistry):
        def get_quantize_config(self, layer):
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                return DepthwiseQuantizeConfig()
            return super().get_quantize_config(layer)

    class Scheme(scheme.Default8BitQuantizeScheme):
        def get_quantize_registry(self):
            return Registry()

    _CLASSES.update(
        DepthwiseWeightsQuantizer=DepthwiseWeightsQuantizer,
        DepthwiseQuantizeConfig=DepthwiseQuantizeConfig,
        Scheme=Scheme,
    )
    return _CLASSES


_CLASSES: dict = {}


def _normalize_as_depthwise(keras, layer):
    """The input ``Rescaling`` as an equivalent fixed 1x1 depthwise convolution, which the
    default 8-bit registry quantizes (so the converter gets the input's range)."""
    cfg = layer.get_config()
    conv = keras.layers.DepthwiseConv2D(1, use_bias=True, name=layer.name, trainable=False)
    conv.build((None, None, None, 3))
    conv.set_weights(
        [np.full((1, 1, 3, 1), cfg["scale"], np.float32), np.full((3,), cfg["offset"], np.float32)]
    )
    return conv


def quantize_model(model):
    """A QAT-wrapped copy of a trained float ``model`` (same weights, same trainable
    layers), BatchNormalization frozen. Call :func:`calibrate_ranges` before training."""
    from edgeposinv.training.keras_api import keras

    qk = _tfmot().quantization.keras

    def annotate(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        if isinstance(layer, keras.layers.Rescaling):
            return qk.quantize_annotate_layer(_normalize_as_depthwise(keras, layer))
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["trainable"] = (
                False  # inference mode, ImageNet statistics (frozen before wrapping:
            )
        return qk.quantize_annotate_layer(
            layer.__class__.from_config(config)
        )  # wrappers track weights at build)

    try:
        annotated = keras.models.clone_model(model, clone_function=annotate)
        inner = {getattr(w, "layer", w).name: getattr(w, "layer", w) for w in annotated.layers}
        for layer in model.layers:
            if layer.weights and not isinstance(layer, keras.layers.Rescaling):
                inner[layer.name].set_weights(layer.get_weights())
        with quantize_scope():
            quantized = qk.quantize_apply(annotated, scheme=_custom_classes()["Scheme"]())
    except (
        AttributeError,
        RuntimeError,
        TypeError,
        ValueError,
    ) as e:  # tfmot's failures have no common type
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(
            f"quantization-aware training cannot wrap the model {model.name!r} ({reason}); "
            "train without 'qat' and export with 'mode' int8",
            params=("qat", "mode"),
        ) from None
    fix_input_range(quantized)
    log.info(
        "quantization-aware model: %d layers wrapped",
        sum("quant" in layer.name for layer in quantized.layers),
    )
    return quantized


def _range_variables(layer) -> dict[str, object]:
    """A wrapper's activation/output range variables by name ending (``output_min``...),
    weight ranges excluded (those follow the weights at every training step)."""
    out = {}
    for v in layer.non_trainable_weights:
        name = v.name.split("/")[-1].split(":")[0]
        if name.endswith(("_min", "_max")) and "kernel" not in name:
            out[name] = v
    return out


def calibrate_ranges(
    qat_model, float_model, images: np.ndarray, batch_size: int = 32, max_batches: int = 16
) -> int:
    """Set the QAT model's weight ranges from its weights and its activation ranges from
    the float model's activations on ``images`` (the mean over batches of each batch's
    min and max, as the moving averages would settle on). Returns the ranges set."""
    import tensorflow as tf

    from edgeposinv.training.keras_api import keras

    if len(images) == 0:
        return 0
    # One training-mode pass sets every weight range (last-value quantizers) from the weights;
    # BatchNormalization is frozen, so nothing else learns from it.
    qat_model(images[:batch_size].astype(np.float32), training=True)
    # Each observed tensor: its {"min": var, "max": var}, the float layer, and whether it is
    # that layer's output before its activation (``pre_activation``, e.g. softmax logits).
    names = {layer.name for layer in float_model.layers}
    observed = []
    for wrapper in qat_model.layers:
        if getattr(wrapper, "layer", None) is None or wrapper.layer.name not in names:
            continue
        groups: dict[str, dict] = {}
        for name, v in _range_variables(wrapper).items():
            prefix, end = name.rsplit("_", 1)
            groups.setdefault(prefix, {})[end] = v
        layer = float_model.get_layer(wrapper.layer.name)
        observed += [(ends, layer, prefix == "pre_activation") for prefix, ends in groups.items()]
    probe = keras.Model(
        float_model.inputs, [layer.input if pre else layer.output for _, layer, pre in observed]
    )
    lows, highs = np.zeros(len(observed)), np.zeros(len(observed))
    starts = range(0, min(len(images), batch_size * max_batches), batch_size)
    for start in starts:
        outs = probe(images[start : start + batch_size].astype(np.float32), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for i, ((_, layer, pre), t) in enumerate(zip(observed, outs)):
            t = _pre_activation(layer, t) if pre else t
            lows[i] += min(float(tf.reduce_min(t)), 0.0)
            highs[i] += max(float(tf.reduce_max(t)), 0.0)
    n = 0
    for (ends, _, _), low, high in zip(observed, lows / len(starts), highs / len(starts)):
        for end, v in ends.items():
            v.assign(low if end == "min" else high)
            n += 1
    fix_input_range(qat_model)
    log.info(
        "calibrated %d quantization ranges on %d images",
        n,
        min(len(images), batch_size * max_batches),
    )
    return n


def _pre_activation(layer, inputs):
    """``layer``'s output before its activation (a Dense/Conv with e.g. softmax)."""
    from edgeposinv.training.keras_api import keras

    activation = layer.activation
    try:
        layer.activation = keras.activations.linear
        return layer(inputs)
    finally:
        layer.activation = activation


def _is_input_quantizer(layer) -> bool:
    return type(layer).__name__ == "QuantizeLayer"


def fix_input_range(model, low: float = 0.0, high: float = 255.0) -> None:
    """Pin the input quantizer's range to the pixel range, so the int8 model's uint8 input
    is the raw pixel value (scale 1, zero point 0), as the input contract promises."""
    for layer in model.layers:
        if _is_input_quantizer(layer):
            for v in layer.weights:
                if v.name.endswith("_min:0"):
                    v.assign(low)
                elif v.name.endswith("_max:0"):
                    v.assign(high)


def float_copy(qat_model):
    """The plain float network inside a QAT model: every wrapper replaced by its layer (with
    the QAT-trained weights), the input quantizer by an identity. Its float32 export is the
    size baseline of an int8-qat export (the QAT model's own float32 export keeps a
    quantize/dequantize pair per fake-quantization point, so it is larger)."""
    from edgeposinv.training.keras_api import keras

    def unwrap(layer):
        if _is_input_quantizer(layer):
            return keras.layers.Activation("linear", name=layer.name)
        inner = getattr(layer, "layer", layer)
        return inner.__class__.from_config(inner.get_config())

    with quantize_scope():
        plain = keras.models.clone_model(qat_model, clone_function=unwrap)

    def short(variable) -> str:  # "quant_Conv1/kernel:0" -> "kernel"
        return variable.name.rsplit("/", 1)[-1].split(":")[0]

    for source in qat_model.layers:
        if _is_input_quantizer(source) or not source.weights:
            continue
        # the wrapper owns the inner layer's kernel (it swaps in the fake-quantized one when called)
        values = {short(v): v for v in source.weights}
        target = plain.get_layer(getattr(source, "layer", source).name)
        target.set_weights([values[short(w)].numpy() for w in target.weights])
    return plain


def quantize_scope():
    classes = _custom_classes()
    return _tfmot().quantization.keras.quantize_scope(
        {k: v for k, v in classes.items() if k != "Scheme"}
    )


def load_qat_model(path):
    from edgeposinv.training.keras_api import keras

    with quantize_scope():
        return keras.models.load_model(path, compile=False)
