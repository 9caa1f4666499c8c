"""`device-eval` and `device-pull` against a fake adb executable written by the test.

A phone cannot exist here, so adb is the one stand-in: a script that keeps the "device"
storage in a folder and answers the adb commands the host uses. When the host starts
evaluation mode, the fake app runs the real LiteRT evaluation (edgeposinv.evaluation.evaluate) on the
files that were really pushed and writes its report.json as the app would (host "android").
Everything on the host side is real: the model, the pushed files, the pulled report, the
HTML rendering and the merge of a pulled capture folder.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, make_shapes_dataset, run_cli

GOLDEN_MODEL = REPO / "tests" / "golden" / "shapes_int8.tflite"
APP = "org.edgeposinv.demo"
FILES = f"/sdcard/Android/data/{APP}/files"

FAKE_ADB = r"""
import json, os, shlex, shutil, sys
from pathlib import Path

root = Path(os.environ["FAKE_ADB_ROOT"])
state = json.loads(Path(os.environ["FAKE_ADB_STATE"]).read_text())
with open(os.environ["FAKE_ADB_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")

def dev(path):
    return root / path.lstrip("/")

def fail(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)

args = sys.argv[1:]
if args == ["devices"]:
    print("List of devices attached")
    for serial, st in state["devices"].items():
        print(f"{serial}\t{st}")
    sys.exit(0)
if args[:1] != ["-s"] or args[1] not in state["devices"]:
    fail("error: device not found")
args = args[2:]

def copy_into(src, dst):
    if src.is_dir():
        shutil.copytree(src, dst / src.name, dirs_exist_ok=True)
    else:
        shutil.copyfile(src, dst / src.name)

if args[0] == "push":
    *sources, target = args[1:]
    t = dev(target)
    if target.endswith("/") or t.is_dir():
        if not t.is_dir():
            fail(f"adb: error: failed to copy: remote {target} is not a directory")
        for s in sources:
            copy_into(Path(s), t)
    else:
        if not t.parent.is_dir():
            fail(f"adb: error: remote secure_mkdirs failed for {target}")
        shutil.copyfile(sources[0], t)
    print(f"{len(sources)} file(s) pushed")
    sys.exit(0)
if args[0] == "pull":
    *sources, target = args[1:]
    for s in sources:
        if not dev(s).exists():
            fail(f"adb: error: remote object '{s}' does not exist")
        copy_into(dev(s), Path(target))
    sys.exit(0)
if args[0] != "shell":
    fail(f"fake adb: unsupported {args}")

words = shlex.split(args[1])
cmd = words[0]
if cmd == "pm":
    if state["installed"]:
        print("package:/data/app/org.edgeposinv.demo/base.apk")
        sys.exit(0)
    sys.exit(1)
if cmd == "df":
    print("Filesystem     1K-blocks    Used Available Use% Mounted on")
    print(f"/dev/fuse       64000000 1000000 {state['free_kb']}  50% /storage/emulated")
    sys.exit(0)
if cmd == "mkdir":
    for p in words[2:]:
        dev(p).mkdir(parents=True, exist_ok=True)
    sys.exit(0)
if cmd == "ls":
    sys.exit(0 if dev(words[1]).exists() else 1)
if cmd == "cat":
    p = dev(words[1])
    if not p.is_file():
        fail(f"cat: {words[1]}: No such file or directory")
    sys.stdout.write(p.read_text())
    sys.exit(0)
if cmd == "rm":
    shutil.rmtree(dev(words[-1]), ignore_errors=True)
    sys.exit(0)
if cmd == "am" and words[words.index("-n") + 1].endswith(".MainActivity"):
    dev("/sdcard/Android/data/org.edgeposinv.demo/files").mkdir(parents=True, exist_ok=True)
    sys.exit(0)
if cmd == "am":
    extras = {}
    i = words.index("-n") + 2
    while i < len(words):
        extras[words[i + 1]] = words[i + 2]
        i += 3
    out = dev(extras["out"])
    out.mkdir(parents=True, exist_ok=True)
    print("Starting: Intent { cmp=org.edgeposinv.demo/.EvalActivity (has extras) }")
    if state.get("app_error"):
        (out / "error.txt").write_text(state["app_error"] + "\n\njava.lang.Exception: ...\n")
        sys.exit(0)
    # The fake app: the real LiteRT evaluation of the pushed files, reported as the app does.
    from edgeposinv.evaluation.evaluate import EvaluateConfig, evaluate
    sets = [(s.split("=")[0], str(dev(s.split("=")[1]))) for s in extras["sets"].split(",")]
    tmp = out.parent / "host-eval"
    unknown = [(s.split("=")[0], str(dev(s.split("=")[1])))
               for s in extras.get("unknown_sets", "").split(",") if s]
    report = evaluate(str(dev(extras["model"])), sets, tmp,
                      EvaluateConfig(threads=int(extras["threads"]), top_k=int(extras["top_k"])),
                      show_progress=False, unknown_sets=unknown)
    report["generator"]["host"] = "android"
    report["model"]["path"] = extras["model"]
    report["runtime"].update(name="tensorflow-lite", version="2.16.1", delegate=extras["delegate"],
                             platform={"system": "Android", "machine": "arm64-v8a", "processor": "fake",
                                       "device_model": "Fake Pixel", "android_version": "14"})
    n = sum(s["n"] for s in report["sets"].values())
    (out / "progress.json").write_text(json.dumps({"done": n, "total": n}))
    shutil.copyfile(tmp / "predictions.csv", out / "predictions.csv")
    (out / "report.json").write_text(json.dumps(report))
    sys.exit(0)
fail(f"fake adb: unsupported shell command {words}")
"""


@pytest.fixture()
def fake_adb(tmp_path):
    """A fake adb on disk plus its controls: ``state`` (devices, installed, free space) and the call log."""
    exe = tmp_path / "bin" / "adb"
    exe.parent.mkdir()
    # The body runs under a __main__ guard: the evaluation's worker processes are spawned,
    # and spawning re-imports the main script.
    body = textwrap.indent(textwrap.dedent(FAKE_ADB), "    ")
    exe.write_text(
        f"#!{sys.executable}\ndef _main():\n{body}\n\nif __name__ == '__main__':\n    _main()\n"
    )
    exe.chmod(0o755)
    root = tmp_path / "phone"
    root.mkdir()
    state_file = tmp_path / "adb_state.json"
    log = tmp_path / "adb_log.jsonl"
    log.touch()

    class Fake:
        path = exe
        device_root = root

        def __init__(self):
            self.state = {
                "devices": {"emulator-5554": "device"},
                "installed": True,
                "free_kb": 8_000_000,
            }
            self.save()

        def save(self):
            state_file.write_text(json.dumps(self.state))

        def env(self):
            return {
                "EDGEPOSINV_ADB": str(exe),
                "FAKE_ADB_ROOT": str(root),
                "FAKE_ADB_STATE": str(state_file),
                "FAKE_ADB_LOG": str(log),
                "PYTHONPATH": str(REPO),
            }

        def calls(self):
            return [json.loads(line) for line in log.read_text().splitlines()]

    fake = Fake()
    old = {k: os.environ.get(k) for k in fake.env()}
    os.environ.update(fake.env())
    yield fake
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def shape_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    published = make_shapes_dataset(root / "published", n_per_class=4, size=40, seed=1, jitter_px=1)
    wild = make_shapes_dataset(
        root / "wild", n_per_class=4, size=40, seed=2, jitter_px=10, radius=(6, 9)
    )
    return published, wild


def test_device_eval_with_fake_adb_writes_a_device_report(fake_adb, shape_sets, tmp_path):
    published, wild = shape_sets
    out = tmp_path / "device-report"
    res = run_cli(
        "device-eval",
        str(GOLDEN_MODEL),
        "--set",
        f"published={published}",
        "--set",
        f"wild={wild}",
        "--report",
        str(out),
        "--threads",
        "2",
        "--delegate",
        "xnnpack",
        env=fake_adb.env(),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "Fake Pixel" in res.stdout and "Android 14" in res.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["generator"]["host"] == "android"
    assert report["runtime"]["delegate"] == "xnnpack" and report["runtime"]["threads"] == 2
    assert report["sets"]["published"]["n"] == 12 and report["sets"]["wild"]["n"] == 12
    assert report["sets"]["wild"]["path"] == str(wild)  # host folders, not the phone's
    assert report["model"]["path"] == str(GOLDEN_MODEL)
    assert report["model"]["labels"] == ["circle", "square", "triangle"]
    assert "wild" in report["gaps"]
    html = (out / "report.html").read_text()
    assert "<img" in html and "published" in html
    assert len((out / "predictions.csv").read_text().splitlines()) == 25
    calls = fake_adb.calls()
    pushed = [c for c in calls if "push" in c]
    assert any(c[-1].endswith("/model.tflite") for c in pushed)
    assert (
        sum(len(c) - 4 for c in pushed if not c[-1].endswith(".tflite")) == 24
    )  # every image, once
    start = next(
        c
        for c in calls
        if len(c) > 3 and c[2] == "shell" and c[3].startswith("am start") and "EvalActivity" in c[3]
    )
    assert "--ei threads 2" in start[3] and "--es delegate xnnpack" in start[3]
    assert any("MainActivity" in c[-1] for c in calls if len(c) > 3), (
        "the app was started once to get its storage"
    )
    assert not any((fake_adb.device_root / FILES.lstrip("/") / "eval").iterdir()), (
        "the phone is left clean"
    )


def test_device_eval_with_fake_adb_without_adb_says_how_to_install(tmp_path, shape_sets):
    published, _ = shape_sets
    env = {"EDGEPOSINV_ADB": "", "PATH": str(tmp_path), "ANDROID_HOME": str(tmp_path)}
    res = run_cli(
        "device-eval",
        str(GOLDEN_MODEL),
        "--set",
        f"p={published}",
        "--report",
        str(tmp_path / "r"),
        env=env,
    )
    assert res.returncode == 1
    assert "adb not found" in res.stderr and "platform-tools" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"devices": {}}, "No Android device attached"),
        ({"devices": {"a1": "device", "b2": "device"}}, "choose one with --serial"),
        ({"devices": {"a1": "unauthorized"}}, "accept the USB debugging prompt"),
        ({"installed": False}, "is not installed"),
        ({"free_kb": 1000}, "Not enough free storage"),
        (
            {"app_error": "Set 'p': no images in /sdcard/x/<label>/"},
            "Evaluation failed on emulator-5554: Set 'p'",
        ),
    ],
)
def test_device_eval_with_fake_adb_reports_device_problems(
    fake_adb, shape_sets, tmp_path, change, message
):
    published, _ = shape_sets
    fake_adb.state.update(change)
    fake_adb.save()
    out = tmp_path / "r"
    res = run_cli(
        "device-eval",
        str(GOLDEN_MODEL),
        "--set",
        f"p={published}",
        "--report",
        str(out),
        env=fake_adb.env(),
    )
    assert res.returncode == 1, res.stdout
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists(), "no half-written report"


def test_device_eval_with_fake_adb_refuses_unknown_labels_before_pushing(fake_adb, tmp_path):
    sets = make_shapes_dataset(tmp_path / "s", n_per_class=1, size=32)
    (sets / "triangle").rename(sets / "hexagon")
    res = run_cli(
        "device-eval",
        str(GOLDEN_MODEL),
        "--set",
        f"w={sets}",
        "--report",
        str(tmp_path / "r"),
        env=fake_adb.env(),
    )
    assert res.returncode == 1
    assert "hexagon" in res.stderr and "circle, square, triangle" in res.stderr
    assert not any("push" in c for c in fake_adb.calls())


def _phone_capture(fake_adb, entries: dict[str, bytes]) -> Path:
    data = fake_adb.device_root / FILES.lstrip("/") / "datasets" / "DATA"
    lines = []
    for seq, (rel, content) in enumerate(entries.items(), 1):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(content)
        lines.append(
            json.dumps(
                {
                    "path": rel,
                    "label": rel.split("/")[0],
                    "session": rel.split("/")[1].rsplit("_", 1)[0],
                    "seq": seq,
                    "source": {"kind": "android", "id": "back"},
                }
            )
        )
    (data / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return data


def test_device_pull_with_fake_adb_merges_without_overwriting(fake_adb, tmp_path):
    _phone_capture(
        fake_adb,
        {
            "rock/S2_0001.jpg": b"phone-rock-1",
            "rock/S1_0001.jpg": b"phone-different",
            "paper/S2_0002.jpg": b"phone-paper",
        },
    )
    local = tmp_path / "DATA"
    (local / "rock").mkdir(parents=True)
    (local / "rock" / "S1_0001.jpg").write_bytes(b"local-original")
    (local / "manifest.jsonl").write_text(
        json.dumps({"path": "rock/S1_0001.jpg", "label": "rock", "session": "S1", "seq": 1}) + "\n"
    )

    res = run_cli("device-pull", str(local), env=fake_adb.env())
    assert res.returncode == 0, res.stderr
    assert "3 new image(s)" in res.stdout and "1 renamed" in res.stdout
    assert (local / "rock" / "S1_0001.jpg").read_bytes() == b"local-original"
    assert (local / "rock" / "S1_0001-device1.jpg").read_bytes() == b"phone-different"
    assert (local / "paper" / "S2_0002.jpg").read_bytes() == b"phone-paper"
    manifest = [json.loads(line) for line in (local / "manifest.jsonl").read_text().splitlines()]
    assert [m["path"] for m in manifest] == [
        "rock/S1_0001.jpg",
        "rock/S2_0001.jpg",
        "rock/S1_0001-device1.jpg",
        "paper/S2_0002.jpg",
    ]  # local lines first, then the phone's in order

    again = run_cli("device-pull", str(local), env=fake_adb.env())
    assert again.returncode == 0, again.stderr
    assert "0 new image(s)" in again.stdout and "+0 line(s)" in again.stdout
    assert len((local / "manifest.jsonl").read_text().splitlines()) == 4


def test_device_pull_with_fake_adb_gives_a_dataset_train_reads(fake_adb, tmp_path):
    import cv2
    import numpy as np

    from edgeposinv.data.dataset import scan_dataset

    ok, jpg = cv2.imencode(".jpg", np.full((24, 24, 3), 128, np.uint8))
    assert ok
    _phone_capture(fake_adb, {"rock/S_0001.jpg": jpg.tobytes(), "paper/S_0002.jpg": jpg.tobytes()})
    res = run_cli("device-pull", str(tmp_path / "DATA"), env=fake_adb.env())
    assert res.returncode == 0, res.stderr
    index = scan_dataset(tmp_path / "DATA")
    assert index.labels == ("paper", "rock")
    assert len(index.records) == 2


def test_device_pull_with_fake_adb_without_captures_explains(fake_adb, tmp_path):
    res = run_cli("device-pull", str(tmp_path / "DATA"), env=fake_adb.env())
    assert res.returncode == 1
    assert "No captured dataset" in res.stderr


def test_device_eval_with_fake_adb_pushes_unknown_sets(fake_adb, shape_sets, tmp_path):
    published, _ = shape_sets
    # Any folder layout: the sub-folders are kept on the phone (names may repeat across them).
    unknown = make_shapes_dataset(tmp_path / "shelves", n_per_class=2, size=40, seed=3)
    n_unknown = sum(1 for p in unknown.rglob("*") if p.is_file() and p.suffix != ".jsonl")
    out = tmp_path / "device-report"
    res = run_cli(
        "device-eval",
        str(GOLDEN_MODEL),
        "--set",
        f"published={published}",
        "--unknown-set",
        f"shelves={unknown}",
        "--report",
        str(out),
        env=fake_adb.env(),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "shelves: unknown;" in res.stdout and "AUROC" in res.stdout
    report = json.loads((out / "report.json").read_text())
    shelves = report["open_set"]["unknown_sets"]["shelves"]
    assert shelves["n"] == n_unknown and shelves["path"] == str(unknown)
    assert "published|shelves" in report["open_set"]["separation"]
    pair = report["open_set"]["separation"]["published|shelves"]
    lo, hi = pair["auroc_ci95"]  # bootstrapped on the host from the phone's predictions.csv
    assert 0.0 <= lo <= pair["auroc"] <= hi <= 1.0
    assert pair["bootstrap"]["by"] == "host, from predictions.csv"
    calls = fake_adb.calls()
    start = next(c for c in calls if len(c) > 3 and "EvalActivity" in c[3])
    assert "--es unknown_sets shelves=" in start[3] and "/unknown/shelves" in start[3]
    pushed_unknown = [c for c in calls if "push" in c and "/unknown/shelves/" in c[-1]]
    assert sum(len(c) - 4 for c in pushed_unknown) == n_unknown


def test_device_eval_with_fake_adb_refuses_a_clashing_unknown_set_name(
    fake_adb, shape_sets, tmp_path
):
    published, wild = shape_sets
    res = run_cli(
        "device-eval",
        str(GOLDEN_MODEL),
        "--set",
        f"published={published}",
        "--unknown-set",
        f"published={wild}",
        "--report",
        str(tmp_path / "r"),
        env=fake_adb.env(),
    )
    assert res.returncode == 1
    assert "names must be unique" in res.stderr and "Traceback" not in res.stderr
    assert not any("push" in c for c in fake_adb.calls()), "nothing is pushed"
