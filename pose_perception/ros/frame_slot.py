"""Newest-frame hand-over between a subscription callback and a processing thread.

A camera publishes faster than a model can run; queueing frames only adds latency.
The slot holds one frame: a new frame replaces an unprocessed one, and the replaced
frame is counted as dropped instead of silently vanishing in a DDS queue.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    def __init__(self) -> None:
        self._item: T | None = None
        self._closed = False
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Store ``item``; True when it replaced a frame nobody took (a drop)."""
        with self._cond:
            replaced = self._item is not None
            if replaced:
                self.dropped += 1
            self._item = item
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """The newest frame, waiting up to ``timeout`` s; None on timeout or after close()."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> None:
        """Wake and release the consumer (shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
