#!/usr/bin/env bash
# Runtime-only check: a fresh virtualenv with the base install (`pip install .`, no extras)
# must not contain TensorFlow and must run `edgeposinv evaluate` end to end.
# The model is built here with the main environment's Python ($MAIN_PYTHON, default: python).
# Usage: .ci/runtime_only.sh            (from the repository root)
#   MAIN_PYTHON=/work/venv/bin/python RUNTIME_VENV=/tmp/rt-venv .ci/runtime_only.sh
set -uo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
MAIN_PYTHON="${MAIN_PYTHON:-python}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/edgeposinv-runtime-only.XXXXXX")"
VENV="${RUNTIME_VENV:-$WORK/venv}"
trap 'rm -rf "$WORK"' EXIT

fail() { echo "runtime-only: FAIL — $*"; exit 1; }
step() { echo "== runtime-only: $*"; }

step "building a tiny int8 model with the main environment ($MAIN_PYTHON)"
PYTHONPATH="$REPO:$REPO/tests" "$MAIN_PYTHON" - "$WORK/shapes" <<'PY' || fail "could not write the training images"
import sys
from pathlib import Path
from conftest import make_shapes_dataset
make_shapes_dataset(Path(sys.argv[1]), n_per_class=20, size=48, seed=0)
PY
PYTHONPATH="$REPO" "$MAIN_PYTHON" -m edgeposinv train "$WORK/shapes" --out "$WORK/run" --image-size 32 \
    --epochs 3 --batch-size 16 --augment none >"$WORK/train.log" 2>&1 || { tail -5 "$WORK/train.log"; fail "training failed"; }
PYTHONPATH="$REPO" "$MAIN_PYTHON" -m edgeposinv export "$WORK/run" --out "$WORK/model.tflite" \
    >"$WORK/export.log" 2>&1 || { tail -5 "$WORK/export.log"; fail "export failed"; }

if [ ! -x "$VENV/bin/python" ]; then
    step "creating the runtime virtualenv $VENV"
    "$MAIN_PYTHON" -m venv "$VENV" || fail "python -m venv failed"
fi
step "pip install . (base dependencies only) into $VENV"
mkdir -p "$WORK/src"
(cd "$REPO" && tar --exclude=.git --exclude=.venv --exclude=venv --exclude=target --exclude='*.egg-info' --exclude=build --exclude=__pycache__ -cf - .) | tar -xf - -C "$WORK/src"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$WORK/src" "pytest>=8,<10" \
    || fail "pip install . failed in $VENV"
if "$VENV/bin/python" -c "import tensorflow" 2>/dev/null; then
    fail "the base install pulled in TensorFlow (check pyproject's dependencies)"
fi
"$VENV/bin/python" -m edgeposinv --help >/dev/null || fail "'edgeposinv --help' fails in the runtime environment"

step "running the evaluation tests without TensorFlow"
if (cd "$REPO" && EDGEPOSINV_RUNTIME_MODEL="$WORK/model.tflite" "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
        tests/test_evaluate_runtime_only.py); then
    echo "runtime-only: PASS — base install has no TensorFlow and 'edgeposinv evaluate' ran end to end"
else
    fail "the evaluation tests failed in the runtime-only environment"
fi
