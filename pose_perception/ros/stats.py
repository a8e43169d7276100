"""Counters and per-stage timings of a running node, summarised for /diagnostics.

ROS-free: the node feeds it, ``summary()`` returns the level, message and key/values
that go into a ``diagnostic_msgs/DiagnosticStatus``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

OK, WARN, ERROR = 0, 1, 2  # diagnostic_msgs/DiagnosticStatus levels

# Gaps in header.stamp: the camera's period is a low percentile of recent gaps (lost frames only
# make gaps longer); a gap longer than PAUSE_S is a camera that paused, not frames lost.
PERIOD_PERCENTILE = 10
PERIOD_WINDOW = 100
MIN_GAPS = 10
MISSING_GAP_FACTOR = 1.5
PAUSE_S = 2.0


class StampGaps:
    """Frames missing before the node, from gaps in the images' ``header.stamp``.

    Without a tuned DDS transport, large raw images can be lost on the way (issue 14: 13 of 55
    640x480 images arrived at 10 Hz), and nothing else in the node would notice: the frames it
    never received are invisible to every other counter. The camera's period is estimated from
    the stamps themselves, so no rate has to be configured.
    """

    def __init__(self) -> None:
        self._previous_ns: int | None = None
        self._gaps_s: deque[float] = deque(maxlen=PERIOD_WINDOW)
        self.missing = 0

    @property
    def period_s(self) -> float | None:
        """The camera's frame period, once enough stamps were seen."""
        if len(self._gaps_s) < MIN_GAPS:
            return None
        return float(np.percentile(np.fromiter(self._gaps_s, float), PERIOD_PERCENTILE))

    def add(self, stamp_ns: int) -> int:
        """Record a frame's stamp; returns how many frames are missing just before it. Unstamped
        (0) and repeated stamps are ignored; a stamp going back (a bag played in a loop, a stray
        old frame) starts over from the next one."""
        previous = self._previous_ns
        if stamp_ns <= 0 or stamp_ns == previous:
            return 0
        if previous is not None and stamp_ns < previous:
            self._previous_ns = None
            return 0
        self._previous_ns = stamp_ns
        if previous is None:
            return 0
        gap_s = (stamp_ns - previous) * 1e-9
        period = self.period_s
        self._gaps_s.append(gap_s)
        if period is None or period <= 0 or gap_s < MISSING_GAP_FACTOR * period or gap_s > PAUSE_S:
            return 0
        missing = round(gap_s / period) - 1
        self.missing += missing
        return missing


@dataclass
class Summary:
    level: int
    message: str
    values: dict[str, str]


class NodeStats:
    """Thread-safe: the subscription callback and the worker thread both report here."""

    def __init__(self, window: int = 300, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._timings: dict[str, deque[float]] = {}
        self._window = window
        self._clock = clock
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.rate_limited = 0
        self.rejected: Counter[str] = Counter()
        self.errors = 0
        self.people = 0
        self._last_received: float | None = None
        self._period_start = self._clock()
        self._period_received = 0
        self._period_processed = 0
        self._period_errors = 0
        self._period_rejected = 0
        self._stamps = StampGaps()
        self._period_missing = 0

    def frame_received(self, stamp_ns: int | None = None) -> None:
        """``stamp_ns``: the image's header.stamp, to count frames lost before the node."""
        with self._lock:
            self.received += 1
            self._period_received += 1
            self._last_received = self._clock()
            if stamp_ns is not None:
                self._period_missing += self._stamps.add(stamp_ns)

    def frame_dropped(self) -> None:
        with self._lock:
            self.dropped += 1

    def frame_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def frame_rejected(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1
            self._period_rejected += 1

    def frame_failed(self) -> None:
        with self._lock:
            self.errors += 1
            self._period_errors += 1

    def frame_processed(self, timings_ms: dict[str, float], people: int) -> None:
        with self._lock:
            self.processed += 1
            self._period_processed += 1
            self.people = people
            for stage, ms in timings_ms.items():
                self._timings.setdefault(stage, deque(maxlen=self._window)).append(ms)

    def summary(self, input_topic: str) -> Summary:
        """Counts since start; rates and level since the previous summary; timing percentiles (ms)."""
        with self._lock:
            now = self._clock()
            elapsed = max(now - self._period_start, 1e-9)
            values = {
                "frames_received": str(self.received),
                "frames_processed": str(self.processed),
                "frames_dropped_busy": str(self.dropped),
                "frames_skipped_max_rate": str(self.rate_limited),
                "frames_rejected": str(sum(self.rejected.values())),
                "processing_errors": str(self.errors),
                "input_rate_hz": f"{self._period_received / elapsed:.2f}",
                "output_rate_hz": f"{self._period_processed / elapsed:.2f}",
                "people_last_frame": str(self.people),
                "frames_missing_input": str(self._stamps.missing),
            }
            if (period := self._stamps.period_s) is not None:
                values["input_period_ms"] = f"{period * 1e3:.1f}"
            for reason, count in sorted(self.rejected.items()):
                values[f"rejected_{reason}"] = str(count)
            for stage, samples in sorted(self._timings.items()):
                data = np.fromiter(samples, float)
                values[f"{stage}_p50"] = f"{np.percentile(data, 50):.2f}"
                values[f"{stage}_p95"] = f"{np.percentile(data, 95):.2f}"
            level, message = self._level(input_topic, now)
            self._period_start, self._period_received, self._period_processed = now, 0, 0
            self._period_errors = self._period_rejected = self._period_missing = 0
            return Summary(level, message, values)

    def _level(self, input_topic: str, now: float) -> tuple[int, str]:
        if self._last_received is None:
            return WARN, f"no images received on {input_topic}"
        if now - self._last_received > 5.0:
            return WARN, f"no images on {input_topic} for {now - self._last_received:.0f} s"
        if self._period_errors:
            return ERROR, f"{self._period_errors} frames failed in processing (see the log)"
        if self._period_rejected:
            return WARN, f"{self._period_rejected} malformed images rejected (see rejected_*)"
        if self._period_missing:
            return WARN, (
                f"{self._period_missing} images missing before the node (gaps in header.stamp): "
                "lost in transport? (see frames_missing_input)"
            )
        return OK, "running"
