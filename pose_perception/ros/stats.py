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

    def frame_received(self) -> None:
        with self._lock:
            self.received += 1
            self._period_received += 1
            self._last_received = self._clock()

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
            }
            for reason, count in sorted(self.rejected.items()):
                values[f"rejected_{reason}"] = str(count)
            for stage, samples in sorted(self._timings.items()):
                data = np.fromiter(samples, float)
                values[f"{stage}_p50"] = f"{np.percentile(data, 50):.2f}"
                values[f"{stage}_p95"] = f"{np.percentile(data, 95):.2f}"
            level, message = self._level(input_topic, now)
            self._period_start, self._period_received, self._period_processed = now, 0, 0
            self._period_errors = self._period_rejected = 0
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
        return OK, "running"
