"""The runtime install (no TensorFlow) runs the whole evaluation.

Here a ``sitecustomize`` on PYTHONPATH makes ``import tensorflow`` (and Keras) raise in the
CLI process and in every worker it spawns, and records any attempt. .ci/runtime_only.sh
runs this file again in a virtualenv built with a plain ``pip install .``, against a model
built in the main environment (``EDGEPOSINV_RUNTIME_MODEL``).
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, make_shapes_dataset, run_cli

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, os, sys

    class _NoTensorFlow(importlib.abc.MetaPathFinder):
        blocked = ("tensorflow", "tf_keras", "keras", "tensorflow_model_optimization")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                with open(os.environ["EDGEPOSINV_TF_ATTEMPTS"], "a") as f:
                    f.write(name + "\\n")
                raise ImportError(f"{name} is blocked: this process must run without TensorFlow")
            return None

    sys.meta_path.insert(0, _NoTensorFlow())
    """
)


@pytest.fixture
def runtime_model(request) -> Path:
    """A model built elsewhere (runtime-only CI) or by the main environment's fixtures."""
    path = os.environ.get("EDGEPOSINV_RUNTIME_MODEL")
    if path:
        return Path(path)
    return request.getfixturevalue("int8_model")


def _blocked_env(tmp_path: Path) -> dict:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(BLOCKER)
    return {
        "PYTHONPATH": f"{hook}{os.pathsep}{REPO}",
        "EDGEPOSINV_TF_ATTEMPTS": str(tmp_path / "attempts.txt"),
    }


def test_the_hook_really_blocks_tensorflow(tmp_path):
    import subprocess

    env = {**os.environ, **_blocked_env(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "blocked" in done.stderr
    assert (tmp_path / "attempts.txt").read_text().split() == ["tensorflow"]


def test_evaluate_end_to_end_without_tensorflow(tmp_path, runtime_model):
    data = make_shapes_dataset(tmp_path / "data", n_per_class=6, size=48, seed=11)
    env = _blocked_env(tmp_path)
    report = tmp_path / "report"
    done = run_cli(
        "evaluate",
        str(runtime_model),
        "--set",
        f"pub={data}",
        "--report",
        str(report),
        "--threads",
        "2",
        "--sweep-position",
        "pub",
        "--grid",
        "3x3",
        "--shift-consistency",
        "pub",
        "--sweep-rotation",
        "pub",
        "--rotation-step",
        "90",
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "attempts.txt").exists(), (tmp_path / "attempts.txt").read_text()
    result = json.loads((report / "report.json").read_text())
    assert result["sets"]["pub"]["n"] == 18
    assert result["throughput"]["workers"] == 2
    assert len(result["position_sweep"]["accuracy"]) == 3
    assert result["rotation_sweep"]["angles_deg"] == [-180.0, -90.0, 0.0, 90.0, 180.0]
    assert result["shift_consistency"]["pairs"] == 18
    assert (report / "report.html").stat().st_size > 10_000
    rows = (report / "predictions.csv").read_text().splitlines()
    assert len(rows) == 1 + 18
