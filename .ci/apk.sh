#!/usr/bin/env bash
# Build the Android app as a real, signed APK (edgeposinv android-apk: Debian's aapt2, zipalign,
# apksigner; D8, the platform jar and TensorFlow Lite from Maven Central, cached in
# ~/.cache/edgeposinv/android) and check what a phone will check, and what the app needs:
# the signature, the alignment, the manifest (package, minSdk 24, CAMERA, launchable MainActivity,
# the GPU delegate's <uses-native-library> entries,
# native code for the chosen ABIs, 16 KB-aligned in the zip), the app's and TensorFlow Lite's
# classes in the dex, the model byte-identical and stored uncompressed. Called by .ci/android.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v aapt2 >/dev/null || need+=(aapt)
command -v apksigner >/dev/null || need+=(apksigner)
command -v zipalign >/dev/null || need+=(zipalign)
command -v dexdump >/dev/null || need+=(dexdump)
command -v readelf >/dev/null || need+=(binutils)
command -v unzip >/dev/null || need+=(unzip)
if ((${#need[@]})); then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "apk.sh: needs the Debian packages: ${need[*]}" >&2
        exit 1
    fi
fi

py=""
for candidate in ${PYTHON:-} .venv/bin/python python python3; do
    if PYTHONPATH=$PWD "$candidate" -c "import edgeposinv.device.apk" 2>/dev/null; then
        py=$candidate
        break
    fi
done
if [ -z "$py" ]; then
    echo "apk.sh: no Python here imports edgeposinv (set PYTHON=...); the APK build runs 'edgeposinv android-apk'" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
apk=$work/demo.apk
model=tests/golden/shapes_int8.tflite
abis=arm64-v8a,x86_64
fail() { echo "apk.sh: FAIL: $*" >&2; exit 1; }

start=$(date +%s)
PYTHONPATH=$PWD "$py" -m edgeposinv android-apk --out "$apk" --model "$model" --abi "$abis"
echo "apk.sh: built in $(($(date +%s) - start)) s"

apksigner verify --min-sdk-version 24 "$apk" || fail "apksigner verify"
zipalign -c -p 4 "$apk" || fail "zipalign -c -p 4: not aligned"

badging=$(aapt2 dump badging "$apk")
expect() { grep -qF -- "$1" <<<"$badging" || fail "aapt2 dump badging has no \"$1\""; }
expect "package: name='org.edgeposinv.demo'"
expect "sdkVersion:'24'"
expect "uses-permission: name='android.permission.CAMERA'"
expect "launchable-activity: name='org.edgeposinv.demo.MainActivity'"
native=$(grep '^native-code:' <<<"$badging")
[ "$native" = "native-code: 'arm64-v8a' 'x86_64'" ] || fail "native code is '$native', expected arm64-v8a and x86_64 only"
grep -E "^(package|sdkVersion|targetSdkVersion|uses-permission|launchable-activity|native-code)" <<<"$badging"
manifest=$(aapt2 dump xmltree --file AndroidManifest.xml "$apk")
for lib in libOpenCL.so libOpenCL-car.so libOpenCL-pixel.so; do  # the GPU delegate's, merged as Gradle merges them
    grep -qF "=\"$lib\"" <<<"$manifest" || fail "the manifest has no <uses-native-library> for $lib"
done

classes=$(dexdump "$apk" 2>/dev/null | grep -F 'Class descriptor' || true)
for c in org/edgeposinv/demo/MainActivity org/edgeposinv/demo/LiveActivity org/edgeposinv/demo/CaptureActivity \
         org/edgeposinv/demo/EvalActivity org/edgeposinv/demo/camera/CameraSource org/edgeposinv/demo/ui/Views \
         org/edgeposinv/demo/core/Evaluation org/tensorflow/lite/Interpreter org/tensorflow/lite/gpu/GpuDelegate; do
    grep -qF "'L$c;'" <<<"$classes" || fail "dexdump: no class $c in the APK"
done
echo "apk.sh: dexdump: $(grep -c . <<<"$classes") classes, the app's and org.tensorflow.lite.Interpreter among them"

unzip -p "$apk" assets/model.tflite | cmp - "$model" || fail "assets/model.tflite differs from $model"
listing=$(unzip -v "$apk" assets/model.tflite)
grep -q ' Stored ' <<<"$listing" || fail "assets/model.tflite is compressed (cannot be memory-mapped)"
echo "apk.sh: assets/model.tflite is byte-identical to $model and stored uncompressed"

# 16 KB memory pages: the native code starts at 16 KB boundaries in the zip (so the APK installs on
# such phones, as AGP 8.5+ builds do); report how the libraries' own segments are aligned (the app
# explains on such phones that TensorFlow Lite 2.16.1's 4 KB-aligned libraries cannot load).
PYTHONPATH=$PWD "$py" - "$apk" <<'PY' || fail "native code not 16 KB-aligned in the zip"
import sys
from edgeposinv.device.apk import native_code_offsets
offsets = native_code_offsets(sys.argv[1])
bad = {name: off for name, off in offsets.items() if off % 16384}
assert offsets and not bad, bad
print(f"apk.sh: {len(offsets)} native libraries start at 16 KB boundaries in the zip")
PY
unzip -q -o "$apk" 'lib/arm64-v8a/*.so' -d "$work/so"
for so in "$work"/so/lib/arm64-v8a/*.so; do
    align=$(readelf -lW "$so" | awk '$1 == "LOAD" {print $NF}' | sort -u | tr '\n' ' ')
    echo "apk.sh: $(basename "$so"): LOAD segments aligned $align(16 KB pages need 0x4000)"
done
echo "apk.sh: $(stat -c %s "$apk") bytes, signed, aligned, checked"
