"""Helpers for the capture tests (videos written with real OpenCV, manifest checks), and their tests."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

W, H, FPS = 160, 120, 10.0
#: Circle centres that walk around the frame, so consecutive frames differ clearly.
POSITIONS = [(30 + 50 * (k % 3), 25 + 35 * ((k // 3) % 3)) for k in range(9)]


def frame(i: int, rng: np.random.Generator, radius: int = 15) -> np.ndarray:
    """A light noisy background with a dark circle at the i-th position (BGR)."""
    img = (np.full((H, W, 3), 190, np.int16) + rng.integers(-12, 13, (H, W, 3))).astype(np.uint8)
    cv2.circle(img, POSITIONS[i % len(POSITIONS)], radius, (40, 60, 180 - (i * 7) % 120), -1)
    return img


def write_video(
    path: Path,
    n_frames: int,
    blurred=(),
    repeated=(),
    dark=(),
    bright=(),
    seed: int = 0,
    size: tuple[int, int] = (W, H),
    fourcc: str = "MJPG",
) -> Path:
    """An MJPG .avi: moving circle; ``blurred`` frames heavily blurred, ``repeated`` copy the previous."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.name} here"
    prev = None
    for i in range(n_frames):
        if i in repeated and prev is not None:
            img = prev
        elif i in dark:
            img = np.full((H, W, 3), 6, np.uint8)
            cv2.circle(img, POSITIONS[i % 9], 8, (255, 255, 255), -1)
        elif i in bright:
            img = np.full((H, W, 3), 250, np.uint8)
            cv2.circle(img, POSITIONS[i % 9], 8, (0, 0, 0), -1)
        else:
            img = frame(i, rng)
            if i in blurred:
                img = cv2.GaussianBlur(img, (0, 0), 8)
        if img.shape[:2] != (size[1], size[0]):
            img = cv2.resize(img, size)
        writer.write(img)
        prev = img
    writer.release()
    return path


def manifest(root: Path) -> list[dict]:
    text = (root / "manifest.jsonl").read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "manifest must end with a complete line"
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_consistent(root: Path) -> list[dict]:
    """Every listed image exists and decodes; every image file is listed; no temp files."""
    entries = manifest(root)
    listed = [e["path"] for e in entries]
    assert len(listed) == len(set(listed)), "a path is listed twice"
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*") if p.is_file())
    assert sorted(listed) == on_disk
    for rel in listed:
        assert cv2.imread(str(root / rel)) is not None, f"{rel} is not a complete image"
    return entries


def test_frame_helper_is_sharp_and_distinct():
    rng = np.random.default_rng(1)
    from edgeposinv.capture.quality import change, sharpness, thumbnail, to_gray

    a, b = to_gray(frame(0, rng)), to_gray(frame(1, rng))
    assert sharpness(a) > 10 and change(thumbnail(a), thumbnail(b)) > 0.01


def test_manifest_helper_reads_lines(tmp_path):
    (tmp_path / "manifest.jsonl").write_text('{"path": "a/x.jpg"}\n')
    assert manifest(tmp_path) == [{"path": "a/x.jpg"}]
