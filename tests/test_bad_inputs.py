"""The catalogue of bad inputs and faults (issue #16): one-line errors, nothing lost.

Every case runs a real command on real files — tiny datasets drawn here, a tiny model
trained and exported once per module — and asserts the exit code (1 for a bad input, 2
for a bad option, 128 + N for a signal), exactly one ``Error:`` line naming what is wrong
and no traceback, and that nothing that existed before changed (the whole tree is hashed
before and after; an error adds no file either). Commands run in-process through click's
runner, except the signal cases, which need a real process to kill. Read-only folders and
a full disk are real tmpfs mounts (skipped, with the reason, where mounting is refused).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from tests.test_device_with_fake_adb import fake_adb  # noqa: F401 - a fixture used below


# -- helpers -------------------------------------------------------------------------------
def make_data(root: Path, labels=("cat", "dog"), n: int = 10, size: int = 16) -> Path:
    """``root/<label>/<i>.png``: distinct small images, darker for the first label."""
    rng = np.random.default_rng(len(str(root)))
    for k, label in enumerate(labels):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = rng.integers(0, 80, (size, size, 3), dtype=np.uint8) + np.uint8(120 * k)
            cv2.imwrite(str(root / label / f"{i:02d}.png"), img)
    return root


def write_manifest(data: Path, lines: list[bytes | str | dict]) -> None:
    out = []
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line)
        out.append(line.encode("utf-8") if isinstance(line, str) else line)
    (data / "manifest.jsonl").write_bytes(b"\n".join(out) + b"\n")


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path → (sha256 or 'dir' / 'link', mode) of everything under ``root``."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link:" + os.readlink(p), 0)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = (hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(st.st_mode))
    return out


def run(*args) -> object:
    """``edgeposinv ARGS`` in this process; logging goes to the runner's stderr."""
    from edgeposinv.cli import cli

    for handler in logging.root.handlers[:]:
        logging.root.removeHandler(handler)
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)


def error_line(result) -> str:
    """The one ``Error:`` line of a failed command (asserting there is exactly one)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@dataclass
class Case:
    args: list
    code: int
    needles: tuple[str, ...] = ()
    #: paths (relative to tmp_path) the command may create or change; ``None``: anything
    may_change: tuple[str, ...] | None = ()
    check: Callable[[object], None] | None = None
    stderr_needles: tuple[str, ...] = field(default_factory=tuple)
    #: files a success may only append to (their old bytes stay a prefix)
    grows: tuple[str, ...] = ()


class Fx:
    """Lazy access to the module's expensive fixtures (a case asks only for what it needs)."""

    def __init__(self, request, tmp: Path) -> None:
        self.request, self.tmp = request, tmp

    def data(self, name: str = "data", **kw) -> Path:
        return make_data(self.tmp / name, **kw)

    def run_copy(self, name: str = "run") -> Path:
        src = self.request.getfixturevalue("tiny_run")
        dst = self.tmp / name
        shutil.copytree(src, dst)
        return dst

    def model(self) -> Path:
        src = self.request.getfixturevalue("tiny_model")
        dst = self.tmp / "m.tflite"
        shutil.copyfile(src, dst)
        return dst

    def report(self, name: str = "report") -> Path:
        src = self.request.getfixturevalue("tiny_report")
        dst = self.tmp / name
        shutil.copytree(src, dst)
        return dst

    def ro(self) -> Path:
        """A read-only folder (a read-only tmpfs holding a small dataset ``ro/data``)."""
        return self.request.getfixturevalue("read_only_dir")

    def full(self) -> Path:
        return self.request.getfixturevalue("full_disk")


# -- module fixtures -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("tinydata") / "data", n=12)


@pytest.fixture(scope="module")
def tiny_run(tiny_data, tmp_path_factory) -> Path:
    from edgeposinv.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("tinyrun") / "run"
    train(
        tiny_data,
        out,
        TrainConfig(image_size_px=16, epochs=1, batch_size=4, augment="none"),
        show_progress=False,
    )
    return out


@pytest.fixture(scope="module")
def tiny_model(tiny_run, tmp_path_factory) -> Path:
    from edgeposinv.export.export import ExportOptions, export_run
    from edgeposinv.export.quantize import QuantSpec

    out = tmp_path_factory.mktemp("tinymodel") / "m.tflite"
    export_run(
        tiny_run,
        out,
        QuantSpec.float32(),
        options=ExportOptions(latency_runs=1, latency_warmup=0, compare_float32=False),
    )
    return out


