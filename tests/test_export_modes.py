"""Every quantization mode converts a tiny model that LiteRT loads and that matches Keras."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from edgeposinv.errors import ConfigError
from edgeposinv.export.quantize import MODE_OPTIONS, QUANT_MODES, QuantSpec

# mode spec → (max mean |p_keras - p_tflite|, max single |dp|, min top-1 agreement)
TOLERANCES = {
    ("float32", "float32"): (1e-5, 1e-4, 1.0),
    ("float16", "float32"): (2e-3, 1e-2, 1.0),
    ("dynamic", "float32"): (0.02, 0.1, 0.95),
    ("int8", "uint8"): (0.02, 0.15, 0.95),
    ("int8", "int8"): (0.02, 0.15, 0.95),
    ("int8", "float32"): (0.02, 0.15, 0.95),
}
SPECS = {
    ("float32", "float32"): QuantSpec.float32(),
    ("float16", "float32"): QuantSpec.float16(),
    ("dynamic", "float32"): QuantSpec.dynamic(),
    ("int8", "uint8"): QuantSpec.int8(),
    ("int8", "int8"): QuantSpec.int8(io="int8"),
    ("int8", "float32"): QuantSpec.int8(io="float32"),
}


def test_mode_table_and_named_constructors():
    assert QUANT_MODES == ("float32", "float16", "dynamic", "int8", "int8-qat")
    assert MODE_OPTIONS["float16"] == () and "io_dtype" in MODE_OPTIONS["int8"]
    assert QuantSpec.int8().io == "uint8" and QuantSpec.float16().io == "float32"
    assert QuantSpec.int8_qat(io="int8").mode == "int8-qat"
    assert QuantSpec.from_options("int8", io="float32").io == "float32"


@pytest.mark.parametrize(
    "mode, option, value, flag",
    [
        ("float16", "io", "uint8", "'io_dtype'"),
        ("dynamic", "calibration_dir", "calibration/x", "'calibration_dir'"),
        ("float32", "calibration_size", 50, "'calibration_size'"),
    ],
)
def test_an_option_a_mode_does_not_accept_is_an_error(mode, option, value, flag):
    with pytest.raises(ConfigError, match=f"{flag} does not apply to 'mode' {mode}"):
        QuantSpec.from_options(mode, **{option: value})


def test_calibration_size_with_a_calibration_folder_is_an_error():
    with pytest.raises(ConfigError, match="'calibration_size' sizes the sample"):
        QuantSpec.from_options("int8", calibration_dir="calibration/x", calibration_size=50)


def test_bad_mode_and_io_are_errors():
    with pytest.raises(ConfigError, match="'mode' of QuantSpec must be one of"):
        QuantSpec("int4")
    with pytest.raises(ConfigError, match="'io_dtype' of QuantSpec must be one of"):
        QuantSpec.int8(io="int16")


@pytest.fixture(scope="module")
def run_model(trained_run):
    from edgeposinv.export.export import validation_images
    from edgeposinv.export.quantize import load_run_model
    from edgeposinv.training.runs import read_run

    run = read_run(trained_run)
    data = validation_images(run)
    model = load_run_model(run)
    return run, model, data, model.predict(data.images.astype(np.float32), verbose=0)


@pytest.mark.parametrize("key", list(SPECS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_mode_loads_in_litert_and_matches_keras(run_model, key, tmp_path):
    from edgeposinv.data.calibration import load_calibration
    from edgeposinv.export.description import embed_metadata, model_description
    from edgeposinv.export.quantize import convert
    from edgeposinv.tflite.runtime import TFLiteClassifier

    run, model, data, keras_probs = run_model
    spec = SPECS[key]
    calibration = load_calibration(run, None, 200, 16)[0] if spec.full_integer else None
    path = tmp_path / "m.tflite"
    path.write_bytes(
        embed_metadata(convert(model, spec, calibration), model_description(run, spec))
    )
    clf = TFLiteClassifier(path)
    expected_dtype = {"float32": "float32", "uint8": "uint8", "int8": "int8"}[spec.io]
    assert clf.input_info.dtype == expected_dtype and clf.output_info.dtype == expected_dtype
    if spec.io == "uint8":  # camera pixels go in unchanged
        assert (clf.input_info.scale, clf.input_info.zero_point) == (1.0, 0)
    lite = np.stack([clf.predict_proba(x) for x in data.images])
    diff = np.abs(lite - keras_probs)
    mean_tol, max_tol, min_agree = TOLERANCES[key]
    assert diff.mean() <= mean_tol, f"{key}: mean |dp| {diff.mean():.5f} > {mean_tol}"
    assert diff.max() <= max_tol, f"{key}: max |dp| {diff.max():.5f} > {max_tol}"
    assert (lite.argmax(1) == keras_probs.argmax(1)).mean() >= min_agree
    assert clf.labels == run.labels and clf.quantization == spec.mode


def test_export_writes_model_and_sidecar_with_figures(trained_run, tmp_path):
    from edgeposinv.export.export import ExportOptions, export_run

    out = tmp_path / "shapes.tflite"
    result = export_run(
        trained_run,
        out,
        QuantSpec.dynamic(),
        options=ExportOptions(latency_runs=5, latency_warmup=1),
    )
    side = json.loads((tmp_path / "shapes.json").read_text())
    assert side["parity"]["checked"] and side["parity"]["top1_agreement"] >= 0.95
    assert side["gate"] == {
        "max_drop_points": 2.0,
        "min_images_lost": 2,
        "passed": True,
        "forced": False,
    }
    assert 0.2 < side["size"]["ratio_to_float32"] < 0.4  # int8 weights: about a quarter of float32
    assert (
        side["latency"]["threads"] == 1
        and side["latency"]["median_ms"] > 0
        and side["latency"]["machine"]["cpu"]
    )
    assert side["provenance"]["train"]["arch"] == "tiny" and result.size_bytes == out.stat().st_size


def test_same_run_same_options_give_identical_bytes(trained_run, tmp_path):
    from edgeposinv.export.export import ExportOptions, export_run

    opts = ExportOptions(latency_runs=1, latency_warmup=0, compare_float32=False)
    export_run(trained_run, tmp_path / "a.tflite", QuantSpec.int8(), options=opts)
    export_run(trained_run, tmp_path / "b.tflite", QuantSpec.int8(), options=opts)
    a, b = (tmp_path / "a.tflite").read_bytes(), (tmp_path / "b.tflite").read_bytes()
    assert a == b
    assert str(tmp_path).encode() not in a and str(trained_run).encode() not in a


def _blank_calibration(folder, n, value=225):
    import cv2

    folder.mkdir()
    for i in range(n):
        cv2.imwrite(str(folder / f"blank_{i:02d}.png"), np.full((32, 32, 3), value, np.uint8))
    return folder


def test_parity_gate_refuses_a_broken_calibration_and_writes_nothing(trained_run, tmp_path):
    """Blank background-coloured images (no object) as calibration: activations are clipped."""
    from edgeposinv.errors import ExportError
    from edgeposinv.export.export import ExportOptions, export_run

    cal = _blank_calibration(tmp_path / "blank", 16)
    out = tmp_path / "out" / "broken.tflite"
    opts = ExportOptions(latency_runs=1, latency_warmup=0, compare_float32=False)
    with pytest.raises(
        ExportError, match="Parity gate: .* more than 'max_drop_points' 2; nothing written"
    ):
        export_run(trained_run, out, QuantSpec.int8(cal), options=opts)
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())

    forced = export_run(
        trained_run,
        out,
        QuantSpec.int8(cal),
        options=ExportOptions(latency_runs=1, latency_warmup=0, compare_float32=False, force=True),
    )
    side = json.loads(out.with_suffix(".json").read_text())
    assert out.is_file() and side["gate"] == {
        "max_drop_points": 2.0,
        "min_images_lost": 2,
        "passed": False,
        "forced": True,
    }
    assert (
        side["parity"]["drop_points"] > 2.0
        and forced.parity["drop_points"] == side["parity"]["drop_points"]
    )
    parity = side["parity"]  # the net images lost make up the drop, and there are two or more
    assert parity["images_lost"] == round(parity["drop_points"] * parity["n"] / 100) >= 2


@pytest.mark.parametrize(
    ("drop", "lost", "refused"),
    [
        (5.0, 1, False),  # one image of 20: the check's resolution
        (10.0, 2, True),
        (1.5, 3, False),  # many images, but within max_drop_points (a large split)
        (5.0, -1, False),  # more images right than before cannot be a drop
    ],
)
def test_parity_gate_needs_more_than_one_lost_image(drop, lost, refused):
    from edgeposinv.export.parity import gate_refuses

    assert gate_refuses({"drop_points": drop, "images_lost": lost}, 2.0) is refused


def test_too_few_calibration_images_is_an_error(trained_run, tmp_path):
    from edgeposinv.errors import ExportError
    from edgeposinv.export.export import export_run

    cal = _blank_calibration(tmp_path / "few", 3)
    with pytest.raises(
        ExportError, match=r"has 3 decodable image\(s\), fewer than one batch \(16\)"
    ):
        export_run(trained_run, tmp_path / "m.tflite", QuantSpec.int8(cal))


def test_existing_output_is_not_overwritten(trained_run, tmp_path):
    from edgeposinv.errors import OutputExistsError
    from edgeposinv.export.export import export_run

    out = tmp_path / "m.tflite"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="'overwrite'"):
        export_run(trained_run, out, QuantSpec.float32())
    assert out.read_bytes() == b"precious"


@pytest.mark.slow
def test_int8_qat_from_a_qat_run(trained_run, tmp_path):
    """A QAT run built here the way 'train --qat' writes it: edgeposinv's QAT wrapping, qat=true."""
    from edgeposinv.data.calibration import load_calibration
    from edgeposinv.errors import ConfigError
    from edgeposinv.export.export import ExportOptions, export_run
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.qat import calibrate_ranges, quantize_model
    from edgeposinv.training.runs import read_run

    qat_run = tmp_path / "qat_run"
    shutil.copytree(trained_run, qat_run)
    base = keras.models.load_model(qat_run / "model.keras", compile=False)
    qat = quantize_model(base)
    run = read_run(qat_run)
    x = load_calibration(run, None, 48, 16)[0].astype(np.float32)
    calibrate_ranges(qat, base, x, batch_size=16)
    qat.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    qat.fit(
        x, base.predict(x, verbose=0).argmax(1), epochs=1, batch_size=16, verbose=0
    )  # a few QAT steps
    (qat_run / "model.keras").unlink()
    with warnings.catch_warnings():  # as write_run_end: tfmot wrappers need the HDF5 layout
        warnings.filterwarnings("ignore", message=".*HDF5 file.*")
        qat.save(qat_run / "model.keras", save_format="h5")
    config = json.loads((qat_run / "config.json").read_text())
    config["train"]["qat"] = True
    (qat_run / "config.json").write_text(json.dumps(config))

    opts = ExportOptions(latency_runs=1, latency_warmup=0, compare_float32=False)
    a = export_run(
        qat_run,
        tmp_path / "a.tflite",
        QuantSpec.int8_qat(),
        options=ExportOptions(latency_runs=1, latency_warmup=0),
    )
    # the size baseline is the float network inside the QAT model, which is the base run's network
    plain = export_run(trained_run, tmp_path / "plain.tflite", QuantSpec.float32(), options=opts)
    assert abs(a.sidecar["size"]["float32_bytes"] - plain.size_bytes) <= 256
    assert a.parity["n"] - round(a.parity["top1_agreement"] * a.parity["n"]) <= 1  # one flip
    assert a.parity["mean_abs_prob_diff"] < 0.03
    assert a.sidecar["quantization"] == "int8-qat" and a.sidecar["io_dtype"] == "uint8"
    export_run(qat_run, tmp_path / "b.tflite", QuantSpec.int8_qat(), options=opts)
    assert (tmp_path / "a.tflite").read_bytes() == (tmp_path / "b.tflite").read_bytes()

    with pytest.raises(
        ConfigError, match="trained with quantization-aware .* export it with 'mode' int8-qat"
    ):
        export_run(qat_run, tmp_path / "c.tflite", QuantSpec.int8(), options=opts)
    with pytest.raises(ConfigError, match="int8-qat needs a run trained with quantization-aware"):
        export_run(trained_run, tmp_path / "d.tflite", QuantSpec.int8_qat(), options=opts)


