"""Driving the Android app over adb: evaluation on the phone, pulling captured datasets.

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
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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

APP_ID = "org.edgeposinv.demo"
EVAL_ACTIVITY = f"{APP_ID}/.EvalActivity"
DEVICE_ROOT = f"/sdcard/Android/data/{APP_ID}/files"
CAPTURE_DIR = f"{DEVICE_ROOT}/datasets/DATA"
DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi")
_SET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
#: Room kept free on the phone beyond what is pushed.
_SPARE_BYTES = 16 * 1024 * 1024


def find_adb(adb_path: str | None = None) -> str:
    """The adb executable: ``adb_path``, ``$EDGEPOSINV_ADB``, ``adb`` on PATH, or the SDK's platform-tools."""
    candidates = [adb_path, os.environ.get("EDGEPOSINV_ADB"), shutil.which("adb")]
    for sdk in (os.environ.get("ANDROID_HOME"), os.environ.get("ANDROID_SDK_ROOT")):
        if sdk:
            candidates.append(str(Path(sdk) / "platform-tools" / "adb"))
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    if adb_path:
        raise DeviceError(f"adb not found at {adb_path}; give the path of an executable adb")
    raise DeviceError(
        "adb not found: install Android platform-tools and put adb on PATH "
        "(or set EDGEPOSINV_ADB=/path/to/adb)"
    )


@dataclass(frozen=True)
class Adb:
    """One attached device, addressed by serial."""

    executable: str
    serial: str
    timeout_s: float = 300.0

    def run(self, *args: str, timeout_s: float | None = None) -> subprocess.CompletedProcess:
        cmd = [self.executable, "-s", self.serial, *args]
        log.debug("adb: %s", shlex.join(cmd))
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout_s or self.timeout_s
            )
        except subprocess.TimeoutExpired:
            raise DeviceError(
                f"adb {' '.join(args[:2])} did not answer within {timeout_s or self.timeout_s:.0f} s; "
                "is the device still connected?"
            ) from None

    def check(self, *args: str, what: str) -> str:
        res = self.run(*args)
        if res.returncode != 0:
            detail = (res.stderr or res.stdout).strip().splitlines()
            raise DeviceError(
                f"{what} failed on {self.serial}: {detail[-1] if detail else f'exit {res.returncode}'}"
            )
        return res.stdout

    def shell(self, *words: str, what: str) -> str:
        """Run a device shell command; each word is quoted for the device's shell."""
        return self.check("shell", shlex.join(words), what=what)

    def exists(self, path: str) -> bool:
        return self.run("shell", shlex.join(["ls", path])).returncode == 0


def list_devices(executable: str) -> dict[str, str]:
    """``adb devices`` as serial → state (``device``, ``unauthorized``, ``offline``...)."""
    try:
        res = subprocess.run([executable, "devices"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DeviceError(f"cannot run {executable} devices ({e})") from None
    if res.returncode != 0:
        raise DeviceError(f"'{executable} devices' failed: {(res.stderr or res.stdout).strip()}")
    devices = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(("List of devices", "*")):
            devices[parts[0]] = parts[1]
    return devices


def connect(serial: str | None = None, adb_path: str | None = None) -> Adb:
    """Find adb and the one device to use; errors say what to do."""
    executable = find_adb(adb_path)
    devices = list_devices(executable)
    if serial is not None:
        if serial not in devices:
            listed = ", ".join(devices) or "none"
            raise DeviceError(f"Device {serial} is not attached (adb devices lists: {listed})")
        chosen = serial
    else:
        if not devices:
            raise DeviceError(
                "No Android device attached (adb devices lists none): connect the phone by USB with "
                "USB debugging enabled, or run 'adb connect HOST:PORT'"
            )
        if len(devices) > 1:
            raise DeviceError(
                f"Several devices attached ({', '.join(devices)}): choose one with 'serial'",
                params=("serial",),
            )
        chosen = next(iter(devices))
    state = devices[chosen]
    if state == "unauthorized":
        raise DeviceError(
            f"Device {chosen} is unauthorized: unlock it and accept the USB debugging prompt"
        )
    if state != "device":
        raise DeviceError(f"Device {chosen} is {state}; reconnect it (adb reconnect) and try again")
    return Adb(executable, chosen)


def check_app(adb: Adb) -> None:
    res = adb.run("shell", shlex.join(["pm", "path", APP_ID]))
    if res.returncode != 0 or "package:" not in res.stdout:
        raise DeviceError(
            f"The edgeposinv app ({APP_ID}) is not installed on {adb.serial}: build and install "
            "android_demo/ with Android Studio (see android_demo/README.md)"
        )


def ensure_app_storage(adb: Adb) -> None:
    """The app's external files folder must be created by Android for the app, not by adb:
    start the app once when it is missing (its main screen asks Android for the folder)."""
    if adb.exists(DEVICE_ROOT):
        return
    adb.shell("am", "start", "-W", "-n", f"{APP_ID}/.MainActivity", what="starting the app once")
    for _ in range(20):
        if adb.exists(DEVICE_ROOT):
            return
        time.sleep(0.5)
    raise DeviceError(
        f"{DEVICE_ROOT} does not exist on {adb.serial}; open the edgeposinv app once and try again"
    )


def free_bytes(adb: Adb, path: str = "/sdcard") -> int:
    """Free space of the file system holding ``path`` (``df -k``)."""
    out = adb.shell("df", "-k", path, what="checking free storage")
    lines = [ln.split() for ln in out.strip().splitlines() if ln.strip()]
    try:
        header = [h.lower() for h in lines[0]]
        col = header.index("available") if "available" in header else 3
        return int(lines[-1][col]) * 1024
    except (IndexError, ValueError):
        raise DeviceError(
            f"cannot read free storage from 'df -k {path}' on {adb.serial}: {out.strip()!r}"
        ) from None


def check_space(adb: Adb, needed_bytes: int) -> None:
    free = free_bytes(adb)
    if free < needed_bytes + _SPARE_BYTES:
        raise DeviceError(
            f"Not enough free storage on {adb.serial}: the model and sets need {needed_bytes / 1e6:.1f} MB "
            f"(+{_SPARE_BYTES / 1e6:.0f} MB spare), {free / 1e6:.1f} MB are free; free some space on the phone"
        )


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


def read_remote_json(adb: Adb, path: str) -> dict | None:
    res = adb.run("shell", shlex.join(["cat", path]))
    if res.returncode != 0:
        return None
    try:
        return json.loads(res.stdout)
    except json.JSONDecodeError:
        return None  # being replaced right now; read again on the next poll


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
