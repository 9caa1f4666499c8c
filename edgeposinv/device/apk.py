"""Build the Android app (``android_demo/``) as a signed debug APK, without Android Studio.

The chain uses Debian's Android build tools and jars from Maven Central only:

1. ``aapt2 link``: the app's manifest (package, SDK levels and version from
   ``app/build.gradle``; the TensorFlow Lite libraries' ``<uses-native-library>`` merged in)
   and its assets, ``.tflite`` files stored uncompressed so the app can memory-map them.
   The platform is Robolectric's ``android-all`` jar (its ``resources.arsc``).
2. ``javac --release 11`` over ``app/src/main/java`` against ``android-all`` and the
   TensorFlow Lite Java API taken out of the ``.aar`` files.
3. D8 (``com.android.tools:r8``) with ``--min-api`` = minSdk: Java bytecode → ``classes.dex``,
   lambdas desugared.
4. ``classes*.dex`` and ``lib/<abi>/*.so`` added, native code stored and aligned to 16 KB in
   the zip (as ``zipalign -p`` does for 4 KB pages, and AGP 8.5+ for 16 KB), then
   ``apksigner sign`` with a debug key generated once, and ``zipalign -c -p 4`` to check.

Downloads and the debug key are cached in ``$XDG_CACHE_HOME/edgeposinv/android`` (by
default ``~/.cache/edgeposinv/android``); jars already in ``~/.m2/repository`` are used as
they are. The versions are those of the CI Maven build (``android_demo/maven/pom.xml``),
which are those of the Gradle project. No TensorFlow is imported here.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgeposinv.device.android_project import (
    Artifact,
    cache_dir,
    dependencies,
    fetch,
    find_project,
    gradle_config,
)
from edgeposinv.device.apk_zip import SO_ALIGNMENT_BYTES, assemble, native_code_offsets
from edgeposinv.errors import ApkBuildError, ConfigError, ModelError, OutputExistsError

__all__ = [
    "ABIS",
    "ApkBuildError",
    "ApkResult",
    "Artifact",
    "build_apk",
    "cache_dir",
    "check_tools",
    "dependencies",
    "fetch",
    "find_project",
    "gradle_config",
    "model_labels",
    "native_code_offsets",
    "parse_abis",
    "resolve_model",
]

log = logging.getLogger(__name__)

ABIS = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
MODEL_ASSET = "model.tflite"
LABELS_ASSET = "labels.txt"
#: The Debian package that provides each tool the build runs.
TOOL_PACKAGES = {
    "java": "openjdk-17-jdk-headless",
    "javac": "openjdk-17-jdk-headless",
    "keytool": "openjdk-17-jdk-headless",
    "aapt2": "aapt",
    "zipalign": "zipalign",
    "apksigner": "apksigner",
}
_ANDROID_NS = "http://schemas.android.com/apk/res/android"
_DEBUG_KEY_PASS = "android"  # the well-known Android debug keystore convention
_KEYTOOL = "keytool -genkeypair -alias androiddebugkey -keyalg RSA -keysize 2048 -validity 10000"


@dataclass(frozen=True)
class ApkResult:
    path: Path
    size_bytes: int
    abis: tuple[str, ...]
    model: Path | None
    labels: int
    seconds: float


def check_tools() -> None:
    """Every command-line tool the build runs is present, or one line says what to install."""
    missing = [t for t in TOOL_PACKAGES if shutil.which(t) is None]
    if missing:
        packages = sorted({TOOL_PACKAGES[t] for t in missing})
        raise ApkBuildError(
            f"Building the APK needs {', '.join(missing)} (not found on PATH); "
            f"install them with: sudo apt-get install {' '.join(packages)}"
        )


def parse_abis(text: str | None) -> tuple[str, ...]:
    if not text:
        return ABIS
    abis = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    bad = [a for a in abis if a not in ABIS]
    if bad or not abis:
        raise ConfigError(
            f"'abis' must be a comma-separated choice of {', '.join(ABIS)}; got {text!r}"
        )
    return abis


def resolve_model(model: str | os.PathLike | None) -> Path | None:
    """A ``.tflite`` file, or a ``models/<name>/`` folder holding ``model.tflite``."""
    if model is None:
        return None
    p = Path(model)
    if p.is_dir():
        p = p / MODEL_ASSET
    if not p.is_file():
        raise ModelError(
            f"No model at {model} (expected a .tflite file or a models/<name> folder with {MODEL_ASSET})"
        )
    if p.read_bytes()[4:8] != b"TFL3":
        raise ModelError(
            f"{p} is not a TFLite model (no 'TFL3' identifier); pass a .tflite written by edgeposinv export"
        )
    return p


def model_labels(model: Path) -> list[str]:
    """The labels embedded by ``edgeposinv export``, or those of its JSON sidecar; [] for a foreign model."""
    from edgeposinv.tflite.metadata import read_contract

    contract = read_contract(model.read_bytes())
    if contract and contract.get("labels"):
        return list(contract["labels"])
    for sidecar in (model.with_suffix(".json"), model.parent / "MODEL.json"):
        if sidecar.is_file():
            import json

            labels = json.loads(sidecar.read_text("utf-8")).get("labels")
            if labels:
                return list(labels)
    return []


def _run(args: Sequence[str | os.PathLike], what: str, cwd: Path | None = None) -> str:
    log.debug("$ %s", " ".join(map(str, args)))
    p = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        detail = (p.stderr.strip() or p.stdout.strip()).splitlines()
        raise ApkBuildError(
            f"{what} failed (exit {p.returncode}): {' | '.join(detail[-5:]) or 'no output'}"
        )
    return p.stdout


def _manifest(
    project: Path, config: dict[str, str], library_manifests: list[bytes], out: Path
) -> None:
    """The app's manifest as Gradle would merge it: package, version, SDK levels, libraries' native-library uses."""
    ET.register_namespace("android", _ANDROID_NS)
    root = ET.parse(project / "app" / "src" / "main" / "AndroidManifest.xml").getroot()
    a = f"{{{_ANDROID_NS}}}"
    root.set("package", config["applicationId"])
    root.set(f"{a}versionCode", config["versionCode"])
    root.set(f"{a}versionName", config["versionName"])
    sdk = ET.Element(
        "uses-sdk",
        {f"{a}minSdkVersion": config["minSdk"], f"{a}targetSdkVersion": config["targetSdk"]},
    )
    root.insert(0, sdk)
    app = root.find("application")
    if app is None:
        raise ApkBuildError(
            f"No <application> in {project / 'app' / 'src' / 'main' / 'AndroidManifest.xml'}"
        )
    app.set(f"{a}debuggable", "true")  # a debug build, as Gradle's installDebug
    app.set(f"{a}extractNativeLibs", "false")  # .so stored and page-aligned: loaded from the APK
    have = {e.get(f"{a}name") for e in app.findall("uses-native-library")}
    for data in library_manifests:
        lib_app = ET.fromstring(data).find("application")
        for e in [] if lib_app is None else lib_app.findall("uses-native-library"):
            if e.get(f"{a}name") not in have:
                have.add(e.get(f"{a}name"))
                app.append(ET.Element("uses-native-library", dict(e.attrib)))
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)


def _debug_keystore(cache: Path) -> Path:
    """One debug key per machine, so that a rebuilt APK installs over the previous one."""
    ks = cache / "debug.keystore"
    if not ks.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f".debug.keystore.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        dname = ["-dname", "CN=Android Debug,O=Android,C=US", "-storetype", "PKCS12"]
        passes = ["-storepass", _DEBUG_KEY_PASS, "-keypass", _DEBUG_KEY_PASS]
        _run([*_KEYTOOL.split(), *dname, *passes, "-keystore", tmp], "keytool (debug key)")
        os.replace(tmp, ks)
    return ks


def _stage_assets(project: Path, model: Path | None, labels: list[str], dest: Path) -> None:
    """The app's assets folder (as Gradle packs it); a given model replaces any bundled one."""
    src = project / "app" / "src" / "main" / "assets"
    dest.mkdir(parents=True)
    if src.is_dir():
        for f in sorted(src.iterdir()):
            if f.is_file() and not (model is not None and f.name in (MODEL_ASSET, LABELS_ASSET)):
                shutil.copy2(f, dest / f.name)
    if model is not None:
        shutil.copyfile(model, dest / MODEL_ASSET)
        if labels:
            (dest / LABELS_ASSET).write_text("\n".join(labels) + "\n", encoding="utf-8")


