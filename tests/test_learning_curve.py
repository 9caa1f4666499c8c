"""learning-curve on a tiny synthetic set: points with intervals, a projection, a time budget."""

from __future__ import annotations

import json

import pytest
from conftest import make_shapes_dataset, run_cli


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("curve")
    rig = make_shapes_dataset(root / "rig", n_per_class=16, size=40, seed=1, jitter_px=2)
    captures = make_shapes_dataset(
        root / "captures", n_per_class=8, size=40, seed=2, jitter_px=10, radius=(6, 10)
    )
    wild = make_shapes_dataset(
        root / "wild", n_per_class=10, size=40, seed=3, jitter_px=10, radius=(6, 10)
    )
    return rig, captures, wild


@pytest.mark.slow
def test_learning_curve_writes_points_with_intervals_and_a_projection(folders, tmp_path):
    rig, captures, wild = folders
    out = tmp_path / "curve"
    done = run_cli(
        "learning-curve", str(rig), "--captures", str(captures), "--wild", str(wild),
        "--out", str(out), "--steps", "0,2,8,50", "--image-size", "32", "--epochs", "2",
        "--batch-size", "16", "--augment", "none",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    curve = json.loads((out / "curve.json").read_text())
    assert (out / "curve.png").stat().st_size > 5000
    # 50 is more than exists: clipped to the 8 per class available, counted once.
    assert [p["captures_per_class"] for p in curve["points"]] == [0, 2, 8]
    # the rig validates, so every capture of a step trains (3 classes)
    assert [r["captures_trained"] for r in curve["runs"]] == [0, 6, 24]
    for p in curve["points"]:
        assert p["n"] == 30 and 0 <= p["correct"] <= 30
        lo, hi = p["top1_ci95"]
        assert lo <= p["top1"] <= hi and hi - lo > 0.1  # 30 images: a wide interval
    fit = curve["projection"]
    assert fit["from_captures_per_class"] == 8 and fit["to_captures_per_class"] == 16
    lo, hi = fit["gain_per_doubling_ci95"]
    assert lo < fit["gain_per_doubling"] < hi
    assert "log2" in fit["method"]
    assert "Doubling the captures (8 → 16 per class)" in done.stdout


@pytest.mark.slow
def test_time_budget_stops_after_the_first_step(folders, tmp_path):
    from edgeposinv.training.learning_curve import LearningCurveConfig, learning_curve
    from edgeposinv.training.train import TrainConfig

    rig, captures, wild = folders
    config = LearningCurveConfig(
        train=TrainConfig(image_size_px=32, epochs=1, batch_size=16, augment="none"),
        steps=(0, 4, 8),
        time_budget_s=1.0,
    )
    curve = learning_curve(rig, captures, wild, tmp_path / "c", config, show_progress=False)
    assert [p["captures_per_class"] for p in curve["points"]] == [0]
    assert "time budget" in curve["stopped"] and curve["projection"] is None


def test_doubling_fit_recovers_a_known_slope():
    from edgeposinv.training.learning_curve import fit_doubling

    points = [
        {"captures_per_class": k, "top1": 0.5 + 0.05 * i, "n": 10_000}
        for i, k in enumerate((4, 8, 16, 32))
    ]
    fit = fit_doubling(points)
    assert fit["gain_per_doubling"] == pytest.approx(0.05, abs=1e-9)
    assert fit["projected_top1"] == pytest.approx(0.70, abs=1e-9)
    assert fit["gain_per_doubling_ci95"][1] - fit["gain_per_doubling_ci95"][0] < 0.01
    assert fit_doubling(points[:1]) is None


def test_bad_steps_are_a_usage_error(folders, tmp_path):
    rig, captures, wild = folders
    done = run_cli(
        "learning-curve", str(rig), "--captures", str(captures), "--wild", str(wild),
        "--out", str(tmp_path / "x"), "--steps", "0,five",
    )  # fmt: skip
    assert done.returncode == 2 and "0,five" in done.stderr and "Traceback" not in done.stderr
