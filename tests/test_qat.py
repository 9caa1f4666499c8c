"""The quantization-aware training recipe (edgeposinv.training.qat): real tfmot wrapping on tf_keras."""

from __future__ import annotations

import numpy as np


def _agreement(a, b) -> float:
    return float((a.argmax(1) == b.argmax(1)).mean())


def test_wrapping_and_calibrating_keeps_the_float_models_predictions(trained_run):
    from edgeposinv.data.calibration import load_calibration
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.qat import calibrate_ranges, quantize_model
    from edgeposinv.training.runs import read_run

    base = keras.models.load_model(trained_run / "model.keras", compile=False)
    x = load_calibration(read_run(trained_run), None, 64, 16)[0].astype(np.float32)
    qat = quantize_model(base)
    assert calibrate_ranges(qat, base, x, batch_size=16) > 0
    float_probs, qat_probs = base.predict(x, verbose=0), qat.predict(x, verbose=0)
    assert _agreement(float_probs, qat_probs) >= 0.9
    assert np.abs(float_probs - qat_probs).mean() < 0.05
    batchnorms = [
        layer.layer
        for layer in qat.layers
        if isinstance(getattr(layer, "layer", None), keras.layers.BatchNormalization)
    ]
    assert batchnorms and not any(layer.trainable for layer in batchnorms)
    names = [v.name for v in qat.weights]
    assert len(names) == len(set(names))


def test_float_copy_is_the_plain_network_with_the_qat_weights(trained_run):
    from edgeposinv.data.calibration import load_calibration
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.qat import calibrate_ranges, float_copy, quantize_model
    from edgeposinv.training.runs import read_run

    base = keras.models.load_model(trained_run / "model.keras", compile=False)
    x = load_calibration(read_run(trained_run), None, 32, 16)[0].astype(np.float32)
    qat = quantize_model(base)
    calibrate_ranges(qat, base, x, batch_size=16)
    for w in qat.trainable_weights:  # weights the QAT fine-tune changed: the copy must carry them
        w.assign(w * 1.01)
    plain = float_copy(qat)
    assert not any("quant" in type(layer).__name__.lower() for layer in plain.layers)
    assert all("/" in w.name and not w.name.startswith("quant") for w in plain.weights)
    qat_kernel = next(
        w for w in qat.weights if w.name.endswith("/kernel:0") and "probabilities" in w.name
    )
    np.testing.assert_array_equal(
        plain.get_layer("probabilities").kernel.numpy(), qat_kernel.numpy()
    )
    assert _agreement(plain.predict(x, verbose=0), qat.predict(x, verbose=0)) >= 0.9


def test_depthwise_weights_are_quantized_per_channel():
    """Two depthwise channels 1,000x apart in scale, evened out by the BatchNormalization
    after them (MobileNet's situation): with one range for the layer (tfmot's default for
    depthwise) the small channel rounds to zero; per channel it survives."""
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.qat import calibrate_ranges, quantize_model

    inputs = keras.Input((8, 8, 2))
    dw = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")
    bn = keras.layers.BatchNormalization(epsilon=1e-9)
    outputs = keras.layers.ReLU(6.0)(bn(dw(inputs)))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    kernel = rng.uniform(0.5, 1.0, (3, 3, 2, 1)).astype(np.float32) * 1e-3
    kernel[:, :, 1] *= 1e-3
    dw.set_weights([kernel, np.zeros(2, np.float32)])
    bn.set_weights(
        [
            np.array([1.0, 1e3], np.float32),
            np.zeros(2, np.float32),
            np.zeros(2, np.float32),
            np.ones(2, np.float32),
        ]
    )
    x = rng.uniform(0, 255, (16, 8, 8, 2)).astype(np.float32)

    qat = quantize_model(model)
    calibrate_ranges(qat, model, x, batch_size=16)
    ranges = [
        v
        for v in qat.get_layer("quant_dw").non_trainable_weights
        if "depthwise_kernel_max" in v.name
    ]
    assert ranges and tuple(ranges[0].shape) == (2,)
    np.testing.assert_allclose(ranges[0].numpy(), np.abs(kernel).reshape(-1, 2).max(0), rtol=1e-5)
    small, exact = qat.predict(x, verbose=0)[..., 1], model.predict(x, verbose=0)[..., 1]
    assert exact.mean() > 0.3
    assert np.abs(small - exact).mean() < 0.05 * exact.mean()


def test_a_model_tfmot_cannot_wrap_is_a_one_line_model_error():
    """MobileNetV3's hard-swish is built from TFOpLambda layers, which tfmot's wrapping fails
    on (tensorflow/model-optimization#1145): the failure names the model and the way out."""
    import pytest

    from edgeposinv.errors import ModelError
    from edgeposinv.training.models import build_model, qat_unsupported
    from edgeposinv.training.qat import quantize_model

    assert qat_unsupported("mobilenet_v3_small") and qat_unsupported("mobilenet_v2") is None
    model = build_model("mobilenet_v3_small", 96, 2, weights="none")
    with pytest.raises(ModelError, match="cannot wrap the model .*'mode' int8") as info:
        quantize_model(model)
    assert "\n" not in str(info.value)
