"""Standard TFLite Metadata: round trip, golden format, inspect without TensorFlow, MediaPipe reads it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeposinv.tflite.metadata import read_contract, read_entries
from edgeposinv.tflite.std_metadata import (
    METADATA_NAME,
    StdMetadata,
    append_associated_files,
    build_metadata,
    parse_metadata,
    read_associated_files,
)

GOLDEN = Path(__file__).parent / "golden" / "metadata_int8_shapes.json"
MEDIAPIPE_VENV = Path(
    os.environ.get(
        "EDGEPOSINV_MEDIAPIPE_VENV", Path.home() / ".cache" / "edgeposinv-mediapipe-venv"
    )
)


def _metadata_facts(model_bytes: bytes) -> dict:
    entries = read_entries(model_bytes)
    files = read_associated_files(model_bytes)
    standard, contract = parse_metadata(entries[METADATA_NAME]), read_contract(model_bytes)
    # The open-set threshold and temperature come from training numerics: the golden pins
    # where they are written, and the two blocks must agree.
    open_set = contract.get("open_set")
    if open_set:
        thresholding = standard["outputs"][0]["score_thresholding"]
        assert thresholding["global_score_threshold"] == open_set["score_threshold"]
        thresholding["global_score_threshold"] = "<score_threshold>"
        contract["open_set"] = {
            "score_threshold": "<score_threshold>",
            "temperature": "<temperature>",
            "reserved_label": open_set["reserved_label"],
            "target": open_set["target"],
            "expected": sorted(open_set["expected"]),
        }
    return {
        "standard": standard,
        "edgeposinv": contract,
        "associated_files": {
            name: data.decode("utf-8").splitlines() for name, data in files.items()
        },
    }


def test_metadata_round_trip(int8_model, trained_run):
    data = int8_model.read_bytes()
    facts = _metadata_facts(data)
    labels = tuple((Path(trained_run) / "labels.txt").read_text().split())
    assert tuple(facts["associated_files"]["labels.txt"]) == labels
    inp, out = facts["standard"]["inputs"][0], facts["standard"]["outputs"][0]
    assert inp["normalization"] == {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    assert inp["color_space"] == "RGB" and inp["default_size"] == [32, 32]
    assert inp["stats"] == {"min": [0.0], "max": [255.0]}
    assert out["associated_files"] == [{"name": "labels.txt", "type": "TENSOR_AXIS_LABELS"}]
    contract = facts["edgeposinv"]["input"]
    assert (
        contract["normalization_mean"] == [127.5] * 3
        and contract["normalization_std"] == [127.5] * 3
    )
    assert "(x - 127.5) / 127.5" in inp["description"]


def test_builder_writes_what_it_is_given():
    meta = StdMetadata(
        name="m",
        description="d",
        version="v",
        author="a",
        image_size_px=96,
        color_space="RGB",
        mean=(127.5, 127.5, 127.5),
        std=(127.5, 127.5, 127.5),
        input_min=0.0,
        input_max=255.0,
        input_description="in",
        output_description="out",
        labels_file="labels.txt",
    )
    buf = build_metadata(meta)
    assert buf == build_metadata(meta) and buf[4:8] == b"M001"
    parsed = parse_metadata(buf)
    assert parsed["inputs"][0]["normalization"] == {"mean": [127.5] * 3, "std": [127.5] * 3}
    assert parsed["inputs"][0]["default_size"] == [96, 96]
    assert (parsed["name"], parsed["version"], parsed["author"], parsed["min_parser_version"]) == (
        "m",
        "v",
        "a",
        "1.0.0",
    )
    with pytest.raises(ValueError, match="not a TFLite ModelMetadata"):
        parse_metadata(b"\0" * 16)


def test_associated_files_zip_is_deterministic():
    a = append_associated_files(b"MODEL" * 10, {"labels.txt": b"a\nb\n"})
    assert a == append_associated_files(b"MODEL" * 10, {"labels.txt": b"a\nb\n"})
    assert a.startswith(b"MODEL" * 10) and read_associated_files(a) == {"labels.txt": b"a\nb\n"}


def test_metadata_matches_golden(int8_model):
    facts = _metadata_facts(int8_model.read_bytes())
    if os.environ.get("EDGEPOSINV_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    assert facts == json.loads(GOLDEN.read_text()), (
        "metadata format changed; review, then EDGEPOSINV_UPDATE_GOLDEN=1"
    )


def test_inspect_prints_the_facts_without_tensorflow(int8_model):
    code = (
        "import sys, json; from edgeposinv.tflite.inspect import inspect_model, format_report; "
        f"f = inspect_model({str(int8_model)!r}); print(format_report(f)); "
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'ops': f['ops'], 'in': f['inputs']}))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    tail = json.loads(lines[-1])
    assert tail["tf"] is False
    assert tail["ops"]["CONV_2D"] == 4 and "SOFTMAX" in tail["ops"]
    assert tail["in"][0]["dtype"] == "uint8" and tail["in"][0]["quantization"] == {
        "scale": 1.0,
        "zero_point": 0,
    }
    text = "\n".join(lines[:-1])
    assert "Labels (3): circle, square, triangle" in text and "32x32 RGB" in text
    assert "center_square" in text and "normalization mean [0.0, 0.0, 0.0]" in text


def test_inspect_cli_rejects_a_non_model(tmp_path):
    from conftest import run_cli

    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a model at all")
    proc = run_cli("inspect", str(bad))
    assert (
        proc.returncode == 1
        and "not a TFLite flatbuffer" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def _mediapipe_python() -> Path:
    python = MEDIAPIPE_VENV / "bin" / "python"
    if (
        python.is_file()
        and subprocess.run([str(python), "-c", "import mediapipe"], capture_output=True).returncode
        == 0
    ):
        return python
    shutil.rmtree(MEDIAPIPE_VENV, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(MEDIAPIPE_VENV)],
        [str(python), "-m", "pip", "install", "-q", "mediapipe"],
    ]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            reason = (
                f"MediaPipe cannot be installed into {MEDIAPIPE_VENV}: {proc.stderr.strip()[-300:]}"
            )
            print(reason)
            pytest.skip(reason)
    return python


_CLASSIFY = """
import json, sys
import mediapipe as mp
from mediapipe.tasks import python as mp_python
from mediapipe.tasks.python import vision
options = vision.ImageClassifierOptions(base_options=mp_python.BaseOptions(model_asset_path=sys.argv[1]), max_results=10)
with vision.ImageClassifier.create_from_options(options) as classifier:
    result = classifier.classify(mp.Image.create_from_file(sys.argv[2]))
