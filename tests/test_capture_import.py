"""Folder import: photos are validated, copied untouched and listed; bad files are reported, not copied."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from conftest import run_cli, shared_path
from test_capture_helpers import assert_consistent, frame

from edgeposinv.capture import CaptureConfig, QualityConfig, SourceError, run_capture
from edgeposinv.data.dataset import load_images, scan_dataset, split_indices


def _photos(folder, n, seed=0):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"IMG_{i:03d}.{'png' if i % 2 else 'jpeg'}"), frame(i, rng))
    return folder


def test_folder_import_reports_corrupt_and_non_image(tmp_path):
    photos = _photos(tmp_path / "phone", 4)
    good = sorted(photos.iterdir())
    (photos / "broken.jpg").write_bytes(good[0].read_bytes()[:200] + b"\x00" * 50)  # truncated JPEG
    (photos / "notes.txt").write_text("not a photo")
    (photos / "empty.png").write_bytes(b"")
    out = tmp_path / "data"
    r = run_cli("capture", "--out", str(out), "--label", "mug", "--source", str(photos))
    assert r.returncode == 0, r.stderr
    assert "kept 4 image(s)" in r.stdout
    assert "skipped 3 file(s), not copied:" in r.stdout
    assert f"{photos / 'broken.jpg'}: corrupt or not decodable" in r.stdout
    assert f"{photos / 'notes.txt'}: not an image file (extension .txt" in r.stdout
    assert f"{photos / 'empty.png'}: corrupt or not decodable" in r.stdout
    assert "no display" not in r.stdout, "a folder import never wants a window"
    entries = assert_consistent(out)
    assert len(entries) == 4
    copied = {e["original"]: (out / e["path"]).read_bytes() for e in entries}
    assert copied == {p.name: p.read_bytes() for p in good}, (
        "imported files are byte-identical copies"
    )
    assert {e["path"].rsplit(".", 1)[1] for e in entries} == {"jpg", "png"}  # .jpeg becomes .jpg
    assert all(
        e["source"] == {"kind": "folder", "id": "phone"} and "guide" not in e for e in entries
    )
    assert all(e["device"]["width"] == 160 and e["device"]["height"] == 120 for e in entries)


def test_import_real_rps_photos_into_training_loader(tmp_path):
    """Real Raspberry Pi photos: import two class folders, then the training loader reads them."""
    src = shared_path("datasets", "rps_pi_small")
    out = tmp_path / "data"
    kept = {}
    for label in ("paper", "rock", "scissors"):
        folder = tmp_path / "raw" / label
        folder.mkdir(parents=True)
        for p in sorted((src / label).glob("*.png"))[:12]:
            shutil.copy(p, folder / p.name)
        summary = run_capture(
            CaptureConfig(out, (label,), source=str(folder), quality=QualityConfig()),
            notify=lambda s: None,
        )
        assert sum(summary.kept.values()) + sum(summary.rejected.values()) == 12
        assert summary.kept[label] >= 9, (
            f"the gates rejected most real {label} photos: {summary.lines()}"
        )
        kept[label] = summary.kept[label]
    entries = assert_consistent(out)
    assert len(entries) == sum(kept.values())
    assert all((e["device"]["width"], e["device"]["height"]) == (300, 200) for e in entries)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1)), (
        "numbering continues across runs"
    )

    index = scan_dataset(out)
    assert index.labels == ("paper", "rock", "scissors")
    assert len(index.records) == len(entries)
    sessions = {e["path"]: e["session"] for e in entries}
    assert all(r.session == sessions[r.path.relative_to(out).as_posix()] for r in index.records)
    assert len({r.session for r in index.records}) == 3
    loaded = load_images(index, 32, show_progress=False)
    assert loaded.images.shape == (len(entries), 32, 32, 3) and not loaded.skipped
    # One import session per label: a grouped split must not hide a class from one side.
    train, val = split_indices(loaded.label_ids, 0.34, seed=0, groups=loaded.sessions)
    assert len(train) + len(val) == len(entries)
    assert set(loaded.label_ids[train]) == set(loaded.label_ids[val]) == {0, 1, 2}


def test_stream_that_stops_delivering_frames(tmp_path):
    """An HTTP stream (a real local server) that ends: clear error naming it, frames kept."""
    import functools
    import http.server
    import threading

    from test_capture_helpers import write_video

    write_video(tmp_path / "live.avi", 20)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/live.avi"
    out = tmp_path / "data"
    try:
        with pytest.raises(SourceError) as info:
            run_capture(
                CaptureConfig(out, ("ball",), source=url, preview=False, every_ms=0),
                notify=lambda s: None,
            )
    finally:
        server.shutdown()
    msg = str(info.value)
    assert f"The stream {url} stopped delivering frames after 20 frame(s)" in msg
    entries = assert_consistent(out)
    assert len(entries) == 20 and f"20 image(s) kept in {out}" in msg
    assert entries[0]["source"] == {"kind": "stream", "id": url}
