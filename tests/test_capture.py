"""`edgeposinv capture` from a video the test writes itself, headless; guide overlay drawing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from test_capture_helpers import H, W, assert_consistent, write_video

from edgeposinv.capture import (
    CaptureConfig,
    GuideConfig,
    QualityConfig,
    draw_guide,
    draw_status,
    run_capture,
)
from edgeposinv.capture.guide import cell_name, cell_rect, parse_grid
from edgeposinv.errors import ConfigError

BLURRED = (7, 15)
REPEATED = (20, 21)
DARK, BRIGHT = (25,), (27,)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    return write_video(path, 30, blurred=BLURRED, repeated=REPEATED, dark=DARK, bright=BRIGHT)


def test_capture_video_headless_cli(clip, tmp_path):
    out = tmp_path / "data"
    env = {"DISPLAY": ""}
    r = run_cli(
        "capture",
        "--out",
        str(out),
        "--label",
        "ball",
        "--source",
        str(clip),
        "--every-ms",
        "100",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "no display" in r.stdout and "headless" in r.stdout
    assert "now: top-left, upright" in r.stdout and "now: centre, upright" in r.stdout
    assert "rejected as blurry: 2 (sharpness < --min-sharpness 10)" in r.stdout
    assert "rejected as near-duplicates: 2 (change < --min-change 0.01)" in r.stdout
    assert "flagged exposure (kept): bright: 1, dark: 1" in r.stdout

    entries = assert_consistent(out)
    kept_frames = [i for i in range(30) if i not in BLURRED + REPEATED]
    assert [e["frame_index"] for e in entries] == kept_frames
    session = entries[0]["session"]
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{4}", session)
    assert [e["path"] for e in entries] == [f"ball/{session}_{k:04d}.jpg" for k in range(1, 27)]
    assert [e["seq"] for e in entries] == list(range(1, 27))
    first = entries[0]
    assert first["source"] == {"kind": "video", "id": "clip.avi"}
    assert first["device"]["backend"] == "FFMPEG"
    assert (first["device"]["width"], first["device"]["height"]) == (W, H)
    assert first["device"]["fps"] == pytest.approx(10.0)
    # The guide walks the 3x3 cells for "upright", then for "tilted left", ...
    for k, e in enumerate(entries):
        angle, cell = divmod(k, 9)
        assert e["guide"]["grid"] == [3, 3]
        assert e["guide"]["cell"] == list(divmod(cell, 3))
        assert e["guide"]["angle"] == ("upright", "tilted left", "tilted right")[angle]
    assert entries[4]["guide"]["cell_name"] == "centre"
    by_frame = {e["frame_index"]: e for e in entries}
    assert by_frame[25]["exposure"] == "dark" and by_frame[27]["exposure"] == "bright"
    assert all(e["exposure"] == "ok" for i, e in by_frame.items() if i not in DARK + BRIGHT)
    assert min(e["sharpness"] for e in entries) >= 10
    assert all(e["timestamp"].endswith("Z") for e in entries)


def test_capture_video_sampling_and_limits(clip, tmp_path):
    out = tmp_path / "data"
    cfg = CaptureConfig(
        out,
        ("ball",),
        source=str(clip),
        preview=False,
        every_ms=300,
        max_frames=5,
        guide=GuideConfig(2, 2, ("upright",)),
        quality=QualityConfig(min_sharpness=10, min_change=0.01),
    )
    summary = run_capture(cfg, notify=lambda s: None)
    entries = assert_consistent(out)
    assert [e["frame_index"] for e in entries] == [0, 3, 6, 9, 12]
    assert summary.candidates == 5 and summary.stopped == "--max-frames 5 reached"
    assert [e["guide"]["cell_name"] for e in entries] == [
        "top-left",
        "top-right",
        "bottom-left",
        "bottom-right",
        "top-left",
    ]
    # --count stops after N kept images; gates off keep the blurred frame 7
    out2 = tmp_path / "data2"
    run_capture(
        CaptureConfig(
            out2,
            ("ball",),
            source=str(clip),
            preview=False,
            every_ms=0,
            count=9,
            quality=QualityConfig(0, 0),
        ),
        notify=lambda s: None,
    )
    assert [e["frame_index"] for e in assert_consistent(out2)] == list(range(9))
    # A threshold above every frame: everything rejected, and the summary says what to do.
    strict = run_capture(
        CaptureConfig(
            tmp_path / "data3",
            ("ball",),
            source=str(clip),
            preview=False,
            every_ms=0,
            quality=QualityConfig(min_sharpness=1e6),
        ),
        notify=lambda s: None,
    )
    assert strict.rejected["blurry"] == 30 and not strict.kept
    assert any(
        "lower --min-sharpness" in line and "median sharpness" in line for line in strict.lines()
    )


def test_capture_png_and_label_list(clip, tmp_path):
    out = tmp_path / "data"
    r = run_cli(
        "capture",
        "--out",
        str(out),
        "--labels",
        "cup,ball",
        "--label",
        "ball",
        "--source",
        str(clip),
        "--no-preview",
        "--count",
        "3",
        "--format",
        "png",
        "--grid",
        "1x3",
    )
    assert r.returncode == 0, r.stderr
    entries = assert_consistent(out)
    assert [e["label"] for e in entries] == ["ball"] * 3
    assert all(e["path"].endswith(".png") for e in entries)
    assert [e["guide"]["cell_name"] for e in entries] == ["left", "centre", "right"]


@pytest.mark.parametrize(
    "args, message, code",
    [
        (
            ["--source", "no/such/clip.mp4"],
            "must be a camera index, a stream URL, a video file or a folder",
            2,
        ),
        (["--source", "7"], "Cannot open camera 7", 1),
        (
            ["--source", "http://127.0.0.1:9/none.mjpg"],
            "Cannot open the stream http://127.0.0.1:9/none.mjpg",
            1,
        ),
        (["--grid", "3by3"], "ROWSxCOLS", 2),
        (["--label", "a/b"], "cannot be a folder name", 1),
    ],
)
def test_capture_bad_input_is_one_line(tmp_path, args, message, code):
    base = {"--label": "x", "--source": "0"}
    argv = ["capture", "--out", str(tmp_path / "d"), "--no-preview"]
    for k, v in base.items():
        if k not in args:
            argv += [k, v]
    r = run_cli(*argv, *args)
    assert r.returncode == code, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert message in lines[-1]
    if "http" not in message:  # FFmpeg itself logs the refused connection
        assert len(lines) == 1, r.stderr


def test_capture_bad_video_and_out_is_a_file(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    r = run_cli(
        "capture",
        "--out",
        str(tmp_path / "d"),
        "--label",
        "x",
        "--source",
        str(fake),
        "--no-preview",
    )
    assert r.returncode == 1 and f"Cannot open the video {fake}" in r.stderr
    clip = write_video(tmp_path / "c.avi", 3)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli(
        "capture", "--out", str(blocker), "--label", "x", "--source", str(clip), "--no-preview"
    )
    assert r.returncode == 1 and "exists and is not a folder" in r.stderr


def test_guide_overlay_highlights_target_cell():
    base = np.zeros((240, 320, 3), np.uint8)
    step = GuideConfig(3, 3).step(5)  # the 6th position: middle-right, upright
    assert (step.cell, step.cell_name, step.angle) == ((1, 2), "middle-right", "upright")
    out = draw_guide(base, step)
    assert out is not base and out.shape == base.shape
    assert base.max() == 0, "drawing must not touch the live frame"
    x0, y0, x1, y1 = cell_rect(base.shape, (3, 3), (1, 2))
    assert (x0, y0, x1, y1) == (213, 80, 320, 160)
    inner = out[y0 + 10 : y1 - 10, x0 + 10 : x1 - 10]
    assert (inner.reshape(-1, 3).any(axis=1)).mean() > 0.9, "the highlighted cell is tinted"
    other = out[10:70, 10:100]  # inside top-left cell, away from the grid lines
    assert other.max() == 0, "other cells are not tinted"
    assert out[80, 50].max() > 0 and out[40, 106].max() > 0, "grid lines drawn"
    cov = np.zeros((3, 3), np.int64)
    cov[0, 0] = 2
    status = draw_status(out.copy(), "ball", {"ball": 2, "cup": 0}, cov, burst=True, message="kept")
    assert (status != out).any(axis=2).sum() > 200
    assert (status[:40, :200] != out[:40, :200]).any(), "label text drawn top-left"


def test_guide_names_and_grid_parsing():
    assert parse_grid("2x4") == (2, 4)
    with pytest.raises(ConfigError, match="1 to 8"):
        parse_grid("0x3")
    assert cell_name(0, 0, 3, 3) == "top-left" and cell_name(2, 1, 3, 3) == "bottom-centre"
    assert cell_name(1, 3, 4, 5) == "r2c4"
    g = GuideConfig(1, 2, ("upright", "upside down"), shots_per_step=2)
    assert [g.step(k).prompt() for k in range(0, 10, 2)] == [
        "left, upright",
        "right, upright",
        "left, upside down",
        "right, upside down",
        "left, upright",
    ]
    with pytest.raises(ConfigError):
        QualityConfig(min_change=1.5)


def test_docs_python_example_runs(tmp_path, monkeypatch):
    """The Python example of docs/capture.md, on a phone-style .mp4 (mp4v) the test writes."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "capture.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    write_video(tmp_path / "clip.mp4", 20, fourcc="mp4v")
    exec(compile(code, "docs/capture.md", "exec"), {})
    entries = assert_consistent(tmp_path / "data")
    assert [e["frame_index"] for e in entries] == [
        0,
        3,
        5,
        8,
        10,
        13,
        15,
        18,
    ]  # every 250 ms at 10 fps
    assert (tmp_path / "coverage.png").stat().st_size > 1000
