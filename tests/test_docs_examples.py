"""Every Python example in README.md and docs/*.md runs, as a user would paste it into a script.

Each block runs in its own folder that holds what the examples name: ``models/mine.tflite``
(a real int8 model), the test sets ``test/`` and ``phone_photos/`` and a phone video
``clip.mp4`` (written here with OpenCV).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, draw_shape, make_shapes_dataset

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _examples() -> list:
    found = []
    for doc in DOCS:
        for i, match in enumerate(BLOCK.finditer(doc.read_text())):
            line = doc.read_text()[: match.start()].count("\n") + 1
            found.append(pytest.param(match.group(1), id=f"{doc.relative_to(REPO)}:{line}:{i}"))
    return found


def _write_clip(path: Path, frames: int = 40, size: int = 96) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (size, size))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for i in range(frames):
        centre = (20 + (i * 7) % (size - 40), 20 + (i * 5) % (size - 40))
        rgb = draw_shape("square", size, centre, 12, rng)
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture
def example_dir(int8_model, tmp_path) -> Path:
    (tmp_path / "models").mkdir()
    shutil.copyfile(int8_model, tmp_path / "models" / "mine.tflite")
    make_shapes_dataset(tmp_path / "test", n_per_class=6, size=48, seed=11)
    make_shapes_dataset(tmp_path / "phone_photos", n_per_class=6, size=48, seed=12, jitter_px=10)
    _write_clip(tmp_path / "clip.mp4")
    return tmp_path


def test_the_docs_have_python_examples():
    assert len(_examples()) >= 2


@pytest.mark.parametrize("code", _examples())
def test_documented_python_example_runs(code, example_dir):
    script = example_dir / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=example_dir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