def _unpack_aars(
    deps: dict[str, Path], abis: tuple[str, ...], dest: Path
) -> tuple[list[Path], list[bytes], dict[str, bytes]]:
    """The Java libraries (an .aar's classes.jar, or a plain jar), the .aar manifests, and the
    native code for ``abis`` as APK entry name → bytes."""
    libs, manifests, so_files = [], [], {}
    for name, path in deps.items():
        if path.suffix != ".aar":
            if name not in ("android-all", "r8"):
                libs.append(path)
            continue
        with zipfile.ZipFile(path) as z:
            (dest / name).mkdir(parents=True)
            libs.append(dest / name / "classes.jar")
            libs[-1].write_bytes(z.read("classes.jar"))
            manifests.append(z.read("AndroidManifest.xml"))
            for entry in z.namelist():
                parts = entry.split("/")
                if (
                    len(parts) == 3
                    and parts[0] == "jni"
                    and parts[1] in abis
                    and parts[2].endswith(".so")
                ):
                    so_files[f"lib/{parts[1]}/{parts[2]}"] = z.read(entry)
    missing = [a for a in abis if not any(k.startswith(f"lib/{a}/") for k in so_files)]
    if missing:
        raise ApkBuildError(
            f"The TensorFlow Lite .aar files have no native code for {', '.join(missing)}"
        )
    return libs, manifests, so_files


