"""Shared fixtures: small datasets drawn in the test, the CLI in a subprocess, ../shared paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        help="Also run the tests marked slow (several trainings or conversions each).",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The everyday tier skips slow tests, saying how to run them; --run-slow runs them."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow tier: run with 'python -m pytest --run-slow'")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or a pytest skip (with the reason) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"{path} is not present (real device data lives in ../shared, outside the repo)"
        )
    return path


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m edgeposinv ARGS`` with this checkout first on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "edgeposinv", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


SHAPES = ("circle", "square", "triangle")


def draw_shape(
    kind: str, size: int, center: tuple[int, int], radius: int, rng: np.random.Generator
) -> np.ndarray:
    """An RGB image of one filled shape on a noisy light background."""
    img = np.full((size, size, 3), 210, np.uint8) + rng.integers(
        0, 30, (size, size, 3), dtype=np.uint8
    )
    color = tuple(int(v) for v in rng.integers(0, 90, 3))
    cx, cy = center
    if kind == "circle":
        cv2.circle(img, (cx, cy), radius, color, -1)
    elif kind == "square":
        cv2.rectangle(img, (cx - radius, cy - radius), (cx + radius, cy + radius), color, -1)
    else:
        pts = np.array([[cx, cy - radius], [cx - radius, cy + radius], [cx + radius, cy + radius]])
        cv2.fillPoly(img, [pts], color)
    return img


def make_shapes_dataset(
    root: Path,
    n_per_class: int = 40,
    size: int = 48,
    seed: int = 0,
    jitter_px: int = 3,
    radius: tuple[int, int] = (10, 15),
) -> Path:
    """Write ``root/<shape>/<i>.png``: centred filled shapes, one class per shape."""
    rng = np.random.default_rng(seed)
    for kind in SHAPES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            c = (
                size // 2 + int(rng.integers(-jitter_px, jitter_px + 1)),
                size // 2 + int(rng.integers(-jitter_px, jitter_px + 1)),
            )
            r = int(rng.integers(*radius))
            img = draw_shape(kind, size, c, r, rng)
            cv2.imwrite(str(root / kind / f"{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory) -> Path:
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="session")
def trained_run(shapes_dir, tmp_path_factory) -> Path:
    """A tiny model trained for a few epochs on the shapes (shared by export/evaluate tests)."""
    from edgeposinv.training.train import TrainConfig, train

    run_dir = tmp_path_factory.mktemp("runs") / "shapes"
    train(
        shapes_dir,
        run_dir,
        TrainConfig(image_size_px=32, epochs=8, batch_size=16, augment="none", seed=0),
        show_progress=False,
    )
    return run_dir


@pytest.fixture(scope="session")
def int8_model(trained_run, tmp_path_factory) -> Path:
    from edgeposinv.export.export import QuantSpec, export_run

    out = tmp_path_factory.mktemp("models") / "shapes_int8.tflite"
    export_run(trained_run, out, QuantSpec.int8())
    return out
