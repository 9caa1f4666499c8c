"""The committed golden vectors are what the Python side produces today.

The Java tests (android_demo, run by .ci/android.sh) reproduce these files; this test makes
sure they still describe the Python preprocessing, the real exported model and the metrics,
so a change on the Python side cannot leave the Android parity proof stale.
"""

from __future__ import annotations

import json

import numpy as np

from edgeposinv.tflite.metadata import CONTRACT_NAME, read_entries
from edgeposinv.tflite.runtime import TFLiteClassifier
from tests.conftest import REPO
from tests.golden import make_golden

GOLDEN = REPO / "tests" / "golden"


def test_golden_vectors_match_the_python_side(tmp_path):
    make_golden.write_all(tmp_path, GOLDEN / make_golden.MODEL_NAME)
    for name in (
        "preprocess.json",
        "quantize.json",
        "dequantize.json",
        "metrics.json",
        "quality.json",
        "open_set.json",
    ):
        fresh = json.loads((tmp_path / name).read_text())
        committed = json.loads((GOLDEN / name).read_text())
        assert fresh == committed, f"tests/golden/{name} is stale: run tests/golden/make_golden.py"
    fresh_files = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert fresh_files == sorted(p.name for p in (GOLDEN / "images").iterdir())
    for f in fresh_files:
        assert (tmp_path / "images" / f).read_bytes() == (GOLDEN / "images" / f).read_bytes(), f


def test_golden_model_is_a_small_real_export():
    path = GOLDEN / make_golden.MODEL_NAME
    assert path.stat().st_size < 100 * 1024
    clf = TFLiteClassifier(path)
    assert clf.labels == ("circle", "square", "triangle")
    assert clf.input_info.dtype == "uint8" and (
        clf.input_info.scale,
        clf.input_info.zero_point,
    ) == (1.0, 0)
    assert clf.description["input"]["image_size_px"] == 32
    std = (GOLDEN / make_golden.STD_MODEL_NAME).read_bytes()
    entries = read_entries(std)
    assert "TFLITE_METADATA" in entries and CONTRACT_NAME not in entries  # the app's fallback path
    assert len(std) < 100 * 1024


def test_golden_cases_cover_every_resize_kind_and_orientation():
    cases = json.loads((GOLDEN / "preprocess.json").read_text())["cases"]
    kinds = {c["resize"] for c in cases}
    assert kinds == {"area", "bilinear", "none"}
    assert sorted(c["orientation"] for c in cases if c["name"].startswith("exif_")) == list(
        range(1, 9)
    )
    rotated = next(c for c in cases if c["name"] == "exif_6")
    assert rotated["oriented_hw"] == rotated["stored_hw"][::-1]
    model_cases = [c for c in cases if "raw_output" in c]
    assert len(model_cases) == 5
    for c in model_cases:
        probs = np.array(c["probabilities"])
        assert abs(probs.sum() - 1.0) < 0.02  # a softmax row, dequantized