def _dex(
    project: Path, platform: Path, libs: list[Path], r8: Path, min_sdk: str, tmp: Path
) -> Path:
    """javac over the app's sources, then D8 over them and the libraries: a folder of classes*.dex."""
    sources = tmp / "sources.txt"
    java = sorted(str(p) for p in (project / "app" / "src" / "main" / "java").rglob("*.java"))
    sources.write_text("\n".join(java) + "\n", encoding="utf-8")
    classes, app_jar, dex = tmp / "classes", tmp / "app.jar", tmp / "dex"
    classpath = os.pathsep.join(map(str, [platform, *libs]))
    javac = "javac --release 11 -encoding UTF-8 -nowarn"
    _run([*javac.split(), "-d", classes, "-cp", classpath, f"@{sources}"], "javac")
    with zipfile.ZipFile(app_jar, "w") as z:
        for f in sorted(classes.rglob("*.class")):
            z.write(f, f.relative_to(classes).as_posix())
    dex.mkdir()
    d8: list[str | os.PathLike] = [
        "java",
        "-Xmx2g",
        "-cp",
        r8,
        "com.android.tools.r8.D8",
        "--release",
        "--min-api",
        min_sdk,
    ]
    _run([*d8, "--lib", platform, "--output", dex, app_jar, *libs], "D8")
    return dex


def build_apk(
    out: str | os.PathLike,
    model: str | os.PathLike | None = None,
    abis: tuple[str, ...] = ABIS,
    overwrite: bool = False,
    project: str | os.PathLike | None = None,
) -> ApkResult:
    """Build a signed debug APK of the app into ``out`` (written atomically); ``model`` goes in
    its assets byte for byte. Inputs and the output location are checked before any work."""
    t0 = time.monotonic()
    out = Path(out)
    if out.suffix != ".apk":
        raise ConfigError(f"'out' must be a .apk file; got {out}")
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"{out} already exists; choose another path or pass --overwrite to replace it"
        )
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise ConfigError(
            f"Cannot write {out}: its folder {out.parent} does not exist or is not writable"
        )
    if not abis or any(a not in ABIS for a in abis):
        raise ConfigError(
            f"'abis' must be a non-empty choice of {', '.join(ABIS)}; got {', '.join(abis) or 'none'}"
        )
    proj = find_project(project)
    model_path = resolve_model(model)
    labels = model_labels(model_path) if model_path else []
    check_tools()
    config = gradle_config(proj)
    cache = cache_dir()
    deps = {name: fetch(a, cache) for name, a in dependencies(proj).items()}
    platform = deps["android-all"]

    with tempfile.TemporaryDirectory(prefix="edgeposinv-apk-") as tmpdir:
        tmp = Path(tmpdir)
        libs, manifests, so_files = _unpack_aars(deps, abis, tmp / "aar")
        _manifest(proj, config, manifests, tmp / "AndroidManifest.xml")
        _stage_assets(proj, model_path, labels, tmp / "assets")
        base = tmp / "base.apk"
        link: list[str | os.PathLike] = [
            "aapt2",
            "link",
            "-o",
            base,
            "--manifest",
            tmp / "AndroidManifest.xml",
            "-I",
            platform,
        ]
        link += ["-A", tmp / "assets", "-0", "tflite", "--warn-manifest-validation"]
        link += ["--min-sdk-version", config["minSdk"], "--target-sdk-version", config["targetSdk"]]
        link += ["--version-code", config["versionCode"], "--version-name", config["versionName"]]
        _run(link, "aapt2 link")
        dex = _dex(proj, platform, libs, deps["r8"], config["minSdk"], tmp)
        assemble(base, dex, so_files, tmp / "aligned.apk")
        signed = out.parent / f".{out.name}.{os.getpid()}.tmp"
        key: list[str | os.PathLike] = [
            "--ks",
            _debug_keystore(cache),
            "--ks-key-alias",
            "androiddebugkey",
        ]
        key += ["--ks-pass", f"pass:{_DEBUG_KEY_PASS}", "--key-pass", f"pass:{_DEBUG_KEY_PASS}"]
        try:
            _run(
                ["apksigner", "sign", *key, "--out", signed, tmp / "aligned.apk"], "apksigner sign"
            )
            _run(["zipalign", "-c", "-p", "4", signed], "zipalign -c (the signed APK's alignment)")
            misaligned = [
                n for n, o in native_code_offsets(signed).items() if o % SO_ALIGNMENT_BYTES
            ]
            if misaligned:
                raise ApkBuildError(
                    f"apksigner moved native code off 16 KB alignment: {', '.join(misaligned)}"
                )
            os.replace(signed, out)
        finally:
            signed.unlink(missing_ok=True)
            Path(f"{signed}.idsig").unlink(
                missing_ok=True
            )  # the v4 signature newer apksigners write
    seconds = time.monotonic() - t0
    return ApkResult(out, out.stat().st_size, tuple(abis), model_path, len(labels), seconds)
