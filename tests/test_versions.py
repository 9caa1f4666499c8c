"""One version: ``edgeposinv/__init__.py``. Everything that repeats it must agree."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

from edgeposinv import __version__

ANDROID = REPO / "android_demo"


@pytest.mark.parametrize(
    "path, pattern",
    [
        ("app/build.gradle", r"versionName '([^']+)'"),
        (
            "app/src/main/java/org/edgeposinv/demo/core/Evaluation.java",
            r'put\("name", "edgeposinv"\)\.put\("version", "([^"]+)"\)',
        ),
        *(
            (
                pom,
                r"<groupId>org\.edgeposinv</groupId>\s*<artifactId>[^<]+</artifactId>\s*"
                r"<version>([^<$]+)</version>",
            )
            for pom in ("maven/pom.xml", "maven/app/pom.xml", "maven/tflite-classes/pom.xml")
        ),
    ],
)
def test_the_android_app_carries_the_package_version(path, pattern):
    text = (ANDROID / path).read_text(encoding="utf-8")
    found = re.findall(pattern, text)
    assert found, f"{path}: no version found by {pattern!r}"
    assert set(found) == {__version__}, f"{path} says {found}, edgeposinv is {__version__}"
