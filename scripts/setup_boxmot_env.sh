#!/usr/bin/env bash
# The boxmot side-by-side bench environment (issue 16, item 5): .venv-boxmot (gitignored),
# apart from .venv because boxmot's declared dependencies (torchvision, timm, huggingface-hub,
# pyarrow, scikit-learn, opencv-python that would overwrite our cv2/) do not belong there.
# boxmot and everything else are installed with --no-deps from requirements/boxmot.txt
# (only what ByteTrack, OC-SORT and BoT-SORT import, pinned), then this tree editable,
# also --no-deps, so that bench/tracking_families.py runs there with the boxmot rows:
#   bash scripts/setup_boxmot_env.sh
#   .venv-boxmot/bin/python bench/tracking_families.py --seeds 0-9
# Offline: PIP_FIND_LINKS=/dir/with/wheels PIP_NO_INDEX=1 bash scripts/setup_boxmot_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv-boxmot}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --no-deps -r requirements/boxmot.txt
"${PIP[@]}" install --no-deps -e .
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import sys

from boxmot import BotSort, ByteTrack, OcSort  # noqa: F401  (the three trackers import)

import pose_perception.tracking_eval  # noqa: F401  (the bench's side imports)

if "torchvision" in sys.modules:
    raise SystemExit("a boxmot tracker imported torchvision, which this environment leaves out")
print(f"boxmot {md.version('boxmot')} (ByteTrack, OC-SORT, BoT-SORT), torch {md.version('torch')}: ready")
PY
