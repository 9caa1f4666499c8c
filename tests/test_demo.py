"""`edgeposinv demo` end to end: the mission's point, on the embedded digits."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


@pytest.mark.slow
def test_demo_shows_augmentation_closes_the_wild_gap(tmp_path):
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Report: {out.resolve() / 'index.html'}" in result.stdout

    summary = json.loads((out / "summary.json").read_text())
    base, robust = summary["baseline"], summary["robust"]
    assert robust["wild"] - base["wild"] >= 0.20
    assert base["published"] >= 0.85 and robust["published"] >= 0.85
    assert abs(base["published"] - robust["published"]) <= 0.07
    assert summary["seconds"] < 600

    for name in ("baseline", "robust"):
        report = json.loads((out / "reports" / name / "report.json").read_text())
        assert set(report["sets"]) == {"published", "wild"}
        assert report["sets"]["wild"]["top1"] == pytest.approx(summary[name]["wild"])
        assert (out / "models" / f"{name}.tflite").is_file()
    html = (out / "index.html").read_text()
    assert "published" in html and html.count("data:image/png;base64") >= 3
