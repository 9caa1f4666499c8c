"""`edgeposinv compare`: float32 vs int8 side by side; different label sets are an error."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import make_shapes_dataset, run_cli

from edgeposinv.evaluation.evaluate import EvaluateConfig, SweepRequest, evaluate
from edgeposinv.evaluation.sweeps import PositionSweepConfig, RotationSweepConfig


@pytest.fixture(scope="module")
def two_reports(trained_run, int8_model, tmp_path_factory):
    from edgeposinv.export.export import QuantSpec, export_run

    root = tmp_path_factory.mktemp("compare")
    float_model = root / "shapes_float32.tflite"
    export_run(trained_run, float_model, QuantSpec.float32())
    data = make_shapes_dataset(root / "data", n_per_class=5, size=48, seed=21)
    sweeps = SweepRequest(
        position_set="pub",
        position=PositionSweepConfig(3, 3, 0.6),
        rotation_set="pub",
        rotation=RotationSweepConfig(step_deg=90),
    )
    out = {}
    for name, model in (("float32", float_model), ("int8", int8_model)):
        out[name] = root / name
        evaluate(
            model, [("pub", data)], out[name], EvaluateConfig(sweeps=sweeps), show_progress=False
        )
    return out


def test_compare_float32_and_int8(two_reports, tmp_path):
    done = run_cli(
        "compare",
        str(two_reports["float32"]),
        str(two_reports["int8"]),
        "--out",
        str(tmp_path / "c"),
    )
    assert done.returncode == 0, done.stderr[-1500:]
    summary = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert [r["name"] for r in summary["reports"]] == ["float32", "int8"]
    assert [r["quantization"] for r in summary["reports"]] == ["float32", "int8"]
    for row, name in zip(summary["reports"], ("float32", "int8")):
        report = json.loads((two_reports[name] / "report.json").read_text())
        assert row["sets"]["pub"]["top1"] == report["sets"]["pub"]["top1"]
        assert row["size_bytes"] == report["model"]["size_bytes"]
    assert summary["reports"][0]["size_bytes"] > summary["reports"][1]["size_bytes"]
    diff = summary["differences"]["pub"]["int8"]
    assert diff["against"] == "float32"
    assert diff["difference"] == pytest.approx(
        summary["reports"][1]["sets"]["pub"]["top1"] - summary["reports"][0]["sets"]["pub"]["top1"]
    )
    page = (tmp_path / "c" / "compare.html").read_text()
    assert page.count("<img") == 3  # accuracy bars, overlaid rotation curves, heatmaps side by side
    assert "float32" in page and "int8" in page


def test_reports_with_different_label_sets_are_an_error(two_reports, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(two_reports["int8"], other)
    report = json.loads((other / "report.json").read_text())
    report["model"]["labels"] = ["circle", "square", "star"]
    (other / "report.json").write_text(json.dumps(report))
    out = tmp_path / "c"
    done = run_cli("compare", str(two_reports["float32"]), str(other), "--out", str(out))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "different label sets" in line and "lacks [triangle]" in line and "extra [star]" in line
    assert not out.exists()


def test_a_folder_without_a_report_is_an_error(two_reports, tmp_path):
    done = run_cli("compare", str(two_reports["int8"]), str(tmp_path), "--out", str(tmp_path / "c"))
    assert done.returncode == 1 and "has no report.json" in done.stderr