print(json.dumps({c.category_name: c.score for c in result.classifications[0].categories}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_mediapipe_image_classifier_reads_labels_and_classifies(
    mode, trained_run, shapes_dir, tmp_path
):
    """A real third-party consumer: MediaPipe Tasks' ImageClassifier in its own virtualenv."""
    from edgeposinv.export.export import ExportOptions, export_run
    from edgeposinv.export.quantize import QuantSpec
    from edgeposinv.tflite.runtime import TFLiteClassifier

    python = _mediapipe_python()
    model = tmp_path / f"{mode}.tflite"
    spec = QuantSpec.int8() if mode == "int8" else QuantSpec.float32()
    export_run(
        trained_run,
        model,
        spec,
        options=ExportOptions(latency_runs=1, latency_warmup=0, compare_float32=False),
    )
    ours = TFLiteClassifier(model)
    script = tmp_path / "classify.py"
    script.write_text(_CLASSIFY)
    n_agree = 0
    for label in ours.labels:
        rgb = cv2.cvtColor(cv2.imread(str(shapes_dir / label / "000.png")), cv2.COLOR_BGR2RGB)
        pixels = ours.prepare(rgb)  # already model-sized: MediaPipe's own resize is then a no-op
        image = tmp_path / f"{label}.png"
        cv2.imwrite(str(image), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
        proc = subprocess.run(
            [str(python), str(script), str(model), str(image)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        scores = json.loads(proc.stdout.strip().splitlines()[-1])
        probs = ours.predict_proba(pixels)
        ref = dict(zip(ours.labels, probs.tolist()))
        # MediaPipe applies the model's ScoreThresholdingOptions (the open-set threshold):
        # it returns exactly the labels (from the model's label file) scoring at or above it
        t = ours.score_threshold
        assert t is not None and 0.0 < t < 1.0
        surely_in = {k for k, v in ref.items() if v >= t + 0.02}
        maybe_in = {k for k, v in ref.items() if v >= t - 0.02}  # MediaPipe's own arithmetic
        assert surely_in <= set(scores) <= maybe_in, (scores, ref, t)
        assert set(scores) <= set(ours.labels) and scores
        assert max(abs(scores[k] - ref[k]) for k in scores) < 0.02, (scores, ref)
        n_agree += max(scores, key=scores.get) == ours.labels[int(np.argmax(probs))]
    assert n_agree == len(ours.labels)
