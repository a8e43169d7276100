#!/usr/bin/env bash
# Set up the environment and run the main job offline on generated input:
# render a synthetic clip of people walking (pose_perception.synthetic.clip), export an
# RTMPose-t ONNX model (with embedded metadata) and run `pose-perception run` on the clip
#   -> demo_output/clip_poses.mp4 (annotated video, tracked ids) + keypoints.jsonl.
#
# No pretrained weights can be downloaded on these machines and no trained bundled model
# ships yet (docs/training.md, "Bundled model"), so the model has RANDOM weights: the
# pipeline (batching, pose-derived boxes, tracking, smoothing), files and formats are
# real, the keypoints are not meaningful. No person-detector weights exist here either:
# the clip's ground-truth boxes stand in for the detector (--boxes; every frame has an
# entry, so the full_frame "detector" named for frames without one is never used).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh demo  # the core + torch + onnx only: no ROS, colcon, training
OUT="${1:-demo_output}"
.venv/bin/python -m pose_perception.synthetic.clip "$OUT/input" --frames 90 --seed 7
.venv/bin/pose-perception export --arch rtmpose-t --random-init --output "$OUT/rtmpose-t-random.onnx"
.venv/bin/pose-perception run "$OUT/input/clip.mp4" --model "$OUT/rtmpose-t-random.onnx" \
  --boxes "$OUT/input/clip_boxes.json" --detector full_frame --output-dir "$OUT"
echo "demo done: see $OUT/clip_poses.mp4 (annotated) and $OUT/keypoints.jsonl"
