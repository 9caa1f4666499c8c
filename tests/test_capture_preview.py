"""The preview loop's keys (capture, burst, labels, undo, quit) with a scripted stand-in window.

No display exists here, so the OpenCV window is replaced by an object that returns the
key actions a user would press; frames, overlay drawing, gates and files are all real.
"""

from __future__ import annotations

import cv2
import numpy as np
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
    window = ScriptedWindow({0: "capture", 2: "capture", 3: "undo", 4: "next", 5: "capture",
                             6: "burst", 9: "burst", 10: "previous", 11: "quit"})
    cfg = CaptureConfig(out, ("ball", "cup"), source=str(clip), every_ms=100, quality=QualityConfig(10, 0.01))
    summary = run_capture(cfg, notify=lambda s: None, window=window)
    assert summary.mode == "preview" and summary.stopped == "quit key" and window.closed_called
    assert summary.undone == 1 and dict(summary.kept) == {"ball": 1, "cup": 4}
    entries = assert_consistent(out)  # the undone image is gone from disk and manifest
    assert [(e["label"], e["frame_index"]) for e in entries] == [
        ("ball", 0), ("cup", 5), ("cup", 6), ("cup", 7), ("cup", 8)]
    assert [e["seq"] for e in entries] == [1, 3, 4, 5, 6]
    assert [e["guide"]["cell_name"] for e in entries[1:]] == ["top-left", "top-centre", "top-right", "middle-left"]
    assert len(window.shown) == 12  # quit at frame 11 stopped the loop
    # Frame 8: cup has 3 kept images, so the guide highlights middle-left (rows y 40-80, x 0-53).
    cap = cv2.VideoCapture(str(clip))
    raw = [cap.read()[1] for _ in range(9)][8].astype(int)
    shown = window.shown[8].astype(int)
    assert cell_rect(shown.shape, (3, 3), (1, 0)) == (0, 40, 53, 80)
    tinted = np.abs(shown[60:78, 5:48] - raw[60:78, 5:48]).mean()
    untouched = np.abs(shown[60:78, 112:155] - raw[60:78, 112:155]).mean()  # middle-right
    assert tinted > 30 and untouched < 1, (tinted, untouched)
