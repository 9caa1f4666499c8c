"""The Android app's project as the APK build reads it: where it is, its Gradle settings and
its libraries' versions, and those libraries fetched from Maven Central into a cache."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from edgeposinv.errors import ApkBuildError, ConfigError

__all__ = [
    "MAVEN_CENTRAL",
    "R8_VERSION",
    "Artifact",
    "cache_dir",
    "dependencies",
    "fetch",
    "find_project",
    "gradle_config",
]

log = logging.getLogger(__name__)

R8_VERSION = "8.7.18"
MAVEN_CENTRAL = "https://repo1.maven.org/maven2"


@dataclass(frozen=True)
class Artifact:
    """One file on a Maven repository."""

    group: str
    name: str
    version: str
    ext: str = "jar"

    @property
    def path(self) -> str:
        return f"{self.group.replace('.', '/')}/{self.name}/{self.version}/{self.name}-{self.version}.{self.ext}"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgeposinv" / "android"


def find_project(project: str | os.PathLike | None = None) -> Path:
    """The ``android_demo`` folder: the one given, or the source checkout's (beside ``edgeposinv/``, or in the cwd)."""
    if project is not None:
        candidates = [Path(project)]
    else:
        here = Path(__file__).resolve()
        candidates = [p / "android_demo" for p in here.parents] + [Path.cwd() / "android_demo"]
    for c in candidates:
        if (c / "app" / "src" / "main" / "AndroidManifest.xml").is_file():
            return c
    where = candidates[0] if project is not None else "this source checkout"
    raise ConfigError(
        f"No Android app project (android_demo/app/src/main/AndroidManifest.xml) in {where}; "
        "android-apk builds from a source checkout of edgeposinv: run it there or pass its android_demo folder"
    )


def gradle_config(project: Path) -> dict[str, str]:
    """applicationId, minSdk, targetSdk, versionCode, versionName from ``app/build.gradle`` (one source of truth)."""
    text = (project / "app" / "build.gradle").read_text("utf-8")
    config = {}
    for key in ("applicationId", "minSdk", "targetSdk", "versionCode", "versionName"):
        m = re.search(rf"^\s*{key}\s+'?([\w.]+)'?\s*$", text, re.MULTILINE)
        if m is None:
            raise ApkBuildError(
                f"No '{key}' in {project / 'app' / 'build.gradle'}; the APK build reads it from there"
            )
        config[key] = m.group(1)
    return config


def dependencies(project: Path) -> dict[str, Artifact]:
    """The platform jar, D8 and the app's libraries, at the versions of ``android_demo/maven/pom.xml``."""
    pom = project / "maven" / "pom.xml"
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    properties = ET.parse(pom).getroot().find("m:properties", ns)
    if properties is None:
        raise ApkBuildError(
            f"No <properties> in {pom}; the APK build reads the library versions there"
        )
    props = {e.tag.split("}")[1]: (e.text or "").strip() for e in properties}
    tfl = props["tflite.version"]
    return {
        "android-all": Artifact("org.robolectric", "android-all", props["android.all.version"]),
        "r8": Artifact("com.android.tools", "r8", R8_VERSION),
        "tensorflow-lite": Artifact("org.tensorflow", "tensorflow-lite", tfl, "aar"),
        "tensorflow-lite-api": Artifact("org.tensorflow", "tensorflow-lite-api", tfl, "aar"),
        "tensorflow-lite-gpu": Artifact("org.tensorflow", "tensorflow-lite-gpu", tfl, "aar"),
        "tensorflow-lite-gpu-api": Artifact(
            "org.tensorflow", "tensorflow-lite-gpu-api", props["tflite.gpu.api.version"], "aar"
        ),
        "tensorflow-lite-metadata": Artifact(
            "org.tensorflow", "tensorflow-lite-metadata", props["tflite.metadata.version"]
        ),
        "flatbuffers-java": Artifact(
            "com.google.flatbuffers", "flatbuffers-java", props["flatbuffers.version"]
        ),
    }


def fetch(artifact: Artifact, cache: Path) -> Path:
    """The artifact from ~/.m2, from the cache, or downloaded (checked against its .sha1) into the cache."""
    local = Path.home() / ".m2" / "repository" / artifact.path
    if local.is_file():
        return local
    target = cache / "maven" / artifact.path
    if target.is_file():
        return target
    base = os.environ.get("EDGEPOSINV_MAVEN_URL", MAVEN_CENTRAL).rstrip("/")
    url = f"{base}/{artifact.path}"
    log.info("downloading %s", url)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        sha1 = hashlib.sha1()
        with urllib.request.urlopen(url, timeout=60) as r, os.fdopen(fd, "wb") as f:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                sha1.update(chunk)
                f.write(chunk)
        with urllib.request.urlopen(url + ".sha1", timeout=60) as r:
            expected = r.read().decode("ascii").split()[0].strip().lower()
        if sha1.hexdigest() != expected:
            raise ApkBuildError(
                f"{url}: SHA-1 {sha1.hexdigest()} does not match the repository's {expected}; try again"
            )
        os.replace(tmp, target)
    except OSError as e:  # URLError is an OSError
        raise ApkBuildError(
            f"Cannot download {url} ({e}); the APK build needs Maven Central "
            "(or a mirror in $EDGEPOSINV_MAVEN_URL) once, then works from the cache"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
