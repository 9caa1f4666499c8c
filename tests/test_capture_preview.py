"""The preview loop's keys (capture, burst, labels, undo, quit) with a scripted stand-in window.

No display exists here, so the OpenCV window is replaced by an object that returns the
key actions a user would press; frames, overlay drawing, gates and files are all real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from conftest import REPO
from test_capture_helpers import assert_consistent, write_video

from edgeposinv.capture import CaptureConfig, QualityConfig, run_capture
from edgeposinv.capture.guide import cell_rect


class ScriptedWindow:
    def __init__(self, script: dict[int, str]) -> None:
        self.script, self.shown, self.n, self.closed_called = script, [], 0, False

    def show(self, image, wait_ms: int = 1):
        self.shown.append(image)
        action = self.script.get(self.n)
        self.n += 1
        return action

    def closed(self) -> bool:
        return False

    def close(self) -> None:
        self.closed_called = True


def test_preview_keys_with_scripted_window(tmp_path):
    clip = write_video(tmp_path / "clip.avi", 30)
    out = tmp_path / "data"
    window = ScriptedWindow(
        {
            0: "capture",
            2: "capture",
            3: "undo",
            4: "next",
            5: "capture",
            6: "burst",
            9: "burst",
            10: "previous",
            11: "quit",
        }
    )
    cfg = CaptureConfig(
        out, ("ball", "cup"), source=str(clip), every_ms=100, quality=QualityConfig(10, 0.01)
    )
    summary = run_capture(cfg, notify=lambda s: None, window=window)
    assert summary.mode == "preview" and summary.stopped == "quit key" and window.closed_called
    assert summary.undone == 1 and dict(summary.kept) == {"ball": 1, "cup": 4}
    entries = assert_consistent(out)  # the undone image is gone from disk and manifest
    assert [(e["label"], e["frame_index"]) for e in entries] == [
        ("ball", 0),
        ("cup", 5),
        ("cup", 6),
        ("cup", 7),
        ("cup", 8),
    ]
    assert [e["seq"] for e in entries] == [1, 3, 4, 5, 6]
    assert [e["guide"]["cell_name"] for e in entries[1:]] == [
        "top-left",
        "top-centre",
        "top-right",
        "middle-left",
    ]
    assert len(window.shown) == 12  # quit at frame 11 stopped the loop
    # Frame 8: cup has 3 kept images, so the guide highlights middle-left (rows y 40-80, x 0-53).
    cap = cv2.VideoCapture(str(clip))
    raw = [cap.read()[1] for _ in range(9)][8].astype(int)
    shown = window.shown[8].astype(int)
    assert cell_rect(shown.shape, (3, 3), (1, 0)) == (0, 40, 53, 80)
    tinted = np.abs(shown[60:78, 5:48] - raw[60:78, 5:48]).mean()
    untouched = np.abs(shown[60:78, 112:155] - raw[60:78, 112:155]).mean()  # middle-right
    assert tinted > 30 and untouched < 1, (tinted, untouched)


def _poll(check, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_real_preview_window_keys_under_xvfb(tmp_path):
    """The real OpenCV window on a virtual X display, with real key presses (xdotool)."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed (apt-get install xvfb xdotool); "
            "the preview loop is still covered by test_preview_keys_with_scripted_window"
        )
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        display = ":" + xvfb.stdout.readline().strip()
        env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(REPO)}
        clip = write_video(
            tmp_path / "clip.avi", 300
        )  # 30 s at 10 fps: the preview plays it in real time
        out = tmp_path / "data"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edgeposinv",
                "capture",
                "--out",
                str(out),
                "--labels",
                "ball,cup",
                "--source",
                str(clip),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def xdo(*args):
            return subprocess.run(
                ["xdotool", *args], env=env, capture_output=True, text=True, timeout=10
            ).stdout.strip()

        def lines():
            m = out / "manifest.jsonl"
            return m.read_text().count("\n") if m.is_file() else 0

        try:
            assert _poll(lambda: xdo("search", "--name", "edgeposinv capture") != ""), (
                "no preview window appeared"
            )
            win = xdo("search", "--name", "edgeposinv capture").splitlines()[0]
            xdo("key", "--window", win, "space")
            assert _poll(lambda: lines() == 1)
            xdo("key", "--window", win, "n")
            time.sleep(0.3)
            xdo("key", "--window", win, "space")
            assert _poll(lambda: lines() == 2)
            xdo("key", "--window", win, "u")
            assert _poll(lambda: lines() == 1)
            xdo("key", "--window", win, "q")
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, stderr
        assert (
            "(preview, video" in stdout and "stopped: quit key" in stdout and "undone: 1" in stdout
        )
        entries = assert_consistent(out)
        assert [e["label"] for e in entries] == ["ball"]
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
        xvfb.stdout.close()
