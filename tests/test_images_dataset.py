"""Decoding policy (EXIF, grayscale, RGBA, 16-bit), dataset scanning and splits."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest
from PIL import Image

from edgeposinv.data.dataset import load_images, scan_dataset, split_indices
from edgeposinv.data.images import read_rgb
from edgeposinv.errors import ConfigError, DatasetError
from edgeposinv.tflite.preprocess import center_square_crop, prepare


def test_exif_orientation_is_applied(tmp_path):
    # Stored 40 wide x 20 high, left quarter white; tag 6 = "rotate 90° clockwise to display".
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255
    pil = Image.fromarray(stored)
    exif = pil.getexif()
    exif[0x0112] = 6
    pil.save(tmp_path / "sideways.jpg", exif=exif, quality=95)

    rgb = read_rgb(tmp_path / "sideways.jpg")
    assert rgb.shape == (40, 20, 3)  # displayed upright: 20 wide x 40 high
    # After a clockwise turn, the stored left edge is the displayed top edge.
    assert rgb[:8].mean() > 200 and rgb[-8:].mean() < 50


def test_grayscale_rgba_and_16bit_become_8bit_rgb(tmp_path):
    gray = np.full((10, 12), 77, np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 2] = 200  # red in BGRA
    rgba[..., 3] = 10
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    deep = np.full((10, 12), 40000, np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)

    g, a, d = (read_rgb(tmp_path / n) for n in ("g.png", "a.png", "d.png"))
    for img in (g, a, d):
        assert img.dtype == np.uint8 and img.shape == (10, 12, 3)
    assert (g == 77).all()
    assert tuple(a[0, 0]) == (200, 0, 0)  # RGB order, alpha dropped
    assert (d == 40000 >> 8).all()


def test_center_crop_and_resize_policy():
    img = np.zeros((30, 50, 3), np.uint8)
    img[:, 10:40] = 255  # exactly the centre square
    assert (center_square_crop(img) == 255).all()
    out = prepare(img, 15)
    assert out.shape == (15, 15, 3) and (out == 255).all()
    up = prepare(np.full((4, 4, 3), 9, np.uint8), 16)
    assert up.shape == (16, 16, 3) and (up == 9).all()


def _write(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_bad_files_are_listed_in_one_warning_and_skipped(tmp_path, caplog):
    for label in ("a", "b"):
        for i in range(3):
            _write(tmp_path / label / f"{i}.png", np.full((8, 8, 3), 50 * i, np.uint8))
    (tmp_path / "a" / "empty.jpg").write_bytes(b"")
    (tmp_path / "a" / "notes.jpg").write_text("not a picture")
    good = (tmp_path / "b" / "0.png").read_bytes()
    (tmp_path / "b" / "cut.png").write_bytes(good[: len(good) // 3])
    (tmp_path / "b" / "readme.txt").write_text("hello")

    with caplog.at_level(logging.WARNING):
        data = load_images(scan_dataset(tmp_path), 8, show_progress=False)
    assert len(data.paths) == 6
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    for name in ("empty.jpg", "notes.jpg", "cut.png", "readme.txt"):
        assert name in text
    assert "Skipped 4" in text


def test_empty_class_and_single_class_are_errors(tmp_path):
    _write(tmp_path / "a" / "0.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DatasetError, match="at least 2"):
        scan_dataset(tmp_path)
    (tmp_path / "b").mkdir()
    with pytest.raises(DatasetError, match=r"No images in .*b"):
        scan_dataset(tmp_path)
    (tmp_path / "b" / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"No readable images in .*b"):
        load_images(scan_dataset(tmp_path), 8, show_progress=False)


def test_split_is_seeded_and_stratified():
    labels = np.repeat(np.arange(3), [30, 30, 60])
    tr1, va1 = split_indices(labels, 0.25, seed=3)
    tr2, va2 = split_indices(labels, 0.25, seed=3)
    tr3, _ = split_indices(labels, 0.25, seed=4)
    assert (tr1 == tr2).all() and (va1 == va2).all()
    assert not np.array_equal(tr1, tr3)
    counts = np.bincount(labels[va1]).tolist()
    assert counts[2] == 15 and sorted(counts[:2]) == [7, 8]  # 25% of each class, rounded
    assert set(tr1).isdisjoint(va1) and len(tr1) + len(va1) == 120
    with pytest.raises(ConfigError):
        split_indices(labels, 1.5, seed=0)


def test_split_keeps_capture_sessions_together(tmp_path):
    lines = []
    for label in ("a", "b"):
        for s in range(6):
            for i in range(4):
                rel = f"{label}/s{s}_{i}.png"
                _write(tmp_path / rel, np.full((8, 8, 3), 10 * s + i, np.uint8))
                lines.append(json.dumps({"path": rel, "label": label, "session": f"{label}-s{s}"}))
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    data = load_images(scan_dataset(tmp_path), 8, show_progress=False)
    assert all(s is not None for s in data.sessions)
    train_idx, val_idx = split_indices(data.label_ids, 0.25, seed=0, groups=data.sessions)
    train_sessions = {data.sessions[i] for i in train_idx}
    val_sessions = {data.sessions[i] for i in val_idx}
    assert train_sessions.isdisjoint(val_sessions)
    assert {data.labels[data.label_ids[i]] for i in val_idx} == {"a", "b"}
