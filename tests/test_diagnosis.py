"""Occlusion maps and the report's gap diagnosis, on a model whose answer depends on one region."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

SIZE = 32
LABELS = ("other", "red")


@pytest.fixture(scope="module")
def region_model(tmp_path_factory):
    """A float .tflite that says 'red' exactly when the top-right 8x8 corner is red.

    The network crops that corner, averages it and compares red with green: no pixel
    outside the corner can change its answer.
    """
    from edgeposinv.training.keras_api import keras, tf

    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Cropping2D(((0, SIZE - 8), (SIZE - 8, 0)))(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(2, activation="softmax")
    out = dense(x)
    model = keras.Model(inputs, out)
    w = np.zeros((3, 2), np.float32)
    w[0, 1], w[1, 1] = 12.0, -12.0  # logit(red) - logit(other) = 12 (R - G), in [0, 1] units
    dense.set_weights([w, np.zeros(2, np.float32)])
    folder = tmp_path_factory.mktemp("region_model")
    path = folder / "region.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    labels = folder / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    return path, labels


def _image(rng, red_at: tuple[int, int] | None) -> np.ndarray:
    img = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    img[:8, SIZE - 8 :] = (20, 200, 20)  # green corner: 'other'
    if red_at is not None:
        y, x = red_at
        img[y : y + 8, x : x + 8] = (230, 20, 20)
    return img


def test_occlusion_map_lights_up_the_region_the_answer_depends_on(region_model):
    from edgeposinv.evaluation.occlusion import OcclusionConfig, occlusion_map
    from edgeposinv.tflite.runtime import TFLiteClassifier

    path, labels = region_model
    clf = TFLiteClassifier(path, labels=LABELS, input_mean=0.0, input_std=255.0)
    img = _image(np.random.default_rng(0), red_at=(0, SIZE - 8))
    assert clf.predict_proba(img).argmax() == 1
    sens = occlusion_map(clf, img, 1, OcclusionConfig(patch_frac=0.25, stride_frac=0.125))
    assert sens.shape == (SIZE, SIZE)
    inside = sens[:8, SIZE - 8 :]
    assert inside.min() > 0.1 and inside.max() > 0.45, inside
    # Patches never reaching the corner cannot change the answer: exactly zero there.
    assert np.abs(sens[12:, :]).max() < 1e-6
    assert np.abs(sens[:, : SIZE - 12]).max() < 1e-6
    peak = np.unravel_index(np.argmax(sens), sens.shape)
    assert peak[0] < 8 and peak[1] >= SIZE - 8


def _write_set(root, rng, n, red_at):
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for i in range(n):
            img = _image(rng, red_at if label == "red" else None)
            name = f"{label}_{i:02d}_" + "a_very_long_file_name_from_a_phone_export" * 2 + ".png"
            cv2.imwrite(str(root / label / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def test_report_diagnoses_the_wild_gap_and_puts_the_headline_first(region_model, tmp_path):
    from edgeposinv.evaluation.evaluate import EvaluateConfig, evaluate

    path, labels = region_model
    rng = np.random.default_rng(1)
    _write_set(tmp_path / "published", rng, 12, red_at=(0, SIZE - 8))
    _write_set(tmp_path / "wild", rng, 12, red_at=(SIZE - 8, 0))  # the red square moved away
    report = evaluate(
        path,
        [("published", tmp_path / "published"), ("wild", tmp_path / "wild")],
        tmp_path / "report",
        EvaluateConfig(labels_file=labels, input_mean=0.0, input_std=255.0),
        show_progress=False,
    )
    diag = report["diagnosis"]
    assert diag["set"] == "wild" and diag["reference"] == "published"
    assert report["sets"]["published"]["top1"] == 1.0 and report["sets"]["wild"]["top1"] == 0.5
    geo = diag["geometry"]
    assert geo["n"] == 24 and geo["plain_top1"] == 1.0
    # Moving the published images moves the red square out of the corner: geometry explains
    # part of this gap (the model is purely positional).
    assert geo["drop"] > 0.05 and 0.0 < geo["explained_share"] <= 1.0
    assert diag["cause"] in ("geometry", "appearance") and diag["verdict"]
    samples = diag["occlusion"]["samples"]
    assert {s["set"] for s in samples} == {"published", "wild"}
    for s in samples:
        if s["set"] == "published" and s["true"] == "red":
            assert s["peak_frac"][0] < 0.25 and s["peak_frac"][1] >= 0.75
    on_disk = json.loads((tmp_path / "report" / "report.json").read_text())
    assert on_disk["diagnosis"]["verdict"] == diag["verdict"]
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.index("Accuracy per set") < page.index("Where the gap comes from")
    assert page.index("Where the gap comes from") < page.index("Misclassified images")
    assert "a_very_long_file_name_from_a_phone_exporta_very_long" not in page.split("<img")[0]
    assert "…" in page  # long names are cut in the middle, the full name is in the tooltip

    none = evaluate(
        path,
        [("published", tmp_path / "published"), ("wild", tmp_path / "wild")],
        tmp_path / "plain",
        EvaluateConfig(labels_file=labels, input_mean=0.0, input_std=255.0, diagnose=None),
        show_progress=False,
    )
    assert "diagnosis" not in none


def test_diagnose_names_an_unknown_set_as_a_usage_error(region_model, tmp_path):
    from conftest import run_cli

    path, labels = region_model
    _write_set(tmp_path / "a", np.random.default_rng(2), 2, red_at=(0, SIZE - 8))
    done = run_cli(
        "evaluate", str(path), "--labels", str(labels), "--input-mean", "0", "--input-std", "255",
        "--set", f"published={tmp_path / 'a'}", "--report", str(tmp_path / "r"),
        "--diagnose", "phone",
    )  # fmt: skip
    assert done.returncode == 2 and "phone" in done.stderr and "--diagnose" in done.stderr
    assert not (tmp_path / "r").exists()
