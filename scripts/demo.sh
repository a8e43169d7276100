#!/usr/bin/env bash
# Set up the environment and run the main job offline on generated input:
# render a synthetic clip of people walking (pose_perception.synthetic.clip), then run
# `pose-perception run` on it with the bundled model (rtmpose-t-synthetic, trained by
# training/ on generated people; see pose_perception/bundled/MODEL_CARD.md)
#   -> demo_output/clip_poses.mp4 (annotated video, tracked ids) + keypoints.jsonl.
#
# No person-detector weights can be downloaded on these machines, so the clip's
# ground-truth boxes stand in for the detector (--boxes; pose-derived boxes, tracking
# and smoothing run as usual). With network access, drop --boxes to use RTMDet.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
OUT="${1:-demo_output}"
.venv/bin/python -m pose_perception.synthetic.clip "$OUT/input" --frames 90 --seed 7
.venv/bin/pose-perception run "$OUT/input/clip.mp4" --model rtmpose-t-synthetic \
  --boxes "$OUT/input/clip_boxes.json" --output-dir "$OUT"
echo "demo done: see $OUT/clip_poses.mp4 (annotated) and $OUT/keypoints.jsonl"
