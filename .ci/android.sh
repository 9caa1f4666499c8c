#!/usr/bin/env bash
# Build the Android app's Java sources with Maven and run their JVM tests (golden vectors).
# Every source under android_demo/app/src/main/java is compiled against the real Android
# framework classes (Robolectric android-all) and the real TensorFlow Lite Java API (.aar
# files from Maven Central); a compile error or a failing test fails this script.
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
mvn -B -ntp -f android_demo/maven/pom.xml clean test >"$log" 2>&1 || status=$?
# The compiler's and Surefire's verdicts, not Maven's whole transcript.
grep -E "ERROR|BUILD|Tests run:|FAIL|max\|diff\||extracted" "$log" || true
if [ "$status" -ne 0 ]; then
    echo "android.sh: Maven build failed (exit $status); last lines:" >&2
    tail -n 60 "$log" >&2
    exit "$status"
fi