@pytest.fixture(scope="module")
def tiny_report(tiny_model, tiny_data, tmp_path_factory) -> Path:
    from edgeposinv.evaluation.evaluate import evaluate

    out = tmp_path_factory.mktemp("tinyreport") / "report"
    evaluate(str(tiny_model), [("test", tiny_data)], out, show_progress=False)
    return out


def _mount(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or res.returncode})")


@pytest.fixture(scope="module")
def read_only_dir(tmp_path_factory):
    where = tmp_path_factory.mktemp("ro") / "mnt"
    _mount(where, "size=4m")
    make_data(where / "data", n=4)
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    print(f"read-only tmpfs at {where}")
    yield where
    subprocess.run(["umount", str(where)], check=False)


@pytest.fixture()
def full_disk(tmp_path):
    """A 256 KiB tmpfs with about 8 KiB left."""
    where = tmp_path / "full"
    _mount(where, "size=256k")
    with open(where / "filler", "wb") as f:
        try:
            f.write(b"\0" * (248 * 1024))
        except OSError:
            pass
    yield where
    subprocess.run(["umount", str(where)], check=False)


# -- the catalogue -------------------------------------------------------------------------
CASES: dict[str, Callable[[Fx], Case]] = {}


def case(group: str, name: str):
    def register(fn):
        CASES[f"{group}:{name}"] = fn
        return fn

    return register


# 2. Unwritable outputs: a parent that is a file, a read-only folder, a full disk.
UNWRITABLE_COMMANDS = {
    "stats-chart": lambda fx, out: ["dataset", "stats", fx.data(), "--chart", out / "c.png"],
    "stats-json": lambda fx, out: ["dataset", "stats", fx.data(), "--json", out / "s.json"],
    "augment-preview": lambda fx, out: ["augment-preview", fx.data(), "--out", out / "p.png"],
    "train": lambda fx, out: ["train", fx.data(), "--out", out / "run", "--epochs", "1"],
    "export": lambda fx, out: ["export", fx.run_copy(), "--out", out / "m.tflite"],
    "calibration-build": lambda fx, out: ["calibration", "build", fx.data(), "--out", out / "c"],
    "evaluate": lambda fx, out: [
        "evaluate",
        fx.model(),
        "--set",
        f"t={fx.data()}",
        "--report",
        out / "r",
    ],
    "compare": lambda fx, out: ["compare", fx.report("a"), fx.report("b"), "--out", out / "c"],
    "device-eval": lambda fx, out: [
        "device-eval",
        fx.model(),
        "--set",
        f"t={fx.data()}",
        "--report",
        out / "r",
    ],
    "device-pull": lambda fx, out: ["device-pull", out / "DATA"],
}

for _name, _build in UNWRITABLE_COMMANDS.items():

    def _parent_is_file(fx, build=_build):
        (fx.tmp / "afile").write_text("not a folder")
        return Case(build(fx, fx.tmp / "afile"), 1, ("afile", "is a file", "not a folder"))

    def _read_only(fx, build=_build):
        return Case(build(fx, fx.ro()), 1, ("Cannot write", "Read-only file system"))

    case("unwritable", f"{_name}-parent-is-a-file")(_parent_is_file)
    case("unwritable", f"{_name}-read-only")(_read_only)


@case("unwritable", "stats-default-chart-in-read-only-dataset")
def _(fx):
    def check(result):
        assert "not written" in result.output and "--chart" in result.output
        assert "cat" in result.output

    return Case(["dataset", "stats", fx.ro() / "data"], 0, check=check)


@case("unwritable", "export-full-disk-writes-neither-file")
def _(fx):
    return Case(
        ["export", fx.run_copy(), "--out", fx.full() / "m.tflite", "--quantize", "float32"],
        1,
        ("Cannot write", "No space left on device"),
    )


FULL_DISK_COMMANDS = {
    "train": lambda fx, out: [
        "train",
        fx.data(n=12, size=16),
        "--out",
        out / "run",
        "--epochs",
        "2",
        "--image-size",
        "16",
        "--batch-size",
        "4",
    ],
    "evaluate": lambda fx, out: [
        "evaluate",
        fx.model(),
        "--set",
        f"t={fx.data()}",
        "--report",
        out / "r",
    ],
    "stats-chart": lambda fx, out: ["dataset", "stats", fx.data(size=64), "--chart", out / "c.png"],
    "augment-preview": lambda fx, out: ["augment-preview", fx.data(), "--out", out / "p.png"],
    "compare": lambda fx, out: ["compare", fx.report("a"), fx.report("b"), "--out", out / "c"],
}

