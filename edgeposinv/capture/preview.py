"""The preview window (OpenCV highgui) and its keys; only used when a display is available."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

WINDOW = "edgeposinv capture"

#: key → action; shown in the window title bar and in `edgeposinv capture --help`.
KEYS = {
    ord(" "): "capture",
    ord("c"): "capture",
    ord("b"): "burst",
    ord("n"): "next",
    ord("."): "next",
    ord("p"): "previous",
    ord(","): "previous",
    ord("u"): "undo",
    8: "undo",
    ord("q"): "quit",
    27: "quit",
}
KEY_HELP = "space/c capture, b burst on/off, n/p next/previous label, u undo, q/Esc quit"


def display_available() -> tuple[bool, str]:
    """Whether a preview window can be shown, and why not."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False, "no display ($DISPLAY is not set)"
    return True, ""


class PreviewWindow:
    """A window that shows overlaid frames and returns the action of the key pressed."""

    def __init__(self) -> None:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)  # raises cv2.error without a GUI backend
        cv2.setWindowTitle(WINDOW, f"edgeposinv capture — {KEY_HELP}")

    def show(self, image_bgr: np.ndarray, wait_ms: int = 1) -> str | None:
        cv2.imshow(WINDOW, image_bgr)
        key = cv2.waitKey(wait_ms)
        if key < 0:
            return None
        if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return KEYS.get(key & 0xFF)

    def closed(self) -> bool:
        try:
            return cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        cv2.destroyWindow(WINDOW)
        cv2.waitKey(1)
