"""Capture interrupted by real signals and by a full disk: the dataset stays consistent."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO
from test_capture_helpers import assert_consistent, write_video


def _capture_cmd(out, clip, *extra):
    return [
        sys.executable,
        "-m",
        "edgeposinv",
        "capture",
        "--out",
        str(out),
        "--label",
        "ball",
        "--source",
        str(clip),
        "--no-preview",
        "--every-ms",
        "0",
        "--min-change",
        "0",
        *extra,
    ]


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO), "DISPLAY": ""}


def _hashes(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.glob("*/*")
    }


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_capture_then_resume(tmp_path, signum):
    clip = write_video(tmp_path / "long.avi", 600, size=(320, 240))
    out = tmp_path / "data"
    proc = subprocess.Popen(
        _capture_cmd(out, clip),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.is_file() and manifest.read_bytes().count(b"\n") >= 15:
            break
        time.sleep(0.005)
    assert proc.poll() is None, (
        "capture finished before it could be interrupted; make the video longer"
    )
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    assert f"{signal.Signals(signum).name} received" in stdout and "Traceback" not in stderr
    first = assert_consistent(out)
    assert 15 <= len(first) < 600, "the run was really interrupted"
    before = _hashes(out)

    # A second run continues the numbering in a new session and overwrites nothing.
    r = subprocess.run(
        _capture_cmd(out, clip, "--count", "5"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    entries = assert_consistent(out)
    assert len(entries) == len(first) + 5
    new = entries[len(first) :]
    assert len({e["session"] for e in new}) == 1 and new[0]["session"] != first[0]["session"]
    last_seq = max(e["seq"] for e in first)
    assert [e["seq"] for e in new] == list(range(last_seq + 1, last_seq + 6))
    after = _hashes(out)
    assert all(after[k] == v for k, v in before.items()), "an earlier image was changed"
    # The guide goes on where the first session stopped for this label.
    assert new[0]["guide"]["cell"] == list(divmod(len(first) % 9, 3))


def test_full_disk_stops_with_message_and_keeps_images(tmp_path):
    """RLIMIT_FSIZE makes writes past a size fail with EFBIG, as a full disk fails them."""
    clip = write_video(tmp_path / "clip.avi", 40)
    out = tmp_path / "data"

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (9000, 9000))

    r = subprocess.run(
        _capture_cmd(out, clip),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    err = r.stderr.strip().splitlines()[-1]
    assert (
        "Cannot write" in err
        and "manifest.jsonl: No space left on device" in err
        and "Capture stopped" in err
    ), err
    assert "Traceback" not in r.stderr
    entries = assert_consistent(out)
    assert 15 <= len(entries) < 25  # 9000 bytes hold ~20 manifest lines; images are ~6.5 KB
    assert f"{len(entries)} image(s) kept in this session" in err
