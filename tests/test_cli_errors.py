"""The CLI: instant help without TensorFlow, one-line errors, exit codes, no partial outputs."""

from __future__ import annotations

import shutil
import textwrap

import cv2
import numpy as np
import pytest

from tests.conftest import run_cli


def _command_paths() -> list[list[str]]:
    """Every command and sub-command of the CLI, e.g. ["train"], ["dataset", "stats"]."""
    import click

    from edgeposinv.cli import cli

    paths = []
    for name, command in sorted(cli.commands.items()):
        paths.append([name])
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in sorted(command.commands)]
    return paths


COMMANDS = _command_paths()


def _blocker(tmp_path, modules=("tensorflow", "tf_keras")):
    """A sitecustomize that makes importing ``modules`` fail, to prove they are never imported."""
    d = tmp_path / "block"
    d.mkdir(exist_ok=True)
    (d / "sitecustomize.py").write_text(
        textwrap.dedent(f"""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {tuple(modules)!r}:
                    raise ImportError(f"blocked import of {{name}} (test)")
                return None
        sys.meta_path.insert(0, _Block())
    """)
    )
    return str(d)


@pytest.mark.parametrize(
    "args", [["--help"], *([*c, "--help"] for c in COMMANDS)], ids=lambda a: " ".join(a)
)
def test_help_runs_without_tensorflow(args, tmp_path):
    from tests.conftest import REPO

    result = run_cli(*args, env={"PYTHONPATH": f"{_blocker(tmp_path)}:{REPO}"})
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_missing_train_extra_is_one_line(tmp_path, shapes_dir):
    from tests.conftest import REPO

    result = run_cli(
        "train",
        str(shapes_dir),
        "--out",
        str(tmp_path / "run"),
        env={"PYTHONPATH": f"{_blocker(tmp_path)}:{REPO}"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "pip install 'edgeposinv[train]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def _dataset(root, bad=None):
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(20):
            cv2.imwrite(
                str(root / label / f"{i}.png"),
                np.full((16, 16, 3), 40 * (label == "dog") + i, np.uint8),
            )
    return root


def _one_line_error(result, *needles, code=1):
    assert result.returncode == code, (result.stdout, result.stderr)
    err = result.stderr.strip().splitlines()
    assert err and err[-1].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in err[-1]


def test_empty_class_folder_is_an_error_and_writes_nothing(tmp_path):
    data = _dataset(tmp_path / "data")
    (data / "bird").mkdir()
    result = run_cli("train", str(data), "--out", str(tmp_path / "run"), "--epochs", "1")
    _one_line_error(result, "No images in", "bird")
    assert not (tmp_path / "run").exists()


def test_unreadable_files_are_warned_and_skipped_by_train(tmp_path):
    data = _dataset(tmp_path / "data")
    (data / "cat" / "zero.jpg").write_bytes(b"")
    (data / "cat" / "text.jpg").write_text("this is not a jpeg")
    good = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))[1].tobytes()
    (data / "dog" / "corrupt.jpg").write_bytes(good[:40])
    result = run_cli(
        "train",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--image-size",
        "16",
        "--augment",
        "none",
    )
    assert result.returncode == 0, result.stderr
    warning = result.stderr[result.stderr.index("Skipped 3") :]
    for name in ("zero.jpg", "text.jpg", "corrupt.jpg"):
        assert name in warning
    assert (tmp_path / "run" / "model.keras").is_file()


def test_existing_run_is_not_overwritten_without_flag(tmp_path):
    data = _dataset(tmp_path / "data")
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    result = run_cli("train", str(data), "--out", str(run), "--epochs", "1")
    _one_line_error(result, "already exists", "--overwrite")
    assert (run / "keep.txt").read_text() == "mine"


def test_usage_errors_exit_2(tmp_path):
    result = run_cli("train", str(tmp_path), "--out", str(tmp_path / "r"), "--augment", "wild")
    assert result.returncode == 2
    result = run_cli("evaluate", "m.tflite", "--report", str(tmp_path / "r"))
    assert result.returncode == 2 and "--set" in result.stderr


def test_bad_option_value_is_a_one_line_error(tmp_path):
    data = _dataset(tmp_path / "data")
    result = run_cli("train", str(data), "--out", str(tmp_path / "r"), "--val-split", "1.5")
    _one_line_error(result, "--val-split", "1.5", code=2)


def test_qat_with_an_architecture_tfmot_cannot_wrap_fails_before_training(tmp_path):
    data = _dataset(tmp_path / "data")
    result = run_cli(
        "train",
        str(data),
        "--out",
        str(tmp_path / "r"),
        "--arch",
        "mobilenet_v3_small",
        "--weights",
        "none",
        "--qat",
    )
    _one_line_error(result, "--qat", "mobilenet_v3_small", code=2)
    assert "--arch mobilenet_v2" in result.stderr and "--quantize int8" in result.stderr
    assert not (tmp_path / "r").exists()


def test_evaluate_set_with_unknown_labels_lists_both(int8_model, tmp_path):
    data = _dataset(tmp_path / "data")
    result = run_cli(
        "evaluate", str(int8_model), "--set", f"wild={data}", "--report", str(tmp_path / "rep")
    )
    _one_line_error(result, "not model labels", "cat", "circle")
    assert not (tmp_path / "rep").exists()


def test_evaluate_truncated_model_and_bad_set_spec(int8_model, shapes_dir, tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(int8_model.read_bytes()[:2000])
    result = run_cli(
        "evaluate", str(broken), "--set", f"a={shapes_dir}", "--report", str(tmp_path / "rep")
    )
    _one_line_error(result, "broken.tflite")
    result = run_cli(
        "evaluate", str(int8_model), "--set", str(shapes_dir), "--report", str(tmp_path / "rep")
    )
    assert result.returncode == 2, result.stderr  # a usage error
    assert "Traceback" not in result.stderr
    assert "Invalid value for '--set': expected NAME=DIR" in result.stderr
    assert not (tmp_path / "rep").exists()


def test_export_refuses_existing_model_and_writes_atomically(trained_run, tmp_path):
    target = tmp_path / "m.tflite"
    target.write_bytes(b"precious")
    result = run_cli("export", str(trained_run), "--out", str(target))
    _one_line_error(result, "already exists")
    assert target.read_bytes() == b"precious"
    result = run_cli("export", str(tmp_path), "--out", str(tmp_path / "x.tflite"))
    _one_line_error(result, "not a training run folder")
    assert not (tmp_path / "x.tflite").exists()


def test_cli_full_path_train_export_evaluate(shapes_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(shapes_dir, data)
    r = run_cli(
        "train",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--image-size",
        "32",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--augment",
        "default",
    )
    assert r.returncode == 0, r.stderr
    r = run_cli("export", str(tmp_path / "run"), "--out", str(tmp_path / "m.tflite"))
    assert r.returncode == 0, r.stderr
    assert "Parity" in r.stdout and (tmp_path / "m.json").is_file()
    r = run_cli(
        "evaluate",
        str(tmp_path / "m.tflite"),
        "--set",
        f"train={data}",
        "--report",
        str(tmp_path / "rep"),
    )
    assert r.returncode == 0, r.stderr
    assert "report.html" in r.stdout and (tmp_path / "rep" / "report.json").is_file()
