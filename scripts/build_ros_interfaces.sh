#!/usr/bin/env bash
# Build the pose_perception messages (msg/) with the ROS 2 Jazzy PyPI wheel toolchain
# into the virtualenv, for machines without a ROS install (CI, laptops).
# In a ROS install use colcon instead (README, "ROS 2").
#
# The generated pose_perception Python code goes to
# $VENV/lib/pose_perception_interfaces/pose_perception, NOT site-packages or anything on
# sys.path: there its generated __init__.py would hide the pip-installed pose_perception
# package. A pose_perception.pkg file in site-packages lets the package's
# pkgutil.extend_path find the `msg` subpackage there.
# Where no real tf2_msgs exists, a wire-compatible one is built from its definition
# (into site-packages, like any other message package).
# The venv's ament index must not list pose_perception: ament_package() registers it, but
# the venv has no lib/pose_perception/ executables, so a venv ahead of a colcon install on
# AMENT_PREFIX_PATH broke `ros2 launch pose_perception ...` ("libexec directory ... does
# not exist"). Bag mode finds the .msg files in $VENV/share/pose_perception/msg without it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$(cd "${VENV:-.venv}" && pwd)"
PY="$VENV/bin/python"
BUILD="${BUILD_DIR:-build/ros}"
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
PY_DIR="lib/pose_perception_interfaces"

build() {  # build <source dir> <name> [cmake args...]
  local src="$1" name="$2"; shift 2
  CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV" cmake -S "$src" -B "$BUILD/$name" \
    -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF \
    "$@" > "$BUILD/$name.log" 2>&1 \
    && cmake --build "$BUILD/$name" -j2 >> "$BUILD/$name.log" 2>&1 \
    && cmake --install "$BUILD/$name" >> "$BUILD/$name.log" 2>&1 \
    || { echo "building $name failed; log: $BUILD/$name.log" >&2; tail -30 "$BUILD/$name.log" >&2; exit 1; }
}

mkdir -p "$BUILD"
if ! "$PY" -c 'import tf2_msgs.msg' 2>/dev/null; then
  build ros_compat/tf2_msgs tf2_msgs
fi
build . pose_perception -DPOSE_PERCEPTION_INSTALL_PYTHON=OFF -DPYTHON_INSTALL_DIR="$PY_DIR"
rm -f "$VENV"/share/ament_index/resource_index/*/pose_perception  # see above
echo "$VENV/$PY_DIR/pose_perception" > "$SITE/pose_perception.pkg"
rm -f "$SITE/pose_perception_interfaces.pth"  # older layout put this directory on sys.path
"$PY" -c 'import pose_perception.msg, tf2_msgs.msg' \
  && echo "ROS interfaces ready in $VENV (pose_perception.msg, tf2_msgs.msg)"