for _name, _build in FULL_DISK_COMMANDS.items():

    def _full(fx, build=_build):
        return Case(build(fx, fx.full()), 1, ("No space left on device",))

    case("unwritable", f"{_name}-full-disk")(_full)


@case("unwritable", "calibration-build-full-disk")
def _(fx):
    data = fx.data(n=12, size=48)
    return Case(
        ["calibration", "build", data, "--out", fx.full() / "calib"],
        1,
        ("Cannot write", "No space left on device"),
    )


# 3. One bad manifest line: reported with its line number, skipped, never a crash.
BAD_LINES = [
    {"path": "cat/00.png", "label": "cat", "session": "s1"},
    {"path": 5, "label": "cat", "session": "s1"},
    b'{"path": "cat/01.png", "label": "cat\xff\xfe"}',
    "not json",
    {"path": "../outside.png", "label": "cat"},
    {"path": "cat/02.png", "guide": {"grid": [3, 3], "cell": "centre"}},
    {"path": "cat/03.png", "guide": 7, "label": ["cat"]},
]
BAD_LINE_NUMBERS = ("manifest.jsonl:2", "manifest.jsonl:3", "manifest.jsonl:4")


def _bad_manifest_data(fx, **kw) -> Path:
    data = fx.data(**kw)
    write_manifest(data, BAD_LINES)
    return data


@case("manifest", "train")
def _(fx):
    data = _bad_manifest_data(fx)
    args = ["train", data, "--out", fx.tmp / "run", "--epochs", "1", "--image-size", "16"]
    return Case(
        [*args, "--batch-size", "4", "--augment", "none"],
        0,
        may_change=None,
        stderr_needles=BAD_LINE_NUMBERS,
    )


@case("manifest", "evaluate")
def _(fx):
    data = _bad_manifest_data(fx)
    args = ["evaluate", fx.model(), "--set", f"t={data}", "--report", fx.tmp / "r"]
    return Case(args, 0, may_change=None, stderr_needles=BAD_LINE_NUMBERS)


@case("manifest", "augment-preview")
def _(fx):
    data = _bad_manifest_data(fx)
    args = ["augment-preview", data, "--out", fx.tmp / "p.png", "--image-size", "32"]
    return Case(args, 0, may_change=("p.png",), stderr_needles=BAD_LINE_NUMBERS)


@case("manifest", "calibration-build")
def _(fx):
    data = _bad_manifest_data(fx)
    args = ["calibration", "build", data, "--out", fx.tmp / "calib", "--per-class", "2"]
    return Case(args, 0, may_change=None, stderr_needles=BAD_LINE_NUMBERS)


@case("manifest", "dataset-stats")
def _(fx):
    data = _bad_manifest_data(fx)

    def check(result):
        for n in (2, 3, 4, 5, 6, 7):
            assert f"line {n}:" in result.output, result.output

    return Case(
        ["dataset", "stats", data, "--chart", fx.tmp / "c.png"], 0, may_change=None, check=check
    )


@case("manifest", "capture-malformed-guide-cell")
def _(fx):
    data = fx.data()
    write_manifest(
        data,
        [
            {"path": "cat/00.png", "label": "cat", "guide": {"grid": [3, 3], "cell": [9]}},
            {"path": "cat/01.png", "label": "cat", "guide": {"grid": "3x3", "cell": [0, 0]}},
        ],
    )
    photos = make_data(fx.tmp / "photos", labels=("x",), n=3, size=64) / "x"
    args = ["capture", "--out", data, "--label", "cat", "--source", photos, "--no-preview"]
    old = (data / "manifest.jsonl").read_bytes()

    def check(result):
        assert (data / "manifest.jsonl").read_bytes().startswith(old)
        assert "3 kept" in result.output or "kept" in result.output, result.output

    return Case(
        args,
        0,
        may_change=None,
        stderr_needles=("manifest.jsonl:1", "manifest.jsonl:2"),
        grows=("data/manifest.jsonl",),
        check=check,
    )


# 4. Careless output paths: never replaced without asking, never inside a class folder.
@case("careless", "stats-chart-replaces-existing")
def _(fx):
    (fx.tmp / "mine.png").write_bytes(b"my picture")
    args = ["dataset", "stats", fx.data(), "--chart", fx.tmp / "mine.png"]
    return Case(args, 1, ("mine.png", "already exists", "--overwrite"))


