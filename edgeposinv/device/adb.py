"""adb plumbing for the Android app: finding adb and the phone, the app's storage, free space
and reading its JSON files. No TensorFlow; the evaluation flow is in
:mod:`edgeposinv.device.adb_eval`."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from edgeposinv.errors import DeviceError

__all__ = [
    "APP_ID",
    "Adb",
    "CAPTURE_DIR",
    "DEVICE_ROOT",
    "EVAL_ACTIVITY",
    "SPARE_BYTES",
    "check_app",
    "check_space",
    "connect",
    "ensure_app_storage",
    "find_adb",
    "free_bytes",
    "list_devices",
    "read_remote_json",
]

log = logging.getLogger(__name__)

APP_ID = "org.edgeposinv.demo"
EVAL_ACTIVITY = f"{APP_ID}/.EvalActivity"
DEVICE_ROOT = f"/sdcard/Android/data/{APP_ID}/files"
CAPTURE_DIR = f"{DEVICE_ROOT}/datasets/DATA"
#: Room kept free on the phone beyond what is pushed.
SPARE_BYTES = 16 * 1024 * 1024


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
    if free < needed_bytes + SPARE_BYTES:
        raise DeviceError(
            f"Not enough free storage on {adb.serial}: the model and sets need {needed_bytes / 1e6:.1f} MB "
            f"(+{SPARE_BYTES / 1e6:.0f} MB spare), {free / 1e6:.1f} MB are free; free some space on the phone"
        )


def read_remote_json(adb: Adb, path: str) -> dict | None:
    res = adb.run("shell", shlex.join(["cat", path]))
    if res.returncode != 0:
        return None
    try:
        return json.loads(res.stdout)
    except json.JSONDecodeError:
        return None  # being replaced right now; read again on the next poll