def test_int8_zero_points_are_written_once_and_the_model_is_unchanged(int8_model):
    """Per-channel zero points (8 bytes per channel, nearly all 0) are shared between
    tensors: the file is smaller than a plain re-serialisation and computes the same."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter

    shared = int8_model.read_bytes()
    model = schema.ModelT.InitFromPackedBuf(bytearray(shared), 0)
    per_channel = [
        t
        for t in model.subgraphs[0].tensors
        if t.quantization is not None
        and t.quantization.zeroPoint is not None
        and len(t.quantization.zeroPoint) > 1
    ]
    assert per_channel, "the int8 export has no per-channel tensors to share zero points between"
    builder = flatbuffers.Builder(len(shared))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    plain = bytes(builder.Output())
    repeated_bytes = 8 * sum(len(t.quantization.zeroPoint) for t in per_channel)
    distinct = {t.quantization.zeroPoint.tobytes() for t in per_channel}
    distinct_bytes = sum(len(z) for z in distinct)
    assert distinct_bytes < repeated_bytes / 2
    assert len(plain) - len(shared) >= (repeated_bytes - distinct_bytes) // 2

    pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    outputs = []
    for content in (plain, shared):
        interpreter = Interpreter(model_content=content)
        interpreter.allocate_tensors()
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        rows = []
        for x in pixels:
            interpreter.set_tensor(inp["index"], x[None])
            interpreter.invoke()
            rows.append(interpreter.get_tensor(out["index"]).copy())
        outputs.append(np.concatenate(rows))
    np.testing.assert_array_equal(outputs[0], outputs[1])
