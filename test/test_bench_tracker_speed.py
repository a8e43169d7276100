"""bench/tracker_speed.py keeps working: a tiny run prints the load, both modes, their ratio
and the per-stage table (the timings themselves are not checked: they depend on the machine)."""

from __future__ import annotations

import re

import pytest
from test_bench_family import FLOAT, run_bench


def test_tracker_speed_tiny_run_prints_load_modes_ratio_and_stages() -> None:
    out = run_bench("tracker_speed.py", "--frames", "12", "--repeats", "1")
    assert re.match(rf"load average {FLOAT} {FLOAT} {FLOAT} \(1/5/15 min\)", out), out
    rows = re.findall(rf"^\| (with frame|without frame) \| ({FLOAT}) \| ({FLOAT}) \|$", out, re.MULTILINE)
    modes = {mode: wall for mode, wall, _ in rows}
    assert set(modes) == {"with frame", "without frame"}, out
    ratio = re.search(rf"^ratio with/without frame: ({FLOAT})x$", out, re.MULTILINE)
    expected = float(modes["with frame"]) / float(modes["without frame"])
    assert ratio and float(ratio[1]) == pytest.approx(expected, rel=0.01, abs=0.01), out
    stage_rows = re.findall(rf"^\| ([^|]+?) \| ({FLOAT}) \| ({FLOAT}) \|$", out, re.MULTILINE)
    stages = {name: (float(with_frame), float(without)) for name, with_frame, without in stage_rows}
    for stage in ("describe (look of each person)", "associate", "remember looks", "total (timed run)"):
        assert stage in stages, out
    assert stages["describe (look of each person)"][0] > 0.0  # looks are described from the frame
    assert stages["describe (look of each person)"][1] == 0.0  # and not without one