@case("careless", "stats-json-replaces-existing")
def _(fx):
    (fx.tmp / "mine.json").write_text("{}")
    args = ["dataset", "stats", fx.data(), "--json", fx.tmp / "mine.json"]
    return Case(args, 1, ("mine.json", "already exists", "--overwrite"))


@case("careless", "calibration-out-inside-dataset")
def _(fx):
    data = fx.data()
    return Case(
        ["calibration", "build", data, "--out", data / "calib"], 1, ("--out", "new class folder")
    )


@case("careless", "augment-preview-out-in-class-folder")
def _(fx):
    data = fx.data()
    return Case(
        ["augment-preview", data, "--out", data / "cat" / "sheet.png"],
        1,
        ("--out", "inside a class folder"),
    )


@case("careless", "train-out-inside-dataset")
def _(fx):
    data = fx.data()
    return Case(["train", data, "--out", data / "run"], 1, ("--out", "new class folder"))


@case("careless", "evaluate-report-inside-test-set")
def _(fx):
    data = fx.data()
    args = ["evaluate", fx.model(), "--set", f"t={data}", "--report", data / "report"]
    return Case(args, 1, ("--report", "new class folder"))


@case("careless", "calibration-keeps-sub-folders")
def _(fx):
    data = fx.data()
    for sub in ("s1", "s2"):
        (data / "cat" / sub).mkdir()
        shutil.copyfile(data / "cat" / "00.png", data / "cat" / sub / "x.png")

    def check(result):
        calib = json.loads((fx.tmp / "calib" / "calibration.json").read_text())
        paths = [i["path"] for i in calib["images"]]
        assert len(paths) == len(set(paths)) == calib["n_images"]
        files = [p for p in (fx.tmp / "calib").rglob("*.png")]
        assert len(files) == calib["n_images"]

    args = ["calibration", "build", data, "--out", fx.tmp / "calib", "--per-class", "12"]
    return Case(args, 0, may_change=None, check=check)


# 5. Corrupt run folders.
def _damaged_run(fx, damage: Callable[[Path], None]) -> Path:
    run_dir = fx.run_copy()
    damage(run_dir)
    return run_dir


def _running(run_dir: Path, state: str | None = '{"epoch": 1, "history": []}') -> None:
    config = json.loads((run_dir / "config.json").read_text())
    config["status"] = "running"
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "model.keras").unlink()
    if state is not None:
        (run_dir / "checkpoint").mkdir()
        (run_dir / "checkpoint" / "state.json").write_text(state)


RUN_DAMAGE = {
    "export-truncated-model": (
        "export",
        lambda r: (r / "model.keras").write_bytes((r / "model.keras").read_bytes()[:300]),
        ("model.keras", "cannot be loaded"),
    ),
    "export-labels-do-not-match-model": (
        "export",
        lambda r: (r / "labels.txt").write_text("cat\ndog\nbird\n"),
        ("labels.txt", "3 labels", "2 outputs"),
    ),
    "export-corrupt-config": (
        "export",
        lambda r: (r / "config.json").write_text('{"status": "comp'),
        ("config.json", "not valid JSON"),
    ),
    "export-config-not-utf8": (
        "export",
        lambda r: (r / "config.json").write_bytes(b"\xff\xfe{}"),
        ("config.json", "not UTF-8"),
    ),
    "export-missing-split": (
        "export",
        lambda r: (r / "split.json").unlink(),
        ("split.json", "missing"),
    ),
    "export-corrupt-split": (
        "export",
        lambda r: (r / "split.json").write_text("[1, 2]"),
        ("split.json",),
    ),
    "resume-corrupt-state": (
        "resume",
        lambda r: _running(r, '{"epoch": '),
        ("state.json", "not valid JSON"),
    ),
    "resume-no-checkpoint": (
        "resume",
        lambda r: _running(r, None),
        ("no saved epoch",),
    ),
    "export-run-killed-before-its-first-epoch": (
        "export",
        lambda r: _running(r, None),
        ("stopped before its first epoch ended", "nothing to resume"),
    ),
    "resume-missing-labels": (
        "resume",
        lambda r: (_running(r), (r / "labels.txt").unlink()),
        ("labels.txt", "cannot be resumed"),
    ),
    "resume-corrupt-config": (
        "resume",
        lambda r: (_running(r), (r / "config.json").write_text("{")),
        ("config.json", "not valid JSON"),
    ),
}

