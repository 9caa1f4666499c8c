"""Calibration sets: stratified over sessions and guide cells, provenance, bad files, counts."""

from __future__ import annotations

import json
import logging
from collections import Counter

import cv2
import numpy as np
import pytest

from edgeposinv.data.calibration import CalibrationBuildConfig, build_calibration_set, check_count
from edgeposinv.errors import ConfigError, ExportError, OutputExistsError

SESSIONS = ("s1", "s2", "s3", "s4")
CELLS = ("top-left", "bottom-right")


def _captured_dataset(root, per_group=3):
    """Two classes, 4 sessions x 2 guide cells x ``per_group`` images each, with a manifest."""
    rng = np.random.default_rng(0)
    lines = []
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for s in SESSIONS:
            for c_i, cell in enumerate(CELLS):
                for k in range(per_group):
                    name = f"{s}_{c_i}{k:02d}.png"
                    cv2.imwrite(
                        str(root / label / name), rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
                    )
                    lines.append(
                        json.dumps(
                            {
                                "path": f"{label}/{name}",
                                "label": label,
                                "session": s,
                                "guide": {"grid": [2, 2], "cell": [c_i, c_i], "cell_name": cell},
                            }
                        )
                    )
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_build_spreads_over_sessions_and_cells(tmp_path):
    data = _captured_dataset(tmp_path / "data")
    (data / "a" / "s1_broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    out = tmp_path / "calibration" / "phone"
    result = build_calibration_set(data, out, CalibrationBuildConfig(per_class=8, seed=1))
    assert result.per_label == {"a": 8, "b": 8} and result.n_images == 16
    manifest = json.loads((out / "calibration.json").read_text())
    assert manifest["stratified_by"] == ["label", "session", "guide cell"] and manifest["seed"] == 1
    for label in ("a", "b"):
        picked = [im for im in manifest["images"] if im["label"] == label]
        # 8 images over 4 sessions x 2 cells: one from every (session, cell) group
        assert Counter((im["session"], im["cell"]) for im in picked) == Counter(
            {(s, c): 1 for s in SESSIONS for c in CELLS}
        )
        for im in picked:
            assert (out / im["path"]).read_bytes() == (data / im["source"]).read_bytes()
    assert all(im["source"] != "a/s1_broken.jpg" for im in manifest["images"])
    again = build_calibration_set(
        data, tmp_path / "again", CalibrationBuildConfig(per_class=8, seed=1)
    )
    assert again.n_images == 16
    assert (
        json.loads((tmp_path / "again" / "calibration.json").read_text())["images"]
        == manifest["images"]
    )
    with pytest.raises(OutputExistsError, match="'overwrite'"):
        build_calibration_set(data, out, CalibrationBuildConfig(per_class=8))


def test_undecodable_images_are_listed_and_skipped(tmp_path, caplog):
    data = tmp_path / "data"
    for label in ("a", "b"):
        (data / label).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(data / label / f"{i}.png"), np.full((16, 16, 3), 40 * i, np.uint8))
    (data / "a" / "zero.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        result = build_calibration_set(data, tmp_path / "cal", CalibrationBuildConfig(per_class=4))
    assert result.per_label == {"a": 3, "b": 3}
    assert [p.name for p, _ in result.skipped] == ["zero.png"]
    assert "zero.png: empty file" in caplog.text


def test_counts_one_batch_is_an_error_under_100_a_warning(caplog):
    with pytest.raises(
        ExportError, match=r"has 7 decodable image\(s\), fewer than one batch \(8\)"
    ):
        check_count(7, 8, "calibration/x")
    with caplog.at_level(logging.WARNING):
        check_count(40, 8, "calibration/x")
    assert "only 40 images (100+ recommended)" in caplog.text and "clipped" in caplog.text
    caplog.clear()
    check_count(150, 8, "calibration/x")
    assert caplog.text == ""


def test_per_class_must_be_positive():
    with pytest.raises(
        ConfigError, match="'per_class' of CalibrationBuildConfig must be at least 1; got 0"
    ):
        CalibrationBuildConfig(per_class=0)


def test_cli_calibration_build(tmp_path):
    from conftest import run_cli

    data = _captured_dataset(tmp_path / "data", per_group=1)
    proc = run_cli(
        "calibration", "build", str(data), "--out", str(tmp_path / "cal"), "--per-class", "5"
    )
    assert proc.returncode == 0, proc.stderr
    assert "Wrote 10 images" in proc.stdout and "a: 5, b: 5" in proc.stdout
    proc = run_cli("calibration", "build", str(data), "--out", str(tmp_path / "cal"))
    assert (
        proc.returncode == 1 and "already exists" in proc.stderr and "Traceback" not in proc.stderr
    )
