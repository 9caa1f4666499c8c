#!/usr/bin/env bash
# Build the Android app's Java sources with Maven and run their JVM tests (golden vectors, and
# the activities and camera lifecycle under Robolectric), then build the real APK and check it
# (.ci/apk.sh). Every source under android_demo/app/src/main/java is compiled against the real
# Android framework classes (Robolectric android-all) and the real TensorFlow Lite Java API (.aar
# files from Maven Central); a compile error or a failing test fails this script.
# Cached between runs: ~/.m2 (Maven, Robolectric's android-all-instrumented jars) and
# ~/.cache/edgeposinv/android (D8, the APK's debug key).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq maven openjdk-17-jdk-headless >/dev/null
    else
        echo "android.sh: Maven and a JDK 17 are needed (mvn, javac)" >&2
        exit 1
    fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
start=$(date +%s)
mvn -B -ntp -f android_demo/maven/pom.xml clean test >"$log" 2>&1 || status=$?
# The compiler's and Surefire's verdicts, not Maven's whole transcript.
grep -E "ERROR|BUILD|Tests run:|FAIL|max\|diff\||extracted" "$log" || true
if [ "$status" -ne 0 ]; then
    echo "android.sh: Maven build failed (exit $status); last lines:" >&2
    tail -n 60 "$log" >&2
    exit "$status"
fi
echo "android.sh: Maven build and JVM tests in $(($(date +%s) - start)) s"

# The report the Java evaluation mode wrote in its test must render with the host's renderer.
report=android_demo/maven/app/target/test-out/device-report/report.json
py=""
for candidate in ${PYTHON:-} .venv/bin/python python python3; do
    if PYTHONPATH=$PWD "$candidate" -c "import edgeposinv.evaluation.report" 2>/dev/null; then
        py=$candidate
        break
    fi
done
if [ -n "$py" ]; then
    PYTHONPATH=$PWD "$py" - "$report" <<'PY'
import json, sys
from edgeposinv.evaluation.report import render_report_html
report = json.load(open(sys.argv[1]))
assert report["generator"]["host"] == "android", report["generator"]
html = render_report_html(report)
assert "<img" in html and "wild" in html
print(f"android.sh: the Java-written report.json renders on the host ({len(html)} bytes of HTML)")
PY
else
    echo "android.sh: NOTE: no python here imports edgeposinv (set PYTHON=...); the Java report was not rendered"
fi

echo "== .ci/apk.sh"
bash .ci/apk.sh