for _name, (_cmd, _damage, _needles) in RUN_DAMAGE.items():

    def _run_case(fx, cmd=_cmd, damage=_damage, needles=_needles):
        run_dir = _damaged_run(fx, damage)
        if cmd == "export":
            return Case(["export", run_dir, "--out", fx.tmp / "m.tflite"], 1, needles)
        return Case(["train", "--resume", run_dir], 1, needles)

    case("run-folder", _name)(_run_case)


@case("run-folder", "export-run-is-a-file")
def _(fx):
    (fx.tmp / "run.txt").write_text("hello")
    return Case(["export", fx.tmp / "run.txt", "--out", fx.tmp / "m.tflite"], 1, ("is a file",))


# 6. The "Also" list.
@case("also", "evaluate-labels-never-replace-embedded-labels")
def _(fx):
    (fx.tmp / "labels.txt").write_text("dog\ncat\n")
    args = ["evaluate", fx.model(), "--set", f"t={fx.data()}", "--report", fx.tmp / "r"]
    return Case(
        [*args, "--labels", fx.tmp / "labels.txt"], 1, ("carries its own labels", "--labels")
    )


def _corrupt_contract(model: Path) -> None:
    from edgeposinv.tflite import metadata

    data = model.read_bytes()
    entries = metadata.read_entries(data)
    good = entries[metadata.CONTRACT_NAME]
    bad = b"\xff" + good[1:]  # same length: an in-place corruption of the embedded JSON
    model.write_bytes(data.replace(good, bad, 1))


@case("also", "inspect-corrupt-embedded-metadata")
def _(fx):
    model = fx.model()
    _corrupt_contract(model)
    return Case(["inspect", model], 1, ("m.tflite", "not valid JSON"))


@case("also", "device-eval-corrupt-embedded-metadata")
def _(fx):
    model = fx.model()
    _corrupt_contract(model)
    args = ["device-eval", model, "--set", f"t={fx.data()}", "--report", fx.tmp / "r"]
    return Case(args, 1, ("m.tflite", "not valid JSON"))


@case("also", "evaluate-corrupt-embedded-metadata")
def _(fx):
    model = fx.model()
    _corrupt_contract(model)
    args = ["evaluate", model, "--set", f"t={fx.data()}", "--report", fx.tmp / "r"]
    return Case(args, 1, ("m.tflite", "not valid JSON"))


@case("also", "export-report-json-not-a-report")
def _(fx):
    (fx.tmp / "report.json").write_bytes(b"\xff\xfe")
    args = ["export", fx.run_copy(), "--out", fx.tmp / "models" / "m"]
    return Case([*args, "--report-json", fx.tmp / "report.json"], 1, ("report.json", "UTF-8"))


@case("also", "augment-config-not-utf8")
def _(fx):
    (fx.tmp / "aug.yaml").write_bytes(b"max_rotation_deg: \xff\n")
    args = ["augment-preview", fx.data(), "--out", fx.tmp / "p.png"]
    return Case([*args, "--augment-config", fx.tmp / "aug.yaml"], 1, ("aug.yaml", "UTF-8"))


@case("also", "inspect-truncated-model")
def _(fx):
    model = fx.model()
    model.write_bytes(model.read_bytes()[:200])
    return Case(["inspect", model], 1, ("m.tflite",))


@case("also", "compare-partial-report")
def _(fx):
    a, b = fx.report("a"), fx.report("b")
    report = json.loads((b / "report.json").read_text())
    del report["sets"]["test"]["top1"]
    (b / "report.json").write_text(json.dumps(report))
    return Case(["compare", a, b, "--out", fx.tmp / "c"], 1, ("b/report.json", "incomplete"))


@case("also", "compare-report-not-utf8")
def _(fx):
    a, b = fx.report("a"), fx.report("b")
    (b / "report.json").write_bytes(b"\xff" * 10)
    return Case(["compare", a, b, "--out", fx.tmp / "c"], 1, ("report.json",))


@case("also", "dataset-path-is-a-file")
def _(fx):
    (fx.tmp / "data.zip").write_bytes(b"PK")
    return Case(["dataset", "stats", fx.tmp / "data.zip"], 2, ("data.zip", "is a file"))


@case("also", "train-dataset-path-is-a-file")
def _(fx):
    (fx.tmp / "data.zip").write_bytes(b"PK")
    return Case(["train", fx.tmp / "data.zip", "--out", fx.tmp / "r"], 2, ("data.zip", "is a file"))


@case("also", "symlink-loop-is-mentioned")
def _(fx):
    data = fx.data()
    os.symlink("loop.png", data / "cat" / "loop.png")

    def check(result):
        assert "loop.png" in result.output and "symbolic link" in result.output

    return Case(
        ["dataset", "stats", data, "--chart", fx.tmp / "c.png"], 0, may_change=None, check=check
    )


