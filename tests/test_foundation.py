"""The foundation path, real end to end: train a tiny model, export int8, evaluate with LiteRT."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from tests.conftest import SHAPES, make_shapes_dataset


@pytest.fixture(scope="module")
def heldout_dir(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("heldout"), n_per_class=50, seed=123)


def test_tiny_model_learns_generated_shapes(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    # Three classes: chance is 33%.
    assert config["result"]["val_accuracy"] >= 0.85
    split = json.loads((trained_run / "split.json").read_text())
    assert set(split["train"]).isdisjoint(split["val"])
    assert len(split["train"]) + len(split["val"]) == 3 * 40
    assert (trained_run / "labels.txt").read_text().split() == list(SHAPES)
    history = (trained_run / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,") and len(history) == 1 + config["train"]["epochs"]


def _independent_pixels(path, size):
    """The input contract, re-implemented here from its documentation."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    rgb = bgr[..., ::-1]
    h, w = rgb.shape[:2]
    side = min(h, w)
    sq = rgb[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    return cv2.resize(np.ascontiguousarray(sq), (size, size), interpolation=cv2.INTER_AREA)


def test_int8_model_agrees_with_keras(trained_run, int8_model, heldout_dir):
    from ai_edge_litert.interpreter import Interpreter

    from edgeposinv.training.runs import load_keras_model, read_run

    run = read_run(trained_run)
    model = load_keras_model(run)
    files = sorted(heldout_dir.rglob("*.png"))
    truth = np.array([SHAPES.index(f.parent.name) for f in files])
    pixels = np.stack([_independent_pixels(f, 32) for f in files])
    keras_top = model.predict(pixels.astype(np.float32), verbose=0).argmax(1)

    interp = Interpreter(model_path=str(int8_model))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and inp["quantization"] == (1.0, 0)
    lite_top = []
    for x in pixels:
        interp.set_tensor(inp["index"], x[None])
        interp.invoke()
        lite_top.append(interp.get_tensor(out["index"])[0].argmax())
    lite_top = np.array(lite_top)

    assert (keras_top == lite_top).mean() >= 0.95
    keras_acc, lite_acc = (keras_top == truth).mean(), (lite_top == truth).mean()
    assert keras_acc >= 0.8
    assert keras_acc - lite_acc <= 0.03


def _wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_evaluate_figures_match_raw_interpreter_outputs(
    int8_model, heldout_dir, shapes_dir, tmp_path
):
    from ai_edge_litert.interpreter import Interpreter

    from edgeposinv.evaluation.evaluate import evaluate

    report = evaluate(
        int8_model,
        [("published", shapes_dir), ("heldout", heldout_dir)],
        tmp_path / "rep",
        show_progress=False,
    )
    on_disk = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert (tmp_path / "rep" / "report.html").read_text().count("data:image/png;base64") >= 3

    interp = Interpreter(model_path=str(int8_model))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    files = sorted(heldout_dir.rglob("*.png"))
    truth = np.array([SHAPES.index(f.parent.name) for f in files])
    pred = []
    for f in files:
        interp.set_tensor(inp["index"], _independent_pixels(f, 32)[None])
        interp.invoke()
        pred.append(int(interp.get_tensor(out["index"])[0].argmax()))
    pred = np.array(pred)

    s = report["sets"]["heldout"]
    n, k = len(files), int((pred == truth).sum())
    assert s["n"] == n
    assert s["top1"] == pytest.approx(k / n)
    lo, hi = _wilson(k, n)
    assert s["top1_ci95"] == pytest.approx([lo, hi], abs=1e-6)
    confusion = np.zeros((3, 3), int)
    for t, p in zip(truth, pred):
        confusion[t, p] += 1
    assert s["confusion"] == confusion.tolist()
    for i, name in enumerate(SHAPES):
        col = confusion[:, i].sum()
        assert s["per_class"][name]["n"] == int(confusion[i].sum())
        assert s["per_class"][name]["recall"] == pytest.approx(confusion[i, i] / confusion[i].sum())
        assert s["per_class"][name]["precision"] == pytest.approx(
            confusion[i, i] / col if col else 0.0
        )
    gap = report["gaps"]["heldout"]
    assert gap["reference"] == "published"
    assert gap["difference"] == pytest.approx(s["top1"] - report["sets"]["published"]["top1"])
    assert gap["difference_ci95"][0] <= gap["difference"] <= gap["difference_ci95"][1]

    model = report["model"]
    assert model["labels"] == list(SHAPES)
    assert model["input"] == {
        "height": 32,
        "width": 32,
        "dtype": "uint8",
        "scale": 1.0,
        "zero_point": 0,
    }
    assert model["size_bytes"] == int8_model.stat().st_size and len(model["sha256"]) == 64
    assert model["quantization"] == "int8"
    assert report["runtime"]["name"] == "ai-edge-litert"
    assert 0 < report["latency_ms"]["median"] <= report["latency_ms"]["p90"]


def test_export_carries_labels_and_contract(int8_model):
    from edgeposinv.tflite.metadata import read_contract

    description = read_contract(int8_model.read_bytes())
    assert description["labels"] == list(SHAPES)
    assert description["input"]["image_size_px"] == 32
    assert description["input"]["crop"] == "center_square"
    sidecar = json.loads(int8_model.with_suffix(".json").read_text())
    assert sidecar["labels"] == list(SHAPES) and sidecar["parity"]["top1_agreement"] >= 0.95


def test_overwrite_keeps_the_old_run_when_the_new_one_is_interrupted(
    trained_run, shapes_dir, tmp_path, monkeypatch
):
    import shutil

    import edgeposinv.training.train as train_module

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C during the first epoch, before any checkpoint

    monkeypatch.setattr(train_module, "_fit", interrupted)
    from edgeposinv.errors import Interrupted

    with pytest.raises(Interrupted, match="is back as it was before"):
        train_module.train(
            shapes_dir,
            run,
            train_module.TrainConfig(image_size_px=32, epochs=1),
            overwrite=True,
            show_progress=False,
        )
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # nothing hidden or set aside
