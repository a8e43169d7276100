#!/usr/bin/env bash
# Set up the environment and run the main job offline on generated input:
# export an RTMPose-t ONNX model (with embedded metadata), draw a test scene, and run
# `pose-perception run` on it -> demo_output/ (annotated image + keypoints.jsonl).
#
# No pretrained weights can be downloaded on these machines and the bundled trained
# model arrives with the training issue, so until then the model has RANDOM weights:
# the pipeline, files and formats are real, the keypoints are not meaningful.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
OUT="${1:-demo_output}"
mkdir -p "$OUT/input"
.venv/bin/python - "$OUT/input/scene.png" <<'PY'
import sys

import cv2
import numpy as np

# A plain drawn figure on a gradient background: stands in for a camera frame.
h, w = 480, 640
img = np.zeros((h, w, 3), np.uint8)
img[:] = np.linspace(40, 200, w, dtype=np.uint8)[None, :, None]
c = (40, 40, 220)
cv2.circle(img, (320, 110), 28, c, -1)
for a, b in [((320, 140), (320, 280)), ((320, 160), (260, 230)), ((320, 160), (380, 230)),
             ((320, 280), (285, 400)), ((320, 280), (355, 400))]:
    cv2.line(img, a, b, c, 14)
cv2.imwrite(sys.argv[1], img)
PY
.venv/bin/pose-perception export --arch rtmpose-t --random-init --output "$OUT/rtmpose-t-random.onnx"
.venv/bin/pose-perception run "$OUT/input/scene.png" --model "$OUT/rtmpose-t-random.onnx" \
  --box 230,70,410,420 --output-dir "$OUT"
echo "demo done: see $OUT/scene.png (annotated) and $OUT/keypoints.jsonl"
