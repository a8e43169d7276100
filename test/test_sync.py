"""Tests of the ROS-free approximate-time synchroniser (pose_perception.sync)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import pytest

from pose_perception.sync import ApproximateTimeSync, seconds_to_ns, stamp_to_ns

MS = 1_000_000
PERIOD = 33_333_333  # 30 Hz in ns
IMAGE, DEPTH, INFO = 0, 1, 2


@dataclass(frozen=True)
class Msg:
    """A fake message that knows its ground truth (input and frame) and its stamp."""

    input: int
    frame: int
    stamp: int


class Recorder:
    """Collects emitted sets."""

    def __init__(self) -> None:
        self.sets: list[tuple[Msg, ...]] = []

    def __call__(self, *msgs: Msg) -> None:
        self.sets.append(msgs)

    def frames(self) -> list[tuple[int, ...]]:
        return [tuple(m.frame for m in s) for s in self.sets]


def make_sync(
    slop: float = 0.010, queue_size: int = 10, num_inputs: int = 3
) -> tuple[ApproximateTimeSync, Recorder]:
    rec = Recorder()
    return ApproximateTimeSync(num_inputs, queue_size, slop, rec), rec


def feed(sync: ApproximateTimeSync, msgs: list[Msg]) -> None:
    for m in msgs:
        sync.add(m.input, m.stamp, m)


def rgbd_frames(
    n: int, skew_ns: tuple[int, int, int] = (0, 0, 0), skip: set[tuple[int, int]] | None = None
) -> list[Msg]:
    """Frame-major RGB-D stream: image, depth, info of frame 0, then frame 1, ...; ``skip`` (input, frame)."""
    skip = skip or set()
    return [Msg(i, k, k * PERIOD + skew_ns[i]) for k in range(n) for i in range(3) if (i, k) not in skip]


def assert_valid(sets: list[tuple[Msg, ...]], slop_ns: int) -> None:
    """Each set within slop, one message per input in input order, every message once, stamps increasing."""
    seen: set[Msg] = set()
    prev: tuple[int, ...] | None = None
    for s in sets:
        stamps = tuple(m.stamp for m in s)
        assert [m.input for m in s] == list(range(len(s)))
        assert max(stamps) - min(stamps) <= slop_ns
        assert not seen.intersection(s)
        seen.update(s)
        if prev is not None:
            assert all(a < b for a, b in zip(prev, stamps, strict=True))
        prev = stamps


def test_helpers() -> None:
    assert stamp_to_ns(12, 345) == 12_000_000_345
    assert stamp_to_ns(1_700_000_000, 999_999_999) == 1_700_000_000_999_999_999
    assert seconds_to_ns(0.008) == 8 * MS


def test_validation() -> None:
    cb = Recorder()
    with pytest.raises(ValueError, match="num_inputs"):
        ApproximateTimeSync(1, 10, 0.01, cb)
    with pytest.raises(ValueError, match="queue_size"):
        ApproximateTimeSync(3, 0, 0.01, cb)
    with pytest.raises(ValueError, match="slop"):
        ApproximateTimeSync(3, 10, -0.001, cb)
    with pytest.raises(ValueError, match="slop"):
        ApproximateTimeSync(3, 10, float("nan"), cb)
    sync = ApproximateTimeSync(3, 10, 0.01, cb)
    with pytest.raises(ValueError, match="input_index"):
        sync.add(3, 0, None)
    with pytest.raises(ValueError, match="input_index"):
        sync.add(-1, 0, None)
    with pytest.raises(TypeError, match="nanoseconds"):
        sync.add(0, 0.5, None)  # type: ignore[arg-type]


def test_exact_stamps_all_matched_in_order() -> None:
    sync, rec = make_sync(slop=0.0)
    feed(sync, rgbd_frames(30))
    # exact stamps need no waiting: every frame is out as soon as its last message arrived
    assert rec.frames() == [(k, k, k) for k in range(30)]
    assert sync.emitted == 30
    assert (sync.dropped_unmatched, sync.dropped_out_of_order, sync.dropped_queue_full) == (0, 0, 0)
    assert sync.queue_lengths() == (0, 0, 0)


def test_skew_within_slop_pairs_each_image_with_its_own_depth() -> None:
    sync, rec = make_sync(slop=0.010)
    feed(sync, rgbd_frames(30, skew_ns=(0, 8 * MS, 1 * MS)))
    # the last frame waits for a newer image/info that could be closer to its depth (pivot)
    assert rec.frames() == [(k, k, k) for k in range(29)]
    assert sync.dropped_unmatched == 0
    # the frame is not lost: the next messages complete it
    sync.add(IMAGE, 30 * PERIOD, Msg(IMAGE, 30, 30 * PERIOD))
    sync.add(INFO, 30 * PERIOD + MS, Msg(INFO, 30, 30 * PERIOD + MS))
    assert rec.frames()[-1] == (29, 29, 29)
    assert_valid(rec.sets, 10 * MS)


def test_skew_beyond_slop_emits_nothing() -> None:
    sync, rec = make_sync(slop=0.005)
    feed(sync, rgbd_frames(20, skew_ns=(0, 8 * MS, 1 * MS)))
    assert rec.sets == []
    assert sync.emitted == 0
    # image and info are unmatchable once the depth 8 ms later is the pivot, that depth once
    # the next frame's info is; only the last depth is still queued
    assert sync.dropped_unmatched == 3 * 20 - 1
    assert sync.queue_lengths() == (0, 1, 0)
    assert sync.dropped_queue_full == 0


def test_missing_depth_drops_those_images_only() -> None:
    missing = {3, 7, 8, 15}
    sync, rec = make_sync(slop=0.010)
    feed(sync, rgbd_frames(20, skew_ns=(0, 8 * MS, 1 * MS), skip={(DEPTH, k) for k in missing}))
    expected = [(k, k, k) for k in range(19) if k not in missing]
    assert rec.frames() == expected
    # image and info of each frame without depth are dropped as unmatched
    assert sync.dropped_unmatched == 2 * len(missing)


def test_depth_delivered_after_later_images_still_matches() -> None:
    sync, rec = make_sync(slop=0.0)
    stamps = [k * PERIOD for k in range(6)]
    for k in range(6):
        sync.add(IMAGE, stamps[k], Msg(IMAGE, k, stamps[k]))
        sync.add(INFO, stamps[k], Msg(INFO, k, stamps[k]))
    assert rec.sets == []
    for k in range(6):  # the depth topic lags by 6 frames but keeps its own order
        sync.add(DEPTH, stamps[k], Msg(DEPTH, k, stamps[k]))
    assert rec.frames() == [(k, k, k) for k in range(6)]
    assert sync.dropped_out_of_order == 0


def test_stale_depth_dropped_out_of_order() -> None:
    sync, rec = make_sync(slop=0.010)
    msgs = rgbd_frames(10, skew_ns=(0, 2 * MS, 1 * MS), skip={(DEPTH, 4)})
    feed(sync, [m for m in msgs if m.frame <= 6])
    emitted_before = sync.emitted
    assert rec.frames()[-1] == (5, 5, 5)
    # frame 4's depth turns up after frame 5 was emitted: older than the last set on its input
    late = Msg(DEPTH, 4, 4 * PERIOD + 2 * MS)
    sync.add(DEPTH, late.stamp, late)
    # an exact duplicate of the newest depth is not newer either
    dup = Msg(DEPTH, -1, 6 * PERIOD + 2 * MS)
    sync.add(DEPTH, dup.stamp, dup)
    assert sync.dropped_out_of_order == 2
    assert sync.emitted == emitted_before
    feed(sync, [m for m in msgs if m.frame > 6])
    assert rec.frames() == [(k, k, k) for k in range(9) if k != 4]
    assert all(late not in s and dup not in s for s in rec.sets)
    assert_valid(rec.sets, 10 * MS)


def test_prefers_smallest_spread_set() -> None:
    # image 0 could pair with depth/info at 8 ms, but an image at 8 ms pairs exactly
    sync, rec = make_sync(slop=0.010)
    sync.add(IMAGE, 0, Msg(IMAGE, 0, 0))
    sync.add(DEPTH, 8 * MS, Msg(DEPTH, 1, 8 * MS))
    sync.add(INFO, 8 * MS, Msg(INFO, 1, 8 * MS))
    assert rec.sets == []  # an image closer to 8 ms may still come
    sync.add(IMAGE, 8 * MS, Msg(IMAGE, 1, 8 * MS))
    assert rec.frames() == [(1, 1, 1)]
    assert sync.dropped_unmatched == 1


def _deliveries(frames: int, seed: int) -> tuple[list[Msg], list[Msg]]:
    """Jittered, skewed RGB-D stream with ~1 % of messages missing: (stamp order, shuffled delivery order).

    Delivery: each message arrives 0-120 ms (≈ 4 frames) after its stamp, but per-input
    order is kept, as with separate DDS topics.
    """
    rng = random.Random(seed)
    skew = (0, 8 * MS, 1 * MS)
    msgs = [
        Msg(i, k, k * PERIOD + skew[i] + rng.randint(-MS, MS))
        for k in range(frames)
        for i in range(3)
        if rng.random() > 0.01
    ]
    in_stamp_order = sorted(msgs, key=lambda m: (m.stamp, m.input))
    arrival: dict[Msg, int] = {}
    last = [0, 0, 0]
    for m in in_stamp_order:
        last[m.input] = max(last[m.input], m.stamp + rng.randint(0, 120 * MS))
        arrival[m] = last[m.input]
    shuffled = sorted(msgs, key=lambda m: (arrival[m], m.stamp))
    return in_stamp_order, shuffled


@pytest.mark.parametrize("seed", range(5))
def test_random_interleaving_matches_ground_truth(seed: int) -> None:
    frames = 300
    in_order, shuffled = _deliveries(frames, seed)
    assert shuffled != in_order
    sync_a, rec_a = make_sync(slop=0.012, queue_size=20)
    feed(sync_a, shuffled)
    for s in rec_a.sets:  # every set pairs the messages of one frame
        assert len({m.frame for m in s}) == 1
    assert_valid(rec_a.sets, 12 * MS)
    complete = len({m.frame for m in in_order if sum(n.frame == m.frame for n in in_order) == 3})
    assert sync_a.emitted >= complete - 1  # at most the final frame waits for a newer message
    assert sync_a.emitted > 0.9 * frames
    assert sync_a.dropped_out_of_order == 0 and sync_a.dropped_queue_full == 0
    # decisions are final, so the result does not depend on the interleaving
    sync_b, rec_b = make_sync(slop=0.012, queue_size=20)
    feed(sync_b, in_order)
    assert rec_a.sets == rec_b.sets


def test_queue_overflow_drops_oldest() -> None:
    sync, rec = make_sync(slop=0.0, queue_size=3)
    for k in range(5):  # depth and info stall: the image queue overflows
        sync.add(IMAGE, k * PERIOD, Msg(IMAGE, k, k * PERIOD))
    assert sync.dropped_queue_full == 2
    assert sync.queue_lengths() == (3, 0, 0)
    for k in range(5):
        sync.add(DEPTH, k * PERIOD, Msg(DEPTH, k, k * PERIOD))
        sync.add(INFO, k * PERIOD, Msg(INFO, k, k * PERIOD))
    assert rec.frames() == [(2, 2, 2), (3, 3, 3), (4, 4, 4)]
    assert sync.dropped_unmatched == 4  # depth and info of frames 0 and 1 lost their images


def test_full_queue_forces_decision_instead_of_dropping() -> None:
    # queue_size 1 cannot hold the newer message the rule waits for, so the full queue decides
    sync, rec = make_sync(slop=0.010, queue_size=1)
    feed(sync, rgbd_frames(20, skew_ns=(0, 8 * MS, 1 * MS)))
    assert rec.frames() == [(k, k, k) for k in range(19)]
    assert sync.dropped_queue_full == 0


def test_threads_adding_concurrently() -> None:
    frames = 400
    slop_ns = 5 * MS
    active = 0
    overlap = False
    sets: list[tuple[Msg, ...]] = []
    guard = threading.Lock()

    def callback(*msgs: Msg) -> None:
        nonlocal active, overlap
        with guard:
            active += 1
            overlap |= active > 1
        sets.append(msgs)
        with guard:
            active -= 1

    sync = ApproximateTimeSync(3, frames, slop_ns / 1e9, callback)
    skew = (0, 3 * MS, 1 * MS)
    barrier = threading.Barrier(3)

    def producer(i: int) -> None:
        barrier.wait()
        for k in range(frames):
            stamp = k * PERIOD + skew[i]
            sync.add(i, stamp, Msg(i, k, stamp))

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert not overlap  # callbacks are serialised
    assert len(sets) == sync.emitted
    assert_valid(sets, slop_ns)
    assert all(len({m.frame for m in s}) == 1 for s in sets)
    # only the last frame waits (its depth is the pivot and nothing newer follows on image/info)
    assert sync.emitted == frames - 1
    assert (sync.dropped_unmatched, sync.dropped_out_of_order, sync.dropped_queue_full) == (0, 0, 0)


def test_callback_runs_outside_lock_and_may_add() -> None:
    sets: list[tuple[Msg, ...]] = []
    calls: list[str] = []

    def callback(*msgs: Msg) -> None:
        # the lock is free: a re-entrant add() cannot deadlock
        assert sync._lock.acquire(blocking=False)
        sync._lock.release()
        calls.append("start")
        sets.append(msgs)
        k = msgs[0].frame + 1
        if k < 5:  # feed the next frame from inside the callback (e.g. a pipeline re-publishing)
            for i in range(3):
                sync.add(i, k * PERIOD, Msg(i, k, k * PERIOD))
        calls.append("end")

    sync = ApproximateTimeSync(3, 10, 0.0, callback)
    for i in range(3):
        sync.add(i, 0, Msg(i, 0, 0))
    assert [tuple(m.frame for m in s) for s in sets] == [(k, k, k) for k in range(5)]
    assert calls == ["start", "end"] * 5  # nested sets are delivered after the running callback returns


def test_callback_exception_propagates_and_later_sets_still_delivered() -> None:
    frames: list[int] = []

    def callback(*msgs: Msg) -> None:
        frames.append(msgs[0].frame)
        if msgs[0].frame == 1:
            feed(sync, rgbd_frames(3)[6:])  # completes frame 2 while frame 1 is being delivered
            raise RuntimeError("boom")

    sync = ApproximateTimeSync(3, 10, 0.0, callback)
    with pytest.raises(RuntimeError, match="boom"):
        feed(sync, rgbd_frames(2))
    assert frames == [0, 1]  # frame 2 is matched but not delivered yet
    assert sync.emitted == 3
    sync.add(IMAGE, 3 * PERIOD, Msg(IMAGE, 3, 3 * PERIOD))  # the next add delivers it
    assert frames == [0, 1, 2]


def test_flush_decides_the_sets_still_waiting_at_the_end_of_a_bag() -> None:
    """Depth stamped 5 ms after its image: the last set waits for a later image that a bag
    never has; ``flush`` decides it as a later image would have, and leaves lone messages."""
    sync, rec = make_sync()
    feed(sync, rgbd_frames(4, skew_ns=(0, 5 * MS, 0)))
    assert rec.frames() == [(0, 0, 0), (1, 1, 1), (2, 2, 2)]
    sync.flush()
    assert rec.frames() == [(0, 0, 0), (1, 1, 1), (2, 2, 2), (3, 3, 3)]
    # Same sets as a stream that goes on, minus that stream's fifth frame.
    longer, longer_rec = make_sync()
    feed(longer, rgbd_frames(5, skew_ns=(0, 5 * MS, 0)))
    assert longer_rec.frames()[:4] == rec.frames()
    # A message without partners is not emitted by a flush.
    sync.add(IMAGE, 10 * PERIOD, Msg(IMAGE, 10, 10 * PERIOD))
    sync.flush()
    assert len(rec.sets) == 4 and sync.queue_lengths() == (1, 0, 0)
