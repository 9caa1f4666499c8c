"""Integration on real device data: Raspberry Pi camera rock/paper/scissors (../shared).

A tiny model is trained on two thirds of the photos (symlinked, never copied into the
repo) and evaluated on the rest, in parallel, with a position sweep.
"""

from __future__ import annotations

import csv
import json

import pytest
from conftest import shared_path

from edgeposinv.evaluation.evaluate import EvaluateConfig, SweepRequest, evaluate
from edgeposinv.evaluation.sweeps import PositionSweepConfig


@pytest.mark.slow
def test_rps_pi_camera_end_to_end(tmp_path):
    from edgeposinv.export.export import QuantSpec, export_run
    from edgeposinv.training.train import TrainConfig, train

    source = shared_path("datasets", "rps_pi_small")
    for split in ("train", "test"):
        for label in ("paper", "rock", "scissors"):
            (tmp_path / split / label).mkdir(parents=True)
    for label in ("paper", "rock", "scissors"):
        for i, path in enumerate(sorted((source / label).glob("*.png"))):
            split = "test" if i % 3 == 0 else "train"
            (tmp_path / split / label / path.name).symlink_to(path)
    train(
        tmp_path / "train",
        tmp_path / "run",
        TrainConfig(image_size_px=48, epochs=6, batch_size=32, augment="none", seed=0),
        show_progress=False,
    )
    model = tmp_path / "rps.tflite"
    export_run(tmp_path / "run", model, QuantSpec.int8())
    report = evaluate(
        model,
        [("pi", tmp_path / "test")],
        tmp_path / "report",
        EvaluateConfig(
            threads=2,
            sweeps=SweepRequest(position_set="pi", position=PositionSweepConfig(3, 3, 0.6)),
        ),
        show_progress=False,
    )
    s = report["sets"]["pi"]
    print(
        "rps_pi_small:",
        s["top1"],
        s["top1_ci95"],
        report["position_sweep"]["accuracy"],
        report["throughput"],
    )
    assert s["n"] == 300
    assert s["top1"] >= 0.75, "a tiny CNN separates rock/paper/scissors on a green backdrop"
    assert s["top1_ci95"][0] < s["top1"] < s["top1_ci95"][1]
    assert s["top1_ci95"][1] - s["top1_ci95"][0] < 0.12  # 300 images: an interval a few points wide
    assert sum(map(sum, s["confusion"])) == 300
    rows = list(csv.DictReader((tmp_path / "report" / "predictions.csv").read_text().splitlines()))
    assert sum(r["true"] == r["predicted"] for r in rows) == s["correct"]
    on_disk = json.loads((tmp_path / "report" / "report.json").read_text())
    assert on_disk["position_sweep"]["n"] == 300
    # Trained without augmentation on full-frame hands: shrunk and moved hands score lower everywhere.
    assert max(map(max, on_disk["position_sweep"]["accuracy"])) < s["top1"] - 0.2
