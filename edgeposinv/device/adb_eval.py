"""Evaluation on the phone over adb (the plumbing is :mod:`edgeposinv.device.adb`).

The app (``android_demo/``) reads everything it needs from intent extras, so the host only
pushes files, starts ``EvalActivity`` and follows ``progress.json`` until ``report.json`` (or
``error.txt``) appears. Everything lives in the app's own external files folder, which adb
can write and the app can read without any storage permission.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shlex
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgeposinv.device.adb import (
    APP_ID,
    CAPTURE_DIR,
    DEVICE_ROOT,
    EVAL_ACTIVITY,
    Adb,
    check_app,
    check_space,
    connect,
    ensure_app_storage,
    find_adb,
    free_bytes,
    list_devices,
    read_remote_json,
)
from edgeposinv.errors import ConfigError, DeviceError, EdgeposinvError, ModelError, ParameterError

_OWNER = "DeviceEvalConfig"

__all__ = [
    "APP_ID",
    "Adb",
    "CAPTURE_DIR",
    "DELEGATES",
    "DEVICE_ROOT",
    "DeviceError",
    "DeviceEvalConfig",
    "EVAL_ACTIVITY",
    "check_app",
    "check_space",
    "connect",
    "device_eval",
    "ensure_app_storage",
    "find_adb",
    "free_bytes",
    "list_devices",
    "new_run_id",
    "read_remote_json",
]

log = logging.getLogger(__name__)

DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi")
_SET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass(frozen=True)
class DeviceEvalConfig:
    """How the phone runs the evaluation."""

    threads: int = 1
    delegate: str = "cpu"
    top_k: int = 3
    warmup: int = 5
    timeout_s: float = 1800.0
    poll_s: float = 1.0
    keep_on_device: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.threads <= 16:
            raise ParameterError("threads", self.threads, "must be in [1, 16]", owner=_OWNER)
        if self.delegate not in DELEGATES:
            raise ParameterError(
                "delegate", self.delegate, f"must be one of: {', '.join(DELEGATES)}", owner=_OWNER
            )
        if self.top_k < 1:
            raise ParameterError("top_k", self.top_k, "must be at least 1", owner=_OWNER)
        if self.warmup < 0:
            raise ParameterError("warmup", self.warmup, "must be at least 0", owner=_OWNER)
        if self.timeout_s <= 0 or self.poll_s <= 0:
            raise ConfigError(
                f"timeout_s and poll_s must be positive. Got {self.timeout_s}, {self.poll_s}."
            )


def _check_sets(model_path: Path, sets: list[tuple[str, Path]]) -> tuple[list[str], int]:
    """Validate the model and the set folders before touching the phone; labels and bytes to push."""
    from edgeposinv.evaluation.sets import scan_set
    from edgeposinv.tflite.metadata import read_contract

    if not model_path.is_file():
        raise DeviceError(f"Model file {model_path} does not exist")
    try:
        description = read_contract(model_path.read_bytes()) or {}
    except ModelError as e:
        raise ModelError(f"{model_path}: {e}; re-export it with 'edgeposinv export'") from None
    labels: list[str] = description.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{model_path}: its embedded labels are not a list of text; re-export it")
    if not labels:
        raise DeviceError(
            f"{model_path} carries no labels (no 'edgeposinv.model' entry); export it with 'edgeposinv export'"
        )
    if not sets:
        raise ParameterError("sets", [], "must name at least one test set (NAME=DIR)")
    names = [n for n, _ in sets]
    if len(set(names)) != len(names):
        raise DeviceError(f"Set names must be unique. Got {', '.join(names)}.")
    total = model_path.stat().st_size
    for name, folder in sets:
        if not _SET_NAME.match(name):
            raise DeviceError(f"Set name {name!r} may only use letters, digits, '.', '_' and '-'")
        index = scan_set(name, Path(folder), tuple(labels))
        total += sum(r.path.stat().st_size for r in index.records)
    return labels, total


def _check_unknown_sets(
    sets: list[tuple[str, Path]], unknown_sets: list[tuple[str, Path]]
) -> tuple[dict[str, list[Path]], int]:
    """Validate the unknown sets (images of none of the classes); their images and bytes to push."""
    from edgeposinv.data.dataset import list_unknown_images
    from edgeposinv.errors import DatasetError

    names = [n for n, _ in sets] + [n for n, _ in unknown_sets]
    if len(set(names)) != len(names):
        raise DeviceError(f"Set and unknown-set names must be unique. Got {', '.join(names)}.")
    images: dict[str, list[Path]] = {}
    for name, folder in unknown_sets:
        if not _SET_NAME.match(name):
            raise DeviceError(
                f"Unknown-set name {name!r} may only use letters, digits, '.', '_' and '-'"
            )
        try:
            images[name] = list_unknown_images(folder)
        except DatasetError as e:
            raise DeviceError(f"--unknown-set {name}: {e}") from None
    return images, sum(p.stat().st_size for paths in images.values() for p in paths)


def _push_unknown_sets(
    adb: Adb, unknown_sets: list[tuple[str, Path]], images: dict[str, list[Path]], remote: str
) -> list[str]:
    """Push each unknown set under ``remote/unknown/NAME/``, keeping its sub-folders."""
    specs = []
    for name, folder in unknown_sets:
        target = f"{remote}/unknown/{name}"
        by_dir: dict[str, list[str]] = {}
        for p in images[name]:
            rel = p.parent.relative_to(folder).as_posix()
            by_dir.setdefault("" if rel == "." else rel, []).append(str(p))
        for rel, files in sorted(by_dir.items()):
            dest = f"{target}/{rel}" if rel else target
            adb.shell("mkdir", "-p", dest, what="creating the unknown-set folders")
            for start in range(0, len(files), 200):  # keep each command line short
                adb.check(
                    "push",
                    *files[start : start + 200],
                    f"{dest}/",
                    what=f"pushing unknown set '{name}'",
                )
        specs.append(f"{name}={target}")
    return specs


def _push_sets(adb: Adb, sets: list[tuple[str, Path]], remote: str) -> list[str]:
    from edgeposinv.data.dataset import scan_dataset

    specs = []
    for name, folder in sets:
        target = f"{remote}/sets/{name}"
        index = scan_dataset(folder, min_classes=1)
        for label in index.labels:
            adb.shell("mkdir", "-p", f"{target}/{label}", what="creating the set folders")
            files = [str(r.path) for r in index.records if r.label == label]
            for start in range(0, len(files), 200):  # keep each command line short
                adb.check(
                    "push",
                    *files[start : start + 200],
                    f"{target}/{label}/",
                    what=f"pushing set '{name}'",
                )
        specs.append(f"{name}={target}")
    return specs


def _wait_for_report(adb: Adb, out: str, config: DeviceEvalConfig, show_progress: bool) -> None:
    from tqdm.auto import tqdm

    deadline = time.monotonic() + config.timeout_s
    bar = tqdm(
        desc="device evaluation",
        unit="img",
        disable=True if not show_progress else None,
        leave=False,
    )
    try:
        while True:
            if adb.exists(f"{out}/error.txt"):
                text = adb.shell("cat", f"{out}/error.txt", what="reading the app's error").strip()
                raise DeviceError(
                    f"Evaluation failed on {adb.serial}: {text.splitlines()[0] if text else 'no reason given'}"
                )
            if adb.exists(f"{out}/report.json"):
                return
            progress = read_remote_json(adb, f"{out}/progress.json")
            if progress:
                bar.total = progress.get("total")
                bar.n = progress.get("done", 0)
                bar.refresh()
            if time.monotonic() > deadline:
                raise DeviceError(
                    f"No report from {adb.serial} after {config.timeout_s:.0f} s "
                    f"(progress: {progress or 'none'}); is the app in the foreground? Raise 'timeout_s' for big sets",
                    params=("timeout_s",),
                )
            time.sleep(config.poll_s)
    finally:
        bar.close()


def device_eval(
    model_path: str | os.PathLike,
    sets: list[tuple[str, str | os.PathLike]],
    report_dir: str | os.PathLike,
    config: DeviceEvalConfig = DeviceEvalConfig(),
    serial: str | None = None,
    adb_path: str | None = None,
    overwrite: bool = False,
    show_progress: bool = True,
    unknown_sets: Sequence[tuple[str, str | os.PathLike]] = (),
) -> dict:
    """Evaluate ``model_path`` on the phone; write ``report_dir`` like ``edgeposinv evaluate``.

    ``unknown_sets`` (images of none of the classes, any folder layout) are pushed like the
    sets; the phone adds the report's ``open_set`` figures at the model's threshold.
    """
    from edgeposinv.evaluation.evaluate import PREDICTIONS_CSV, REPORT_HTML, REPORT_JSON
    from edgeposinv.evaluation.report import render_report_html
    from edgeposinv.util.files import (
        atomic_dir,
        atomic_write_json,
        atomic_write_text,
        check_can_write,
        check_not_in_dataset,
        read_json,
    )

    model_path = Path(model_path)
    set_paths = [(name, Path(folder)) for name, folder in sets]
    check_can_write(report_dir, overwrite)
    unknown_paths = [(name, Path(folder)) for name, folder in unknown_sets]
    check_not_in_dataset(
        report_dir,
        [f for _, f in set_paths] + [f for _, f in unknown_paths],
        is_dir=True,
        param="report_dir",
    )
    _, needed = _check_sets(model_path, set_paths)
    unknown_images, unknown_bytes = _check_unknown_sets(set_paths, unknown_paths)
    needed += unknown_bytes
    adb = connect(serial, adb_path)
    check_app(adb)
    ensure_app_storage(adb)
    check_space(adb, needed)
    remote = f"{DEVICE_ROOT}/eval/{new_run_id()}"
    out = f"{remote}/out"
    adb.shell("mkdir", "-p", f"{remote}/sets", out, what="creating the evaluation folder")
    try:
        adb.check("push", str(model_path), f"{remote}/model.tflite", what="pushing the model")
        specs = _push_sets(adb, set_paths, remote)
        unknown_specs = _push_unknown_sets(adb, unknown_paths, unknown_images, remote)
        unknown_extra = ["--es", "unknown_sets", ",".join(unknown_specs)] if unknown_specs else []
        started = adb.shell(
            "am",
            "start",
            "-W",
            "-n",
            EVAL_ACTIVITY,
            "--es",
            "model",
            f"{remote}/model.tflite",
            "--es",
            "sets",
            ",".join(specs),
            *unknown_extra,
            "--ei",
            "threads",
            str(config.threads),
            "--es",
            "delegate",
            config.delegate,
            "--ei",
            "top_k",
            str(config.top_k),
            "--ei",
            "warmup",
            str(config.warmup),
            "--es",
            "out",
            out,
            what="starting evaluation mode",
        )
        if "Error" in started:
            raise DeviceError(
                f"The app's evaluation mode did not start on {adb.serial}: {started.strip().splitlines()[-1]}"
            )
        log.info("evaluating on %s (%d thread(s), %s)", adb.serial, config.threads, config.delegate)
        _wait_for_report(adb, out, config, show_progress)
        with tempfile.TemporaryDirectory() as tmp:
            adb.check(
                "pull",
                f"{out}/{REPORT_JSON}",
                f"{out}/{PREDICTIONS_CSV}",
                tmp,
                what="pulling the report",
            )
            report = read_json(
                Path(tmp) / REPORT_JSON,
                DeviceError,
                "the app wrote a damaged report; run the evaluation again",
            )
            predictions = (Path(tmp) / PREDICTIONS_CSV).read_bytes().decode("utf-8", "replace")
    finally:
        if not config.keep_on_device:
            adb.run("shell", shlex.join(["rm", "-rf", remote]))
    generator = report.get("generator")
    if (
        not isinstance(generator, dict)
        or generator.get("host") != "android"
        or str(report.get("schema_version", "")).split(".")[0] != "1"
    ):
        raise DeviceError(
            f"The device wrote a report this host cannot read (schema {report.get('schema_version')!r})"
        )
    from edgeposinv.evaluation.compare import check_report

    check_report(report, f"the report.json pulled from {adb.serial}")
    # Paths on the phone mean nothing here: show the host folders the sets came from.
    for name, folder in sets:
        if name in report.get("sets", {}):
            report["sets"][name]["device_path"] = report["sets"][name].get("path")
            report["sets"][name]["path"] = str(folder)
    for name, folder in unknown_paths:
        u = report.get("open_set", {}).get("unknown_sets", {}).get(name)
        if isinstance(u, dict):
            u["device_path"] = u.get("path")
            u["path"] = str(folder)
    from edgeposinv.evaluation.open_set import add_separation_intervals

    add_separation_intervals(report, predictions)  # the phone reports point values
    report["model"]["device_path"] = report["model"].get("path")
    report["model"]["path"] = str(model_path)
    try:
        html = render_report_html(report)
        with atomic_dir(report_dir, overwrite=overwrite) as tmp_dir:
            atomic_write_json(tmp_dir / REPORT_JSON, report)
            atomic_write_text(tmp_dir / PREDICTIONS_CSV, predictions)
            atomic_write_text(tmp_dir / REPORT_HTML, html)
    except (EdgeposinvError, OSError, KeyError, TypeError, ValueError) as e:
        # The phone's work is never thrown away: keep the raw results and say where.
        keep = Path(tempfile.mkdtemp(prefix="edgeposinv-device-eval-"))
        (keep / REPORT_JSON).write_text(json.dumps(report, indent=2), "utf-8")
        (keep / PREDICTIONS_CSV).write_text(predictions, "utf-8")
        raise DeviceError(
            f"{e}; the device's results are kept in {keep} (report.json, predictions.csv)"
        ) from None
    return report
