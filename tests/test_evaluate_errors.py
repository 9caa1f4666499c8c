"""Bad inputs: one line naming the problem, exit status 1, no report folder left behind."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_shapes_dataset, run_cli


@pytest.fixture(scope="module")
def good_set(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("good"), n_per_class=2, size=48, seed=2)


@pytest.fixture(scope="module")
def not_a_classifier(tmp_path_factory):
    """A real .tflite whose output is an image (rank 4), not class scores."""
    from edgeposinv.training.keras_api import keras, tf

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    path = tmp_path_factory.mktemp("bad") / "segmenter.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def _assert_one_line_error(done, report, *needles: str, code: int = 1) -> None:
    assert done.returncode == code, (done.returncode, done.stderr[-1500:])
    lines = [
        line for line in done.stderr.splitlines() if line.strip() and not line.startswith("INFO:")
    ]
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not report.exists()
    assert not list(report.parent.glob(f".{report.name}*")), (
        "a temporary report folder was left behind"
    )


def test_output_of_wrong_rank(not_a_classifier, good_set, tmp_path):
    report = tmp_path / "r"
    done = run_cli(
        "evaluate", str(not_a_classifier), "--set", f"a={good_set}", "--report", str(report)
    )
    _assert_one_line_error(
        done, report, "segmenter.tflite", "output shape is [1, 32, 32, 3]", "[1, num_classes]"
    )


def test_truncated_model(int8_model, good_set, tmp_path):
    cut = tmp_path / "cut.tflite"
    data = int8_model.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    report = tmp_path / "r"
    done = run_cli("evaluate", str(cut), "--set", f"a={good_set}", "--report", str(report))
    _assert_one_line_error(done, report, "cut.tflite", "truncated")


@pytest.mark.parametrize("layout", ["no_class_folders", "empty_class_folder"])
def test_set_folder_without_images(int8_model, tmp_path, layout):
    folder = tmp_path / "empty"
    (folder / "circle").mkdir(parents=True) if layout == "empty_class_folder" else folder.mkdir()
    (folder / "notes.txt").write_text("not an image")
    report = tmp_path / "r"
    done = run_cli("evaluate", str(int8_model), "--set", f"a={folder}", "--report", str(report))
    _assert_one_line_error(done, report, str(folder))


def test_label_mismatch(int8_model, good_set, tmp_path):
    odd = make_shapes_dataset(tmp_path / "odd", n_per_class=1, size=48)
    (odd / "triangle").rename(odd / "hexagon")
    report = tmp_path / "r"
    done = run_cli(
        "evaluate",
        str(int8_model),
        "--set",
        f"good={good_set}",
        "--set",
        f"odd={odd}",
        "--report",
        str(report),
    )
    _assert_one_line_error(
        done, report, "'odd'", "hexagon", "Model labels: circle, square, triangle"
    )


def test_labels_file_of_the_wrong_length(int8_model, good_set, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    report = tmp_path / "r"
    done = run_cli(
        "evaluate",
        str(int8_model),
        "--set",
        f"x={good_set}",
        "--report",
        str(report),
        "--labels",
        str(labels),
    )
    # the model carries its own three labels: a labels file never replaces them
    _assert_one_line_error(done, report, "carries its own labels", "--labels")


def test_unknown_sweep_set(int8_model, good_set, tmp_path):
    report = tmp_path / "r"
    done = run_cli(
        "evaluate",
        str(int8_model),
        "--set",
        f"x={good_set}",
        "--report",
        str(report),
        "--sweep-position",
        "y",
    )
    assert done.returncode == 2, done.stderr[-1500:]
    assert "Traceback" not in done.stderr
    assert "Invalid value for --sweep-position: 'y' is not one of the sets: x." in done.stderr
    assert not report.exists()


def test_existing_report_is_not_overwritten(int8_model, good_set, tmp_path):
    report = tmp_path / "r"
    report.mkdir()
    (report / "mine.txt").write_text("keep me")
    done = run_cli("evaluate", str(int8_model), "--set", f"x={good_set}", "--report", str(report))
    assert done.returncode == 1 and "--overwrite" in done.stderr
    assert (report / "mine.txt").read_text() == "keep me"
    assert np.array(sorted(p.name for p in report.iterdir())).tolist() == ["mine.txt"]


def test_model_asking_for_another_preprocessing_policy(int8_model, good_set, tmp_path):
    from edgeposinv.tflite.metadata import (
        CONTRACT_NAME,
        canonical_json,
        read_contract,
        write_entries,
    )

    data = int8_model.read_bytes()
    description = read_contract(data)
    description["input"]["crop"] = "letterbox"
    other = tmp_path / "letterbox.tflite"
    other.write_bytes(write_entries(data, {CONTRACT_NAME: canonical_json(description)}))
    report = tmp_path / "r"
    done = run_cli("evaluate", str(other), "--set", f"x={good_set}", "--report", str(report))
    _assert_one_line_error(done, report, "letterbox.tflite", "crop='letterbox'", "center_square")
