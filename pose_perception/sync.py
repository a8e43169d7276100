"""Approximate-time synchroniser for N stamped streams, e.g. RGB-D (image + depth + camera_info).

ROS-free stand-in for ``message_filters.ApproximateTimeSynchronizer``, which is not on PyPI.
Semantics follow ROS message_filters ApproximateTime policy (documented behaviour, no code
copied): each message is used in at most one set, sets come out in increasing time order,
a set is emitted only if ``max stamp - min stamp <= slop``, and among the sets that could be
formed the one with the smallest spread is chosen. Plain integer nanosecond stamps are used
(like ``allow_headerless``), so no message headers are needed.

Assumption: every input is stamp-increasing (one DDS topic each). Inputs may interleave in
any order. A message whose stamp is not newer than the newest one already accepted on its
input is dropped (``dropped_out_of_order``); this covers anything older than, or as old as,
the last set emitted on that input. Because of this assumption the matcher knows that a
future message on an input is newer than the newest queued one, which is what makes its
decisions final.

Matching rule (run after every accepted message, repeated until it has to wait):

1. If a queue is empty, wait.
2. Pivot ``p`` = the newest of the queue heads (ties: lowest input index). Every set still
   to be emitted needs a message of the pivot's input, and all of those are ``>= p``.
3. Every queued message older than ``p - slop`` can therefore never be matched: drop it
   (``dropped_unmatched``) and restart at step 1, since heads (and the pivot) change.
4. Now all heads lie in ``[p - slop, p]``. For each other input ``j`` only two messages can
   be in the best set containing the pivot: ``lo_j``, the newest queued one ``<= p``, and
   ``hi_j``, the oldest queued one ``>= p`` (any other is farther from ``p`` on the same
   side). ``hi_j`` is known only once input ``j`` has a message ``>= p``; until then a
   message between ``lo_j`` and ``p`` (closer to the pivot) could still arrive, so wait
   unless ``lo_j == p``.
5. Choose the set containing ``p`` with the smallest spread: for a lower end ``L`` (one of
   the ``lo_j`` or ``p``), inputs with ``lo_j >= L`` take ``lo_j`` and the others ``hi_j``.
   Ties go to the smaller ``L`` (the earlier set). Taking every ``lo_j`` is always within
   slop after step 3, so a set is always emitted here. Emit it and discard every queued
   message not newer than the chosen one on its input (those skipped count as
   ``dropped_unmatched``).

Each decision is final (no message still to arrive can change it), so with queues large
enough the output does not depend on how the inputs interleave. Latency: a set waits for
one newer message on each input that lags the pivot; with exact stamps it is immediate.

Queues: when an input's queue exceeds ``queue_size`` after matching, the queue forces a
decision: step 5 runs once with the messages known now (``hi_j`` taken as absent where
unknown), which can pick a worse set than waiting would. Only if that is impossible (an
empty queue) is the oldest message of the full queue dropped (``dropped_queue_full``).

Callback: ``callback(*msgs)`` in input order. Sets are collected under a lock and delivered
after it is released, by one thread at a time and in order, so callbacks never run
concurrently and may call :meth:`ApproximateTimeSync.add` again (the nested set is delivered
after the current callback returns). If the callback raises, the exception propagates from
``add`` and the remaining sets are delivered on the next ``add``.
"""

from __future__ import annotations

import math
import operator
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["ApproximateTimeSync", "seconds_to_ns", "stamp_to_ns"]

_NS_PER_S = 1_000_000_000


def stamp_to_ns(sec: int, nanosec: int) -> int:
    """``builtin_interfaces/Time`` fields as int nanoseconds (exact, unlike float seconds)."""
    return int(sec) * _NS_PER_S + int(nanosec)


def seconds_to_ns(seconds: float) -> int:
    """Float seconds as int nanoseconds, rounded to the nearest nanosecond."""
    return round(seconds * _NS_PER_S)


