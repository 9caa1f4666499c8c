"""Third-party classifiers: no edgeposinv metadata, labels from --labels, uint8 or float RGB input."""

from __future__ import annotations

import csv

import flatbuffers
import pytest
from conftest import SHAPES, make_shapes_dataset, run_cli


def _strip_metadata(model_bytes: bytes) -> bytes:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    model.metadata = [m for m in (model.metadata or []) if not m.name.startswith(b"edgeposinv")]
    builder = flatbuffers.Builder(len(model_bytes))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _predictions(report) -> dict[str, tuple[str, float]]:
    return {
        r["path"]: (r["predicted"], float(r["confidence"]))
        for r in csv.DictReader((report / "predictions.csv").read_text().splitlines())
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_shapes_dataset(
        tmp_path_factory.mktemp("third_party"), n_per_class=4, size=48, seed=31
    )


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "labels.txt"
    path.write_text("\n".join(SHAPES) + "\n")
    return path


def test_uint8_model_without_metadata_needs_and_uses_a_labels_file(
    int8_model, data, labels_file, tmp_path
):
    foreign = tmp_path / "foreign_uint8.tflite"
    foreign.write_bytes(_strip_metadata(int8_model.read_bytes()))
    done = run_cli(
        "evaluate", str(foreign), "--set", f"x={data}", "--report", str(tmp_path / "no_labels")
    )
    assert done.returncode == 1 and "carries no labels" in done.stderr and "--labels" in done.stderr
    assert not (tmp_path / "no_labels").exists()

    for name, model, extra in (
        ("ours", int8_model, []),
        ("foreign", foreign, ["--labels", str(labels_file)]),
    ):
        done = run_cli(
            "evaluate", str(model), "--set", f"x={data}", "--report", str(tmp_path / name), *extra
        )
        assert done.returncode == 0, done.stderr[-1500:]
    assert _predictions(tmp_path / "foreign") == _predictions(tmp_path / "ours")


def test_float_model_expecting_normalised_input(trained_run, data, labels_file, tmp_path):
    """A float model without its normalisation layer: --input-mean/--input-std feed it [-1, 1]."""
    from edgeposinv.export.export import QuantSpec, export_run
    from edgeposinv.training.keras_api import keras, tf
    from edgeposinv.training.runs import load_keras_model, read_run

    ours = tmp_path / "ours.tflite"
    export_run(trained_run, ours, QuantSpec.float32())
    full = load_keras_model(read_run(trained_run))
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for layer in full.layers[2:]:  # skip the input and the built-in Rescaling to [-1, 1]
        x = layer(x)
    foreign = tmp_path / "foreign_float.tflite"
    foreign.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, x)).convert())

    run_cli("evaluate", str(ours), "--set", f"x={data}", "--report", str(tmp_path / "ours_r"))
    done = run_cli(
        "evaluate",
        str(foreign),
        "--set",
        f"x={data}",
        "--report",
        str(tmp_path / "norm"),
        "--labels",
        str(labels_file),
        "--input-mean",
        "127.5",
        "--input-std",
        "127.5",
    )
    assert done.returncode == 0, done.stderr[-1500:]
    expected, got = _predictions(tmp_path / "ours_r"), _predictions(tmp_path / "norm")
    assert expected.keys() == got.keys() and len(got) == 12
    for path in expected:
        assert got[path][0] == expected[path][0]
        assert got[path][1] == pytest.approx(expected[path][1], abs=1e-3)

    done = run_cli(
        "evaluate",
        str(ours),
        "--set",
        f"x={data}",
        "--report",
        str(tmp_path / "bad"),
        "--input-mean",
        "127.5",
        "--input-std",
        "127.5",
    )
    assert done.returncode == 1 and "carries its own input contract" in done.stderr