@case("also", "stats-flags-duplicate-lines-and-contradicting-labels")
def _(fx):
    data = fx.data()
    write_manifest(
        data,
        [
            {"path": "cat/00.png", "label": "cat", "session": "s"},
            {"path": "cat/00.png", "label": "cat", "session": "s"},
            {"path": "cat/01.png", "label": "dog", "session": "s"},
        ],
    )

    def check(result):
        assert "repeats the path cat/00.png of line 1" in result.output
        assert "contradicts its folder 'cat'" in result.output
        assert "s                        2" in result.output  # counted once, not twice

    return Case(
        ["dataset", "stats", data, "--chart", fx.tmp / "c.png"], 0, may_change=None, check=check
    )


@case("also", "train-missing-weights-file-is-found-first")
def _(fx):
    args = ["train", fx.data(), "--out", fx.tmp / "r", "--weights", fx.tmp / "nope.h5"]
    return Case(args, 2, ("--weights", "nope.h5"))


@case("also", "export-missing-calibration-is-found-first")
def _(fx):
    args = ["export", fx.run_copy(), "--out", fx.tmp / "m.tflite", "--calibration", fx.tmp / "no"]
    return Case(args, 2, ("--calibration", "existing folder"))


@case("also", "overwrite-refused-while-a-previous-run-is-set-aside")
def _(fx):
    run_dir = fx.run_copy()
    shutil.copytree(run_dir, fx.tmp / "run.previous")
    args = ["train", fx.data(), "--out", run_dir, "--overwrite", "--epochs", "1"]
    return Case(args, 1, ("run.previous", "set aside", "mv"))


@case("also", "export-of-a-missing-run-points-at-the-set-aside-one")
def _(fx):
    run_dir = fx.run_copy()
    run_dir.rename(fx.tmp / "run.previous")
    (fx.tmp / "run").mkdir()
    return Case(["export", fx.tmp / "run", "--out", fx.tmp / "m.tflite"], 1, ("run.previous",))


# 7. Parameters: the library names its parameter, the CLI names the flag (exit 2).
PARAMETER_CASES = {
    "train-image-size": (["train", "D", "--out", "R", "--image-size", "8"], "--image-size"),
    "train-val-split": (["train", "D", "--out", "R", "--val-split", "1.5"], "--val-split"),
    "train-lr": (["train", "D", "--out", "R", "--lr", "3"], "--lr"),
    "train-patience": (["train", "D", "--out", "R", "--patience", "-1"], "--patience"),
    "export-max-drop": (["export", "RUN", "--out", "M.tflite", "--max-drop", "200"], "--max-drop"),
    "export-out-suffix": (["export", "RUN", "--out", "M.onnx"], "--out"),
    "preview-rows": (["augment-preview", "D", "--out", "P.png", "--rows", "0"], "--rows"),
    "preview-not-png": (["augment-preview", "D", "--out", "P.jpg"], "--out"),
    "calibration-per-class": (
        ["calibration", "build", "D", "--out", "C", "--per-class", "0"],
        "--per-class",
    ),
    "evaluate-rotation-step": (
        ["evaluate", "M", "--set", "t=D", "--report", "R", "--rotation-step", "0"],
        "--rotation-step",
    ),
    "evaluate-max-shift": (
        ["evaluate", "M", "--set", "t=D", "--report", "R", "--max-shift", "0.9"],
        "--max-shift",
    ),
    "evaluate-set-syntax": (["evaluate", "M", "--set", "tD", "--report", "R"], "--set"),
    "evaluate-reference": (
        ["evaluate", "M", "--set", "t=D", "--report", "R", "--reference", "x"],
        "--reference",
    ),
    "capture-count": (
        ["capture", "--out", "C", "--label", "a", "--source", "D", "--count", "0"],
        "--count",
    ),
    "capture-grid": (
        ["capture", "--out", "C", "--label", "a", "--source", "D", "--grid", "3by3"],
        "--grid",
    ),
}

for _name, (_args, _flag) in PARAMETER_CASES.items():

    def _param_case(fx, args=_args, flag=_flag):
        names = {"D": fx.data(), "R": fx.tmp / "r", "P.png": fx.tmp / "p.png"}
        names.update({"P.jpg": fx.tmp / "p.jpg", "C": fx.tmp / "c", "M.tflite": fx.tmp / "m.tfl"})
        names.update({"M.onnx": fx.tmp / "m.onnx"})
        if "RUN" in args:
            names["RUN"] = fx.run_copy()
        if "M" in args:
            names["M"] = fx.model()
        resolved = [names.get(a, a) for a in args]
        resolved = [
            a.replace("=D", f"={names['D']}") if isinstance(a, str) else a for a in resolved
        ]
        return Case(resolved, 2, ("Invalid value for", flag))

    case("parameter", _name)(_param_case)