class ApproximateTimeSync:
    """Groups one message per input into sets whose stamps lie within ``slop`` seconds.

    Counters (plain ints, read at any time): ``emitted`` sets, messages dropped as
    ``dropped_out_of_order``, ``dropped_unmatched`` and ``dropped_queue_full``.
    """

    def __init__(self, num_inputs: int, queue_size: int, slop: float, callback: Callable[..., Any]) -> None:
        if num_inputs < 2:
            raise ValueError(f"num_inputs must be >= 2 (got {num_inputs}); one input needs no sync")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1 (got {queue_size})")
        if not math.isfinite(slop) or slop < 0:
            raise ValueError(f"slop must be a finite number of seconds >= 0 (got {slop})")
        self.num_inputs = num_inputs
        self.queue_size = queue_size
        self.slop = slop
        self._slop_ns = seconds_to_ns(slop)
        self._callback = callback
        self._lock = threading.Lock()
        self._queues: list[deque[tuple[int, Any]]] = [deque() for _ in range(num_inputs)]
        self._newest: list[int | None] = [None] * num_inputs
        self._pending: deque[tuple[Any, ...]] = deque()
        self._delivering = False
        self.emitted = 0
        self.dropped_out_of_order = 0
        self.dropped_unmatched = 0
        self.dropped_queue_full = 0

    def add(self, input_index: int, stamp_ns: int, msg: Any) -> None:
        """Queue ``msg`` on input ``input_index`` and deliver any sets this completes.

        ``stamp_ns`` must be an integer (use :func:`stamp_to_ns` / :func:`seconds_to_ns`):
        float seconds would silently lose precision and compare wrongly at equal stamps.
        """
        if not 0 <= input_index < self.num_inputs:
            raise ValueError(f"input_index {input_index} out of range [0, {self.num_inputs})")
        if isinstance(stamp_ns, bool):
            raise TypeError("stamp_ns must be int nanoseconds, not bool")
        try:
            stamp = operator.index(stamp_ns)
        except TypeError:
            raise TypeError(
                f"stamp_ns must be int nanoseconds (got {type(stamp_ns).__name__}); "
                "convert with stamp_to_ns() or seconds_to_ns()"
            ) from None
        with self._lock:
            newest = self._newest[input_index]
            if newest is not None and stamp <= newest:
                self.dropped_out_of_order += 1
                return
            self._newest[input_index] = stamp
            queue = self._queues[input_index]
            queue.append((stamp, msg))
            self._match()
            while len(queue) > self.queue_size:
                if not self._step(force=True):
                    queue.popleft()
                    self.dropped_queue_full += 1
                self._match()
            if self._delivering or not self._pending:
                return
            self._delivering = True
        self._deliver()

    def flush(self) -> None:
        """No more messages will come (end of a bag): decide every set still waiting.

        A set normally waits while a closer partner could still arrive; with the input at
        its end, each waiting decision is taken with the messages there are, as ``add``
        does when a queue overflows. Messages left without partners stay queued.
        """
        with self._lock:
            while self._step(force=True):
                pass
            if self._delivering or not self._pending:
                return
            self._delivering = True
        self._deliver()

    def reset(self) -> None:
        """Forget queued messages and per-input stamp history (e.g. after a bag loop / clock jump).

        Counters and sets already matched but not yet delivered are kept.
        """
        with self._lock:
            for queue in self._queues:
                queue.clear()
            self._newest = [None] * self.num_inputs

    def queue_lengths(self) -> tuple[int, ...]:
        """Messages waiting per input (for diagnostics)."""
        with self._lock:
            return tuple(len(q) for q in self._queues)

    # -- matching (called with the lock held) -------------------------------------------------

    def _match(self) -> None:
        """Run the rule until it has to wait for more messages."""
        while self._step(force=False):
            pass

    def _step(self, force: bool) -> bool:
        """One decision of the rule in the module docstring; False when it must wait."""
        queues = self._queues
        if any(not q for q in queues):
            return False
        pivot = max(q[0][0] for q in queues)
        pivot_input = next(i for i, q in enumerate(queues) if q[0][0] == pivot)
        floor = pivot - self._slop_ns
        dropped = False
        for queue in queues:
            while queue and queue[0][0] < floor:
                queue.popleft()
                self.dropped_unmatched += 1
                dropped = True
        if dropped:
            return True  # heads (and maybe the pivot) changed; start over
        lo: list[int] = []  # index into each queue of the newest message <= pivot
        for j, queue in enumerate(queues):
            k = 0
            while k + 1 < len(queue) and queue[k + 1][0] <= pivot:
                k += 1
            lo.append(k)
            if not force and j != pivot_input and queue[k][0] < pivot and queue[-1][0] < pivot:
                return False  # a message closer to the pivot may still arrive on input j
        choice = self._best_set(pivot, lo)
        self._emit(choice)
        return True

    def _best_set(self, pivot: int, lo: list[int]) -> list[int]:
        """Queue indices of the smallest-spread set containing the pivot (ties: earlier set)."""
        queues = self._queues
        lo_stamps = [queues[j][k][0] for j, k in enumerate(lo)]
        best: list[int] = list(lo)  # the all-lo set: the lowest lower end, always complete
        best_spread = pivot - min(lo_stamps)
        for low in sorted(set(lo_stamps))[1:]:
            choice: list[int] = []
            high = pivot
            for j, k in enumerate(lo):
                if lo_stamps[j] >= low:
                    choice.append(k)
                elif k + 1 < len(queues[j]):
                    choice.append(k + 1)  # hi_j: lo_j < pivot, so the next message is >= pivot
                    high = max(high, queues[j][k + 1][0])
                else:
                    break  # hi_j unknown (only when forced): this lower end is not reachable
            else:
                if high - low < best_spread:
                    best, best_spread = choice, high - low
        return best

    def _emit(self, choice: list[int]) -> None:
        """Take the chosen message of each input, discarding the older ones it skips."""
        msgs: list[Any] = []
        for queue, k in zip(self._queues, choice, strict=True):
            for _ in range(k):
                queue.popleft()
            self.dropped_unmatched += k
            msgs.append(queue.popleft()[1])
        self.emitted += 1
        self._pending.append(tuple(msgs))

    # -- delivery (called without the lock) ---------------------------------------------------

    def _deliver(self) -> None:
        """Call the callback for pending sets in order; only one thread does this at a time."""
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._delivering = False
                        return
                    msgs = self._pending.popleft()
                self._callback(*msgs)
        except BaseException:
            with self._lock:
                self._delivering = False
            raise
