"""bench/node_soak.py keeps working: a 6 s run against a real node process prints the
per-minute table and the verdict (the 10-minute soak itself is run by hand, see its docstring)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ros_harness import require_rclpy

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.ros
def test_short_soak_prints_rss_and_latency_per_period() -> None:
    require_rclpy()
    pytest.importorskip("torch")  # the random-weight model is exported on the fly
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "node_soak.py"), "--minutes", "0.1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = re.findall(r"^\s+0\.10\s+(\d+\.\d)\s+\d+\s+\d+\s+\d+\s", done.stdout, re.MULTILINE)
    assert len(rows) == 1 and float(rows[0]) > 50, done.stdout  # the node's RSS in MiB, read from /proc
    verdict = r"^RSS growth minute 1 -> last: [+-]\d+\.\d\d % .*p95 last/first"
    assert re.search(verdict, done.stdout, re.MULTILINE)
    assert "Traceback" not in done.stderr
