#!/usr/bin/env bash
# Benchmark extras into the project venv: rtmlib for bench/vs_rtmlib.py.
# --no-deps on purpose (see requirements/bench.txt): rtmlib's declared opencv-python and
# opencv-contrib-python would replace the cv2 of our opencv-contrib-python-headless.
# Its actual imports (numpy, onnxruntime, cv2, tqdm) come with pose-perception, so
# `pip check` reporting rtmlib's two missing opencv packages afterwards is expected.
# Offline: PIP_FIND_LINKS=/dir/with/wheels PIP_NO_INDEX=1 bash scripts/setup_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "no $VENV: run scripts/setup_env.sh first" >&2
  exit 1
fi
"$VENV/bin/python" -m pip --disable-pip-version-check -q install --no-deps -r requirements/bench.txt
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md

import cv2
import rtmlib  # noqa: F401  (imports cv2, numpy, onnxruntime, tqdm only)

clashing = []
for dist in ("opencv-python", "opencv-contrib-python", "opencv-python-headless"):
    try:
        clashing.append(f"{dist} {md.version(dist)}")
    except md.PackageNotFoundError:
        pass
if clashing:
    raise SystemExit(f"other OpenCV wheels share cv2/ with opencv-contrib-python-headless: {clashing}")
print(f"rtmlib {md.version('rtmlib')} ready (cv2 {cv2.__version__} from opencv-contrib-python-headless)")
PY
