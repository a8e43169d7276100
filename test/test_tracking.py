"""PoseTracker: ID switches measured on synthetic crossings/occlusions, plus unit behaviour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from pose_perception.synthetic import crossing_mask, make_sequence, noisy_detections, stick_figure
from pose_perception.tracking import BoxKalman, PoseTracker, TrackerConfig, TrackState

FPS = 30.0


@dataclass
class SwitchStats:
    """MOT-style counts: each GT id is mapped to the track id it got last time."""

    id_switches: int = 0
    crossing_switches: int = 0
    fragmentations: int = 0  # a tracked person's detection reported untracked (0) again
    track_frames: int = 0

    @property
    def per_1000(self) -> float:
        return 1000.0 * self.id_switches / max(self.track_frames, 1)


def run_sequence(seed: int, config: TrackerConfig | None = None) -> SwitchStats:
    seq = make_sequence(num_people=6, seconds=20.0, fps=FPS, seed=seed, occlusion_seconds=2.0)
    dets = noisy_detections(seq, miss_rate=0.1, box_noise=0.05, keypoint_noise_px=3.0, seed=seed + 100)
    crossing = crossing_mask(seq)
    tracker = PoseTracker(config)
    stats, last = SwitchStats(), {}
    for frame, det, near in zip(seq.frames, dets, crossing, strict=True):
        ids = tracker.update(det.boxes, det.scores, det.keypoints, det.keypoint_scores, det.stamp)
        at_crossing = dict(zip(frame.gt_ids.tolist(), near.tolist(), strict=True))
        for gt, tid in zip(det.gt_ids.tolist(), ids.tolist(), strict=True):
            if tid == 0:
                stats.fragmentations += gt in last
                continue
            stats.track_frames += 1
            if gt in last and last[gt] != tid:
                stats.id_switches += 1
                stats.crossing_switches += at_crossing[gt]
            last[gt] = tid
    return stats


def test_synthetic_sequence_has_crossings_and_occlusions() -> None:
    seq = make_sequence(seed=0)
    assert len(seq.walkers) == 6 and len(seq.frames) == 600
    hidden = [b - a for w in seq.walkers for a, b in w.hidden]
    assert hidden and all(d == pytest.approx(2.0) for d in hidden)
    assert sum(m.sum() for m in crossing_mask(seq, window_seconds=0.0)) > 100  # overlapping boxes
    dets = noisy_detections(seq, seed=1)
    for frame, det in zip(seq.frames, dets, strict=True):
        assert set(det.gt_ids.tolist()) <= set(frame.gt_ids[frame.visible].tolist())
    again = make_sequence(seed=0)
    np.testing.assert_array_equal(seq.frames[123].keypoints, again.frames[123].keypoints)


def run_seeds(seeds: range) -> SwitchStats:
    """Totals over ``seeds``, printing each seed's figures and the total."""
    total = SwitchStats()
    for seed in seeds:
        s = run_sequence(seed)
        print(
            f"seed {seed}: id switches {s.id_switches} (at crossings {s.crossing_switches}), "
            f"fragmentations {s.fragmentations}, track-frames {s.track_frames}, "
            f"{s.per_1000:.2f} switches / 1000 track-frames"
        )
        for name in ("id_switches", "crossing_switches", "fragmentations", "track_frames"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
    print(f"seeds {seeds.start}..{seeds.stop - 1}: {total} → {total.per_1000:.2f} / 1000 track-frames")
    return total


@pytest.mark.slow
def test_id_switches_on_crossings_and_occlusions() -> None:
    """Ten consecutive seeds (not hand-picked), the acceptance targets: 0 switches at
    crossings, ≤ 1 per 1000 track-frames. Measured: 0 switches and 3 fragmentations in
    31,260 track-frames (the fragmentations are people reported untracked for a frame where
    a rival track fits them about as well, ``ambiguity_margin``); before the stale/recovery
    stages and the joint fresh assignment, 3 switches (a far walker turning back unseen; a
    confirmed track taking a tentative person's box at start-up) and 10 fragmentations."""
    total = run_seeds(range(10))
    assert total.track_frames > 30000
    assert total.crossing_switches == 0
    assert total.per_1000 <= 1.0
    assert total.fragmentations <= 10  # no worse than before those changes


@pytest.mark.slow
def test_id_switches_on_held_out_seeds() -> None:
    """Seeds 10..29, never used for tuning: the overall target must hold there too. Measured:
    5 switches (all at crossings, 2 seeds), 13 fragmentations in 62,360 track-frames, 0.08
    per 1000 (before the pose-only similarity and the look trust by foot line: 8 switches,
    0 fragmentations; the fragmentations are frames withheld as ambiguous, by design).
    What remains is swaps of same-size people crossing on one lane with noisy boxes and
    no frame to look at, and a track whose person was missed taking a look-alike that
    reappears from an occlusion right there."""
    total = run_seeds(range(10, 30))
    assert total.track_frames > 60000
    assert total.per_1000 <= 1.0
    assert total.fragmentations <= 20


def _person(cx: float, t: float = 0.0, height: float = 300.0) -> tuple[np.ndarray, ...]:
    """One detection (batch of 1) of a stick figure centred at ``cx``."""
    kps = stick_figure(cx, 600.0, height, gait=2.0 * t, direction=1.0)
    box = np.array([[cx - 60.0, 600.0 - 1.04 * height, cx + 60.0, 610.0]])
    return box, np.array([0.9]), kps[None], np.full((1, 17), 0.9)


def _empty() -> tuple[np.ndarray, ...]:
    return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 2)), np.zeros((0, 17))