@case("parameter", "augment-config-file-names-file-and-parameter")
def _(fx):
    (fx.tmp / "aug.yaml").write_text("max_rotation_deg: 270\n")
    args = ["augment-preview", fx.data(), "--out", fx.tmp / "p.png"]
    return Case(
        [*args, "--augment-config", fx.tmp / "aug.yaml"],
        1,
        ("aug.yaml", "'max_rotation_deg' of AugmentConfig must be in [0, 180]; got 270"),
    )


@case("parameter", "quantize-option-the-mode-does-not-take")
def _(fx):
    args = ["export", fx.run_copy(), "--out", fx.tmp / "m.tflite", "--quantize", "float16"]
    return Case([*args, "--io", "uint8"], 1, ("--io does not apply to --quantize float16",))


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_bad_input(case_id, tmp_path, request):
    fx = Fx(request, tmp_path)
    c = CASES[case_id](fx)
    before = snapshot(tmp_path)
    result = run(*c.args)
    if c.code == 0:
        assert result.exit_code == 0, (result.output, result.exception)
        assert "Traceback" not in result.output
    else:
        line = error_line(result)
        assert result.exit_code == c.code, result.output
        for needle in c.needles:
            assert needle in line, f"{needle!r} not in {line!r}"
    for needle in c.stderr_needles:
        assert needle in result.stderr, f"{needle!r} not in {result.stderr}"
    after = snapshot(tmp_path)
    if c.may_change is None:  # a success may add files, never change existing ones
        changed = {k for k in before if after.get(k) != before[k] and not k.startswith("full")}
        changed -= set(c.grows)
        assert not changed, changed
    else:
        allowed = set(c.may_change)
        diff = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        diff = {k for k in diff if k not in allowed and k != "full"}
        assert not diff, f"changed or left behind: {sorted(diff)}"
    if c.check:
        c.check(result)


# -- library-level guarantees --------------------------------------------------------------
def test_files_are_written_with_the_umask_and_keep_their_mode(tmp_path):
    from edgeposinv.util.files import atomic_write_files, atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
        atomic_write_files({tmp_path / "a.bin": b"a", tmp_path / "b.bin": b"b"})
        (tmp_path / "manifest.jsonl").write_text("{}\n")
        os.chmod(tmp_path / "manifest.jsonl", 0o664)
        atomic_write_text(tmp_path / "manifest.jsonl", "{}\n{}\n")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE((tmp_path / p).stat().st_mode)  # noqa: E731
    assert mode("new.txt") == mode("a.bin") == mode("b.bin") == 0o644
    assert mode("manifest.jsonl") == 0o664


def test_device_pull_drops_escaping_manifest_paths_and_says_so(tmp_path, caplog):
    from edgeposinv.device.pull import merge_dataset

    phone = make_data(tmp_path / "phone", labels=("rock",), n=2)
    write_manifest(
        phone,
        [
            {"path": "rock/00.png", "label": "rock"},
            {"path": "../../etc/passwd", "label": "rock"},
            {"path": "/abs/rock.png", "label": "rock"},
        ],
    )
    local = tmp_path / "local"
    with caplog.at_level(logging.WARNING):
        summary = merge_dataset(phone, local)
    lines = (local / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["path"] for line in lines] == ["rock/00.png"]
    assert summary.manifest_lines_added == 1
    assert "were not copied" in caplog.text and "line 2" in caplog.text and "line 3" in caplog.text
    assert "kept" not in caplog.text


def test_nan_scores_are_an_error_naming_the_model(tmp_path, tiny_data):
    tf = pytest.importorskip("tensorflow")
    from edgeposinv.training.keras_api import keras

    inp = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    x = keras.layers.Dense(2)(x)
    out = keras.layers.Lambda(lambda t: t * float("nan"))(x)
    model = keras.Model(inp, out)
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    (tmp_path / "nan.tflite").write_bytes(data)
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    before = snapshot(tmp_path)
    result = run(
        "evaluate",
        tmp_path / "nan.tflite",
        "--set",
        f"t={tiny_data}",
        "--report",
        tmp_path / "r",
        "--labels",
        tmp_path / "labels.txt",
    )
    line = error_line(result)
    assert result.exit_code == 1
    assert "nan.tflite" in line and "NaN" in line
    assert snapshot(tmp_path) == before


