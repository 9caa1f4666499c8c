"""`edgeposinv dataset stats`: counts, problems found, coverage chart."""

from __future__ import annotations

import json
import shutil

import cv2
from conftest import run_cli, shared_path
from test_capture_helpers import write_video

from edgeposinv.capture import CaptureConfig, GuideConfig, QualityConfig, run_capture
from edgeposinv.data.stats import dataset_stats, write_coverage_chart


def _captured(tmp_path):
    out = tmp_path / "data"
    clip = write_video(tmp_path / "a.avi", 12)
    run_capture(
        CaptureConfig(
            out,
            ("ball",),
            source=str(clip),
            preview=False,
            every_ms=0,
            guide=GuideConfig(2, 2, ("upright",)),
            quality=QualityConfig(0, 0),
        ),
        notify=lambda s: None,
    )
    clip_b = write_video(tmp_path / "b.avi", 3, seed=5)
    run_capture(
        CaptureConfig(
            out,
            ("cup",),
            source=str(clip_b),
            preview=False,
            every_ms=0,
            guide=GuideConfig(2, 2, ("upright",)),
            quality=QualityConfig(0, 0),
        ),
        notify=lambda s: None,
    )
    return out


def test_stats_counts_and_problems_cli(tmp_path):
    out = _captured(tmp_path)
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    ball = [e for e in entries if e["label"] == "ball"]
    # Make trouble: a ball image filed (unlisted) under cup, a listed file deleted,
    # a corrupt image, a stray text file, a broken manifest line.
    shutil.copy(out / ball[0]["path"], out / "cup" / "copied.jpg")
    (out / ball[-1]["path"]).unlink()
    (out / "cup" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (out / "cup" / "notes.txt").write_text("x")
    with (out / "manifest.jsonl").open("a") as f:
        f.write("{not json\n")

    chart = tmp_path / "cov.png"
    r = run_cli(
        "dataset", "stats", str(out), "--chart", str(chart), "--json", str(tmp_path / "s.json")
    )
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["per_label"] == {"ball": 11, "cup": 4}
    assert sorted(s["per_session"].values()) == [3, 11]
    assert s["cells"] == ["top-left", "top-right", "bottom-left", "bottom-right"]
    assert s["per_cell"]["ball"] == {
        "top-left": 3,
        "top-right": 3,
        "bottom-left": 3,
        "bottom-right": 2,
    }
    assert s["per_cell"]["cup"] == {"top-left": 1, "top-right": 1, "bottom-left": 1}
    assert s["per_angle"] == {"ball": {"upright": 11}, "cup": {"upright": 3}}
    assert s["sizes"] == {"160x120": 15}
    assert s["unlisted"] == ["cup/bad.png", "cup/copied.jpg"]
    assert s["missing"] == [ball[-1]["path"]]
    assert s["corrupt"] == [{"path": "cup/bad.png", "problem": "not decodable"}]
    assert s["not_images"] == ["cup/notes.txt"]
    assert s["bad_manifest_lines"] == [{"line": 16, "problem": "not valid JSON"}]
    assert s["cross_label_duplicates"] == [sorted([ball[0]["path"], "cup/copied.jpg"])]
    assert s["imbalance_ratio"] > 2
    assert "WARNING: class imbalance: ball has 11 images, cup has 4" in r.stdout
    assert "identical image(s) filed under different labels" in r.stdout
    png = cv2.imread(str(chart))
    assert png is not None and png.shape[0] > 100 and png.shape[1] > 200
    assert (png < 200).any(axis=2).mean() > 0.01, "the chart has content, not a blank page"


def test_stats_without_manifest_real_rps(tmp_path):
    """A plain class-folder dataset (real Raspberry Pi photos): no manifest, one size."""
    src = shared_path("datasets", "rps_pi_small")
    for label in ("rock", "paper"):
        (tmp_path / label).mkdir()
        for p in sorted((src / label).glob("*.png"))[:10]:
            shutil.copy(p, tmp_path / label / p.name)
    stats = dataset_stats(tmp_path, show_progress=False)
    assert stats.per_label == {"paper": 10, "rock": 10}
    assert stats.sizes == {(300, 200): 20}
    assert not stats.has_manifest and not stats.unlisted and not stats.warnings()
    assert any("no manifest.jsonl" in line for line in stats.lines())
    chart = write_coverage_chart(stats, tmp_path / "chart.png")
    assert cv2.imread(str(chart)) is not None


def test_stats_bad_folder_is_one_line(tmp_path):
    r = run_cli("dataset", "stats", str(tmp_path / "nope"))
    assert r.returncode == 1 and "does not exist" in r.stderr and "Traceback" not in r.stderr
