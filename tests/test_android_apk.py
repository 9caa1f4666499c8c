"""`edgeposinv android-apk`: inputs checked before any work, one-line errors, and (slow) a real APK."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from edgeposinv.device import apk
from edgeposinv.errors import ConfigError, ModelError, OutputExistsError
from tests.conftest import REPO, run_cli

GOLDEN_MODEL = REPO / "tests" / "golden" / "shapes_int8.tflite"


def test_abis_default_to_all_four_and_refuse_unknown_names():
    assert apk.parse_abis(None) == apk.ABIS
    assert apk.parse_abis("arm64-v8a, x86_64,arm64-v8a") == ("arm64-v8a", "x86_64")
    with pytest.raises(ConfigError, match=r"'abis' must be .*arm64-v8a.*got 'arm64'"):
        apk.parse_abis("arm64")


def test_the_three_builds_use_the_same_versions():
    """The APK build, the CI Maven build (pom.xml) and the Gradle project name the same libraries and SDK levels."""
    project = apk.find_project()
    gradle = (project / "app" / "build.gradle").read_text("utf-8")
    declared = set(re.findall(r"^\s*implementation '([^']+)'", gradle, re.MULTILINE))
    deps = apk.dependencies(project)
    libraries = {
        f"{a.group}:{a.name}:{a.version}" for n, a in deps.items() if n not in ("android-all", "r8")
    }
    tflite = next(
        v.split(":")[2] for v in declared if v.startswith("org.tensorflow:tensorflow-lite:")
    )
    # Gradle gets the Java API through tensorflow-lite's POM; the APK build names it.
    assert libraries == declared | {f"org.tensorflow:tensorflow-lite-api:{tflite}"}
    config = apk.gradle_config(project)
    assert (config["applicationId"], config["minSdk"]) == ("org.edgeposinv.demo", "24")


def test_bad_inputs_are_refused_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="must be a .apk file"):
        apk.build_apk(tmp_path / "demo.zip")
    existing = tmp_path / "demo.apk"
    existing.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        apk.build_apk(existing)
    with pytest.raises(ConfigError, match="does not exist or is not writable"):
        apk.build_apk(tmp_path / "missing" / "demo.apk")
    with pytest.raises(ModelError, match=r"No model at .*nowhere.*models/<name> folder"):
        apk.build_apk(tmp_path / "new.apk", model=tmp_path / "nowhere")
    not_a_model = tmp_path / "labels.tflite"
    not_a_model.write_text("rock\npaper\n")
    with pytest.raises(ModelError, match="not a TFLite model"):
        apk.build_apk(tmp_path / "new.apk", model=not_a_model)
    with pytest.raises(ConfigError, match="No Android app project"):
        apk.build_apk(tmp_path / "new.apk", project=tmp_path)
    assert existing.read_bytes() == b"old"
    assert not (tmp_path / "new.apk").exists()


def test_missing_tools_are_one_line_naming_the_packages(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    r = run_cli(
        "android-apk",
        "--out",
        str(tmp_path / "demo.apk"),
        "--model",
        str(GOLDEN_MODEL),
        env={"PATH": str(empty)},
    )
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Building the APK needs java, javac, keytool, aapt2, zipalign, apksigner" in lines[0]
    assert lines[0].endswith("apt-get install aapt apksigner openjdk-17-jdk-headless zipalign")
    assert not (tmp_path / "demo.apk").exists()


def test_a_bad_abi_is_a_usage_error(tmp_path):
    r = run_cli("android-apk", "--out", str(tmp_path / "demo.apk"), "--abi", "mips")
    assert r.returncode == 2
    assert "--abi" in r.stderr and "got 'mips'" in r.stderr


def _tools_or_skip() -> None:
    missing = [t for t in (*apk.TOOL_PACKAGES, "dexdump") if shutil.which(t) is None]
    if missing:
        pytest.skip(
            f"the APK build needs {', '.join(missing)} (Debian: apt-get install aapt apksigner zipalign "
            "dexdump openjdk-17-jdk-headless); not installed here"
        )


@pytest.mark.slow
def test_a_real_signed_apk_with_the_model_byte_for_byte(tmp_path):
    _tools_or_skip()
    out = tmp_path / "demo.apk"
    r = run_cli("android-apk", "--out", str(out), "--model", str(GOLDEN_MODEL), "--abi", "x86_64")
    assert r.returncode == 0, r.stderr
    assert f"adb install -r {out}" in r.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["demo.apk"], (
        "no temporary file left beside the output"
    )

    with zipfile.ZipFile(out) as z:
        model = z.getinfo("assets/model.tflite")
        assert model.compress_type == zipfile.ZIP_STORED, "models are memory-mapped from the APK"
        assert z.read(model) == GOLDEN_MODEL.read_bytes()
        assert z.read("assets/labels.txt").decode().split() == ["circle", "square", "triangle"]
        libs = sorted(n for n in z.namelist() if n.startswith("lib/"))
        assert libs == [
            "lib/x86_64/libtensorflowlite_gpu_jni.so",
            "lib/x86_64/libtensorflowlite_jni.so",
        ]
        assert all(z.getinfo(n).compress_type == zipfile.ZIP_STORED for n in libs)
        assert "classes.dex" in z.namelist()

    offsets = apk.native_code_offsets(out)
    assert len(offsets) == 2 and all(o % 16384 == 0 for o in offsets.values()), offsets
    subprocess.run(["apksigner", "verify", str(out)], check=True, capture_output=True)
    subprocess.run(["zipalign", "-c", "-p", "4", str(out)], check=True, capture_output=True)
    badging = subprocess.run(
        ["aapt2", "dump", "badging", str(out)], check=True, capture_output=True, text=True
    ).stdout
    assert "package: name='org.edgeposinv.demo'" in badging
    assert "sdkVersion:'24'" in badging
    assert "uses-permission: name='android.permission.CAMERA'" in badging
    assert "launchable-activity: name='org.edgeposinv.demo.MainActivity'" in badging
    assert "native-code: 'x86_64'" in badging
    dex = subprocess.run(["dexdump", str(out)], capture_output=True, text=True).stdout
    for cls in ("Lorg/edgeposinv/demo/EvalActivity;", "Lorg/tensorflow/lite/Interpreter;"):
        assert f"'{cls}'" in dex

    # Rebuilding over it needs --overwrite, and keeps the same debug key (installs over the old one).
    r = run_cli("android-apk", "--out", str(out), "--abi", "x86_64")
    assert r.returncode == 1 and "--overwrite" in r.stderr
    before = _signer(out)
    r = run_cli("android-apk", "--out", str(out), "--abi", "x86_64", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert _signer(out) == before
    with zipfile.ZipFile(out) as z:
        assert (
            "assets/model.tflite" not in z.namelist()
            or Path(
                REPO / "android_demo" / "app" / "src" / "main" / "assets" / "model.tflite"
            ).is_file()
        )


def _signer(path: Path) -> str:
    certs = subprocess.run(
        ["apksigner", "verify", "--print-certs", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return next(line for line in certs.splitlines() if "SHA-256" in line)