def _walker(cx: float, t: float, height: float, foot: float, direction: float) -> tuple[np.ndarray, ...]:
    """(box (4,), keypoints (17, 2)) of a figure walking in ``direction`` (±1) with feet at ``foot``."""
    kps = stick_figure(cx, foot, height, gait=2.0 * t, direction=direction)
    half = 0.2 * height
    return np.array([cx - half, foot - 1.02 * height, cx + half, foot + 0.02 * height]), kps


def _frame(*people: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """One frame's detections from ``_walker`` results."""
    if not people:
        return _empty()
    n = len(people)
    boxes, kps = np.array([p[0] for p in people]), np.array([p[1] for p in people])
    return boxes, np.full(n, 0.9), kps, np.full((n, 17), 0.9)


def _ids_by_person(frames: list[list[tuple[str, tuple[np.ndarray, ...]]]]) -> dict[str, set[int]]:
    """Feed ``frames`` of (name, walker) pairs at 30 fps; the ids each named person was given."""
    tracker, seen = PoseTracker(), {}
    for i, people in enumerate(frames):
        ids = tracker.update(*_frame(*(p for _, p in people)), stamp=i / FPS)
        for (name, _), tid in zip(people, ids.tolist(), strict=True):
            seen.setdefault(name, set()).add(tid)
    return {name: ids - {0} for name, ids in seen.items()}


def test_tentative_then_confirmed() -> None:
    tracker = PoseTracker(TrackerConfig(min_hits=3))
    got = [int(tracker.update(*_person(300.0 + 3 * i), stamp=i / FPS)[0]) for i in range(4)]
    assert got == [0, 0, 1, 1]  # untracked until min_hits matches, then id 1
    assert [t.state for t in tracker.tracks] == [TrackState.CONFIRMED]


def test_lost_track_reacquired_after_occlusion_keeps_id() -> None:
    tracker = PoseTracker()
    speed = 120.0  # px/s, constant, so the prediction carries through the gap
    stamp = 0.0
    for i in range(30):
        stamp = i / FPS
        tid = int(tracker.update(*_person(200.0 + speed * stamp, stamp), stamp=stamp)[0])
    assert tid == 1
    for i in range(30, 90):  # 2 s hidden
        stamp = i / FPS
        assert len(tracker.update(*_empty(), stamp=stamp)) == 0
    assert [t.state for t in tracker.tracks] == [TrackState.LOST]
    stamp = 90 / FPS
    assert int(tracker.update(*_person(200.0 + speed * stamp, stamp), stamp=stamp)[0]) == 1
    assert tracker.tracks[0].state is TrackState.CONFIRMED


def test_turning_back_unseen_keeps_id() -> None:
    """A fast far walker turns round while missed for 6 frames: the prediction overshoots
    the turn, but the detection is near where the track was last seen (recovery stage)."""

    def x_at(t: float) -> tuple[float, float]:  # 250 px/s right, then back from t = 1 s
        return (400.0 + 250.0 * t, 1.0) if t < 1.0 else (400.0 + 250.0 * (2.0 - t), -1.0)

    frames = []
    for i in range(60):
        cx, direction = x_at(i / FPS)
        frames.append([] if 27 <= i <= 32 else [("walker", _walker(cx, i / FPS, 200.0, 500.0, direction))])
    assert _ids_by_person(frames) == {"walker": {1}}


def test_new_person_far_from_lost_track_gets_new_id() -> None:
    """A lost track neither lends its id to a stranger elsewhere nor loses it to them."""
    frames = []
    for i in range(120):
        t = i / FPS
        people = [] if 30 <= i < 75 else [("first", _walker(300.0 + 100.0 * t, t, 300.0, 600.0, 1.0))]
        if i >= 40:  # appears while the first one is hidden, 500 px from its prediction
            people.append(("stranger", _walker(1000.0 - 50.0 * t, t, 300.0, 600.0, -1.0)))
        frames.append(people)
    assert _ids_by_person(frames) == {"first": {1}, "stranger": {2}}


def test_stale_lost_track_does_not_take_a_tracked_person() -> None:
    """A person hidden for 1.3 s is predicted right onto someone walking the other way;
    its prediction has spread so wide that, matched jointly, it would win that person's
    (noisy) detection. Matched after the fresh tracks, it cannot."""
    rng = np.random.default_rng(0)
    frames = []
    for i in range(90):
        t = i / FPS
        box, kps = _walker(900.0 - 150.0 * t, t, 300.0, 600.0, -1.0)
        people = [("walker", (box + rng.normal(0.0, 4.0, 4), kps + rng.normal(0.0, 3.0, kps.shape)))]
        if t < 1.0:  # then hidden; predicted to cross the walker at t = 2.33 s
            people.append(("hidden", _walker(200.0 + 150.0 * t, t, 300.0, 600.0, 1.0)))
        frames.append(people)
    assert _ids_by_person(frames) == {"walker": {1}, "hidden": {2}}


def test_missed_person_does_not_lend_id_to_tentative_neighbour() -> None:
    """Start-up case: a smaller, farther person appears overlapping a confirmed one just
    before that one is missed for 2 frames; the newcomer's own tentative track keeps its
    detection (joint assignment), so neither id moves."""
    frames = []
    for i in range(30):
        t = i / FPS
        people = [] if i in (11, 12) else [("near", _walker(400.0 + 60.0 * t, t, 300.0, 600.0, 1.0))]
        if i >= 10:
            people.append(("far", _walker(420.0 - 60.0 * t, t, 240.0, 540.0, -1.0)))
        frames.append(people)
    assert _ids_by_person(frames) == {"near": {1}, "far": {2}}


def test_ids_never_reused_after_removal() -> None:
    tracker = PoseTracker(TrackerConfig(max_missing_s=0.5))
    for i in range(5):
        first = int(tracker.update(*_person(300.0), stamp=i / FPS)[0])
    tracker.update(*_empty(), stamp=2.0)  # > max_missing_s later: removed
    assert tracker.tracks == ()
    for i in range(5):
        second = int(tracker.update(*_person(300.0), stamp=3.0 + i / FPS)[0])
    assert first == 1 and second == 2


def test_kalman_constant_velocity_with_variable_dt() -> None:
    kf = BoxKalman(np.array([100.0, 100.0, 150.0, 300.0]), measurement_std=0.05, acceleration_std=0.5)
    t, vx, vy = 0.0, 90.0, -30.0  # px/s
    for dt in (0.033, 0.05, 0.02, 0.1, 0.033, 0.066) * 6:
        t += dt
        kf.predict(dt)
        kf.update(np.array([100.0 + vx * t, 100.0 + vy * t, 150.0 + vx * t, 300.0 + vy * t]))
    np.testing.assert_allclose(kf.velocity, [vx, vy], atol=2.0)
    x, _ = kf.predicted(0.5)
    np.testing.assert_allclose(x[:2], [125.0 + vx * (t + 0.5), 200.0 + vy * (t + 0.5)], atol=2.0)
    x_gap, _ = kf.predicted(1.5)
    assert x_gap[0] - x[0] == pytest.approx(vx * 1.0, abs=2.0)  # prediction scales with real dt


def test_box_size_rate_decays_through_a_gap() -> None:
    """A width shrinking at 40 px/s (a stride's swing) must not be extrapolated for 2 s."""
    rate, t = -40.0, 0.0
    filters = [
        BoxKalman(np.array([0.0, 0.0, 120.0, 300.0]), 0.05, 0.5, size_velocity_tau_s=tau)
        for tau in (None, 1.0)
    ]
    for _ in range(30):
        t += 1 / FPS
        box = np.array([100.0 * t, 0.0, 100.0 * t + 120.0 + rate * t, 300.0])
        for kf in filters:
            kf.predict(1 / FPS)
            kf.update(box)
    (steady, _), (decayed, _) = (kf.predicted(2.0) for kf in filters)
    width = 120.0 + rate * t
    assert steady[2] == pytest.approx(width + 2.0 * rate, abs=10.0)  # constant rate: 80 px narrower
    assert decayed[2] == pytest.approx(width + rate * (1.0 - np.exp(-2.0)), abs=10.0)  # τ(1 − e^(−2/τ))
    assert decayed[0] == pytest.approx(steady[0], abs=1.0)  # positions still move at full speed


def test_empty_frames_and_predicted_boxes() -> None:
    tracker = PoseTracker(TrackerConfig(min_hits=1))
    assert tracker.update(*_empty(), stamp=0.0).shape == (0,)
    assert tracker.update([], [], [], [], stamp=0.1).dtype.kind == "i"
    for i in range(10):
        tracker.update(*_person(300.0 + 4.0 * i), stamp=0.2 + i / FPS)
    ids, boxes = tracker.predicted_boxes(stamp=0.2 + 19 / FPS)  # 10 frames ahead
    assert ids.tolist() == [1] and boxes.shape == (1, 4)
    assert (boxes[0, 0] + boxes[0, 2]) / 2 == pytest.approx(300.0 + 4.0 * 19, abs=6.0)
    tracker.update(*_empty(), stamp=1.0)
    assert tracker.predicted_boxes()[1].shape == (0, 4)  # lost tracks are left out by default
    assert tracker.predicted_boxes(include_lost=True)[0].tolist() == [1]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_hits", 0),
        ("max_missing_s", -1.0),
        ("max_missing_frames", -1),
        ("iou_weight", 1.5),
        ("min_similarity", -0.1),
        ("min_oks", 2.0),
        ("measurement_std", 0.0),
        ("acceleration_std", -1.0),
        ("stale_spread", 0.0),
        ("size_velocity_tau_s", -1.0),
    ],
)
def test_config_validation(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TrackerConfig(**{field: value}).validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TrackerConfig"):
        PoseTracker(TrackerConfig(**{field: value}))  # type: ignore[arg-type]


def test_default_config_survives_two_second_occlusion() -> None:
    cfg = TrackerConfig().validate()
    assert cfg.max_missing_s >= 2.0 and cfg.max_missing_frames == 0  # 0: no frame limit


def test_sigmas_are_checked_against_the_keypoints() -> None:
    with pytest.raises(ValueError, match="sigmas"):
        PoseTracker(sigmas=(0.1, 0.0))
    tracker = PoseTracker(TrackerConfig(min_hits=1), sigmas=(0.1, 0.1))
    box, kps = np.array([[0.0, 0.0, 10.0, 10.0]]), np.zeros((1, 3, 2))
    with pytest.raises(ValueError, match="2 sigmas for 3 keypoints"):
        for t in (0.0, 0.1):
            tracker.update(box, np.ones(1), kps, np.ones((1, 3)), t)


def test_a_gap_without_frames_longer_than_max_missing_ends_the_track() -> None:
    """A paused camera: no frames at all for longer than max_missing_s. The person standing
    at the same place afterwards is a new track (the old id is not inherited), while a gap
    shorter than that keeps the id as an occlusion does."""
    tracker = PoseTracker(TrackerConfig(max_missing_s=1.0))
    for i in range(5):
        first = int(tracker.update(*_person(300.0), stamp=i / FPS)[0])
    assert first == 1
    resumed = 4 / FPS + 0.9  # within max_missing_s: same track
    assert int(tracker.update(*_person(300.0), stamp=resumed)[0]) == 1
    after_pause = [int(tracker.update(*_person(300.0), stamp=resumed + 5.0 + i / FPS)[0]) for i in range(3)]
    assert after_pause == [0, 0, 2]  # tentative again, then a new id
