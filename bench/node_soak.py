"""rtmpose_node soak: synthetic 640x480 frames at 30 Hz for ten minutes, node RSS and latency per minute.

    python bench/node_soak.py                      # 10 min, random-weight rtmpose-t, full-frame box
    python bench/node_soak.py --minutes 0.1        # a 6 s smoke run (what the test does)
    python bench/node_soak.py --onnx model.onnx --rate 30 --minutes 30

The node runs in its own process (as in production) on loopback DDS with the test harness's
environment (test/ros_harness.py); this process publishes bgr8 Image messages (stamp = publish
time) and listens to /poses and /diagnostics. Per minute it prints the node's RSS
(/proc/<pid>/status VmRSS), frames published / received by the node / answered on /poses,
and the publish -> /poses latency p50/p95; at the end the RSS growth from minute 1 to the last
minute and whether p95 stayed flat. Targets (issue 14): RSS growth < 2 %, p95 flat (the median
p95 of the later half of the minutes within 20 % of the earlier half's). The detector is the
full-frame box, so no detector weights are needed.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "test"))  # the multi-process ROS harness the tests use
sys.path.insert(0, str(BENCH))

from ros_latency import Feeder, frames, model_file  # noqa: E402

from ros_harness import (  # noqa: E402
    NodeProcess,
    TestClient,
    configure_ros_environment,
    diagnostic_values,
    require_rclpy,
    wait_for,
)

RSS_TARGET_PERCENT = 2.0
FLAT_P95_RATIO = 1.2  # later half's median p95 at most this times the earlier half's


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


class Answers:
    """Latency (ms, publish -> /poses arrival) of each answered frame, taken per period."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latencies: list[float] = []

    def on_poses(self, msg: Any) -> None:
        now = time.time_ns()
        sent = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            self._latencies.append((now - sent) * 1e-6)

    def take(self) -> np.ndarray:
        with self._lock:
            values, self._latencies = self._latencies, []
        return np.array(values)


def soak(client: TestClient, node: NodeProcess, args: argparse.Namespace) -> list[dict[str, float]]:
    """One row per period: rss_mib, sent, received, answered, p50, p95."""
    from diagnostic_msgs.msg import DiagnosticArray

    from pose_perception.msg import PersonArray

    answers = Answers()
    client.node.create_subscription(PersonArray, "/poses", answers.on_poses, 100)
    diagnostics = client.subscribe(DiagnosticArray, "/diagnostics")
    feeder = Feeder(client, frames(30, args.width, args.height))
    wait_for(lambda: feeder.publisher.get_subscription_count() > 0, 30, "the node's subscription")
    wait_for(lambda: client.node.count_publishers("/poses") > 0, 30, "the /poses publisher")
    feeder.run(args.rate, 3.0)  # warm-up: discovery of the reverse path, first inferences
    time.sleep(1.0)
    answers.take()
    total_s = args.minutes * 60.0
    period_s = min(60.0, total_s)
    rows = []
    received_before = int(diagnostic_values(diagnostics).get("frames_received", 0))
    for index in range(max(1, round(total_s / period_s))):
        sent = feeder.run(args.rate, period_s)
        latencies = answers.take()
        received = int(diagnostic_values(diagnostics).get("frames_received", received_before))
        row = {
            "minute": (index + 1) * period_s / 60.0,
            "rss_mib": rss_kib(node.process.pid) / 1024.0,
            "sent": sent,
            "received": received - received_before,
            "answered": len(latencies),
            "p50": float(np.percentile(latencies, 50)) if len(latencies) else math.nan,
            "p95": float(np.percentile(latencies, 95)) if len(latencies) else math.nan,
        }
        received_before = received
        rows.append(row)
        print(_format_row(row), flush=True)
    return rows


HEADER = (
    f"{'minute':>7} {'RSS MiB':>9} {'sent':>6} {'received':>9} {'answered':>9} {'p50 ms':>8} {'p95 ms':>8}"
)


def _format_row(row: dict[str, float]) -> str:
    return (
        f"{row['minute']:7.2f} {row['rss_mib']:9.1f} {row['sent']:6.0f} {row['received']:9.0f} "
        f"{row['answered']:9.0f} {row['p50']:8.2f} {row['p95']:8.2f}"
    )


def verdict(rows: list[dict[str, float]]) -> str:
    """RSS growth first period to last; p95 flatness as the median p95 of the later half of the
    periods over that of the earlier half (one noisy minute on a shared machine is not a trend),
    with the last/first ratio beside it."""
    first, last = rows[0], rows[-1]
    growth = 100.0 * (last["rss_mib"] - first["rss_mib"]) / first["rss_mib"]
    p95 = np.array([row["p95"] for row in rows])
    half = len(p95) // 2
    halves = float(np.median(p95[half:]) / np.median(p95[:half])) if half else 1.0
    rss_ok = "MET" if growth < RSS_TARGET_PERCENT else "MISSED"
    flat = "flat" if halves <= FLAT_P95_RATIO else "NOT flat"
    return (
        f"RSS growth minute 1 -> last: {growth:+.2f} % (target < {RSS_TARGET_PERCENT:g} %: {rss_ok}); "
        f"p95 median later/earlier half {halves:.2f} ({flat}, limit {FLAT_P95_RATIO:g}); "
        f"p95 last/first minute {last['p95'] / first['p95']:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--onnx", help="pose model (default: random-weight export of --arch)")
    parser.add_argument("--arch", default="rtmpose-t")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=30.0, help="frames per second (default: %(default)s)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args(argv)
    if not args.minutes > 0 or not args.rate > 0:
        parser.error("--minutes and --rate must be positive")

    rclpy = require_rclpy()
    configure_ros_environment()
    with tempfile.TemporaryDirectory() as tmp:
        model = model_file(args.onnx, args.arch, Path(tmp))
        params = {"estimator.model": model, "detector.type": "full_frame", "output.min_person_score": 0.0}
        node = NodeProcess(params)
        client = TestClient(rclpy, "soak_bench")
        try:
            node.wait_ready()
            print(f"node soak: {args.width}x{args.height} bgr8 at {args.rate:g} Hz, model {model}")
            print(HEADER, flush=True)
            rows = soak(client, node, args)
        finally:
            client.close()
            node.stop()
    print(verdict(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