# -- signals during train --overwrite (real processes) --------------------------------------
def _ctrl_c_live() -> None:
    """Run in the child before exec: Ctrl-C live even when the tests run in a background job
    (which starts with SIGINT ignored; an ignored signal stays ignored across exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_train(data: Path, run_dir: Path, epochs: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "edgeposinv", "train", str(data), "--out", str(run_dir)]
    args += ["--overwrite", "--epochs", str(epochs), "--image-size", "16", "--batch-size", "4"]
    return subprocess.Popen(
        args,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_live,
    )


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"train ended before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)  # polling, not a fixed wait


@pytest.mark.slow
@pytest.mark.parametrize(
    "sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)]
)
def test_overwrite_interrupted_before_a_checkpoint_gives_the_old_run_back(
    sig, code, tiny_run, tiny_data, tmp_path
):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    before = snapshot(tmp_path)
    proc = _start_train(tiny_data, run_dir, epochs=50)
    _wait_for(
        lambda: (run_dir / "config.json").is_file() and (tmp_path / "run.previous").is_dir(),
        proc,
        "the new run to start",
    )
    assert not (run_dir / "checkpoint" / "state.json").exists(), "too late: a checkpoint exists"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    # After a Ctrl-C that surfaced inside native code, CPython may end the process by
    # re-sending SIGINT to itself once everything is cleaned up; a shell shows both
    # endings as the same status (128 + 2), which is what a user sees.
    endings = (code, -sig) if sig == signal.SIGINT else (code,)
    assert proc.returncode in endings, err
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "Interrupted" in errors[0] and "is back as it was before" in errors[0]
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_overwrite_interrupted_after_a_checkpoint_keeps_the_resumable_new_run(
    tiny_run, tiny_data, tmp_path
):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    proc = _start_train(tiny_data, run_dir, epochs=200)
    _wait_for(lambda: (run_dir / "checkpoint" / "state.json").is_file(), proc, "a checkpoint")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert f"continue it with 'edgeposinv train --resume {run_dir}'" in errors[0]
    assert "the previous run was replaced" in errors[0]
    assert not (tmp_path / "run.previous").exists()
    assert json.loads((run_dir / "checkpoint" / "state.json").read_text())["epoch"] >= 1


@pytest.mark.slow
def test_overwrite_killed_leaves_the_old_run_where_every_command_points(
    tiny_run, tiny_data, tmp_path
):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    old = snapshot(run_dir)
    proc = _start_train(tiny_data, run_dir, epochs=50)
    _wait_for(lambda: (tmp_path / "run.previous" / "model.keras").is_file(), proc, "the set-aside")
    proc.kill()
    proc.communicate(timeout=60)
    assert snapshot(tmp_path / "run.previous") == old  # nothing lost
    again = run("train", tiny_data, "--out", run_dir, "--overwrite", "--epochs", "1")
    assert again.exit_code == 1 and "run.previous" in error_line(again)
    export = run("export", run_dir, "--out", tmp_path / "m.tflite")
    assert export.exit_code == 1 and "run.previous holds the run it replaced" in error_line(export)
    resume = run("train", "--resume", run_dir)
    assert resume.exit_code == 1 and "run.previous holds the run it replaced" in error_line(resume)
    assert snapshot(tmp_path / "run.previous") == old


@pytest.mark.usefixtures("fake_adb")
def test_device_eval_partial_report_names_it_and_keeps_nothing_half_written(
    tiny_model, tiny_data, tmp_path, monkeypatch
):
    """The phone's report lacks a figure: one line naming it, no report folder written."""
    import edgeposinv.util.files as files

    real = files.read_json

    def partial(path, *args, **kwargs):
        report = real(path, *args, **kwargs)
        if Path(path).name == "report.json":
            for s in report["sets"].values():
                s.pop("top1")
        return report

    monkeypatch.setattr(files, "read_json", partial)
    before = snapshot(tmp_path)
    result = run("device-eval", tiny_model, "--set", f"t={tiny_data}", "--report", tmp_path / "r")
    line = error_line(result)
    assert result.exit_code == 1
    assert "report.json pulled from emulator-5554 is incomplete" in line and "'top1'" in line
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith(("phone", "adb_log"))} == {
        k: v for k, v in before.items() if not k.startswith(("phone", "adb_log"))
    }
