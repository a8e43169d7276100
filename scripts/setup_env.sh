#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv) with pinned dependencies.
# torch is pinned to 2.13.0 (the CPU build these machines install; an unpinned torch
# pulls several GB of CUDA wheels). Re-running is cheap: pip skips what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip
"${PIP[@]}" install -c requirements/constraints.txt "torch==2.13.0" -e ".[torch,dev]"
echo "environment ready: $VENV ($("$VENV/bin/python" --version))"
