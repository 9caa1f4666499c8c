"""The feature-distance ``_background`` output: rejection without any unknown images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_shapes_dataset, run_cli
from sklearn.metrics import roc_auc_score
from test_open_set_train_export import _unknown_images

from edgeposinv.errors import ParameterError
from edgeposinv.export.feature_gate import distances, fit, range_images
from edgeposinv.tflite.open_set import RESERVED_LABEL


def _low_rank_features(n, rng, dim=64, rank=8, shift=0.0):
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(dim, rank)))[0]
    x = rng.normal(size=(n, rank)) @ basis.T + 3.0
    return np.maximum(x + shift * rng.normal(size=(n, dim)), 0.0).astype(np.float32)


def test_distance_ranks_off_distribution_features_far():
    rng = np.random.default_rng(1)
    train, val = _low_rank_features(300, rng), _low_rank_features(60, rng)
    known, unknown = _low_rank_features(100, rng), _low_rank_features(100, rng, shift=1.0)
    gate = fit(train, val, components=32, keep=0.9)
    scores = -np.concatenate([distances(gate, known), distances(gate, unknown)])
    auroc = roc_auc_score(np.r_[np.ones(100), np.zeros(100)], scores)
    assert auroc > 0.95
    # the gate is 0.5 at the 'keep' quantile of the validation distances
    assert np.mean(distances(gate, val) <= gate.d0) == pytest.approx(0.9, abs=0.02)
    assert gate.describe()["components"] == 32 and gate.describe()["n_train"] == 300


def test_fit_refuses_too_few_images_and_no_components():
    rng = np.random.default_rng(0)
    with pytest.raises(ParameterError, match="at least 2 training"):
        fit(_low_rank_features(1, rng), _low_rank_features(5, rng))
    with pytest.raises(ParameterError, match="'components'"):
        fit(_low_rank_features(10, rng), _low_rank_features(5, rng), components=0)


def test_range_images_shuffle_tiles_and_keep_colours():
    rng = np.random.default_rng(0)
    calibration = rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    out = range_images(calibration, seed=0, share=0.5)
    assert out.shape == (4, 32, 32, 3) and out.dtype == np.uint8
    by_pixels = {np.sort(c.ravel()).tobytes(): c for c in calibration}
    for o in out:
        source = by_pixels[np.sort(o.ravel()).tobytes()]  # the same pixels as one image...
        assert not np.array_equal(o, source)  # ...in other places


@pytest.mark.slow
def test_export_adds_a_background_output_that_rejects_unseen_patterns(tmp_path):
    from edgeposinv.data.images import read_rgb
    from edgeposinv.export.export import ExportOptions, QuantSpec, export_run
    from edgeposinv.export.open_set import OpenSetOptions
    from edgeposinv.tflite.preprocess import prepare
    from edgeposinv.tflite.runtime import TFLiteClassifier
    from edgeposinv.training.train import TrainConfig, train

    data = make_shapes_dataset(tmp_path / "shapes", n_per_class=30, size=48)
    held_out = _unknown_images(tmp_path / "unknown_test", n=40, seed=9)
    config = TrainConfig(image_size_px=32, epochs=8, batch_size=16, augment="none")
    train(data, tmp_path / "run", config, show_progress=False)
    assert RESERVED_LABEL not in (tmp_path / "run" / "labels.txt").read_text()

    options = ExportOptions(
        latency_runs=1, open_set=OpenSetOptions(unknown_score="features", keep_correct=0.95)
    )
    export_run(tmp_path / "run", tmp_path / "gated", QuantSpec.float32(), options=options)
    out = tmp_path / "gated" / "model.tflite"
    card = (tmp_path / "gated" / "MODEL_CARD.md").read_text()
    assert "`--unknown-score features`" in card
    clf = TFLiteClassifier(out)
    assert clf.labels == ("circle", "square", "triangle", RESERVED_LABEL)
    open_set = clf.open_set
    assert open_set.reserved_label == RESERVED_LABEL
    assert open_set.target == {"keep_correct": 0.95, "unknown_score": "features"}
    assert open_set.expected["feature_gate"]["score"] == "features"
    assert open_set.expected["correct_kept"] >= 0.9
    decisions = [clf.classify(prepare(read_rgb(p), 32))[0] for p in sorted(held_out.iterdir())]
    accepted = sum(d is not None for d in decisions) / len(decisions)
    assert accepted <= 0.2, accepted  # stripes it never saw are "none of the classes"
    sidecar = json.loads((tmp_path / "gated" / "MODEL.json").read_text())
    assert sidecar["labels"][-1] == RESERVED_LABEL

    # the plain export of the same run accepts most of them (what the gate is for)
    plain = tmp_path / "plain.tflite"
    export_run(tmp_path / "run", plain, QuantSpec.float32(), options=ExportOptions(latency_runs=1))
    clf = TFLiteClassifier(plain)
    decisions = [clf.classify(prepare(read_rgb(p), 32))[0] for p in sorted(held_out.iterdir())]
    assert sum(d is not None for d in decisions) / len(decisions) > accepted


@pytest.mark.slow
def test_export_cli_refuses_features_for_a_run_with_a_background_output(tmp_path):
    from edgeposinv.training.train import TrainConfig, train

    data = make_shapes_dataset(tmp_path / "shapes", n_per_class=10, size=32)
    _unknown_images(data / RESERVED_LABEL, n=12)
    train(
        data,
        tmp_path / "run",
        TrainConfig(image_size_px=32, epochs=1, batch_size=8),
        show_progress=False,
    )
    out = tmp_path / "m.tflite"
    r = run_cli("export", str(tmp_path / "run"), "--out", str(out), "--unknown-score", "features")
    assert r.returncode == 2 and "--unknown-score" in r.stderr and "Traceback" not in r.stderr
    assert "--unknown-score softmax" in r.stderr
    assert not out.exists()
