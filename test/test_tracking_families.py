"""Harder walker families (issue 16, item 3) and motmetrics scoring of a tracker (item 4)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pose_perception.synthetic import render, render_frames
from pose_perception.synthetic.scenarios import CAMERAS, FAMILIES, REENTRY_GAP_S, make_scenario
from pose_perception.synthetic.walkers import Detections, Sequence, noisy_detections
from pose_perception.tracking import box_iou
from pose_perception.tracking_eval import evaluate, pose_tracker, run_tracker, score

SEEDS = range(6)


def _pair_iou(seq: Sequence, a: int, b: int) -> np.ndarray:
    return np.array([box_iou(f.boxes[[a]], f.boxes[[b]])[0, 0] for f in seq.frames])


def _centres(seq: Sequence) -> np.ndarray:
    return np.array([0.5 * (f.boxes[:, 0] + f.boxes[:, 2]) for f in seq.frames])  # (T, M)


@pytest.mark.parametrize("family", ["head_on", "head_on_same_clothes"])
@pytest.mark.parametrize("seed", SEEDS)
def test_head_on_same_size_same_line_boxes_overlap(family: str, seed: int) -> None:
    seq = make_scenario(family, seed=seed)
    a, b = seq.walkers
    assert (a.foot_y, a.height) == (b.foot_y, b.height)
    assert _pair_iou(seq, 0, 1).max() > 0.7
    x = _centres(seq)
    meet = int(np.argmin(np.abs(x[:, 0] - x[:, 1])))
    moved = x[meet + 5] - x[meet - 5]  # over 10 frames: the gait's swing moves a box's centre too
    assert moved[0] * moved[1] < 0  # walking towards each other


@pytest.mark.parametrize("seed", SEEDS)
def test_overtaking_same_way_one_passes_the_other(seed: int) -> None:
    seq = make_scenario("overtaking", seed=seed)
    x, iou = _centres(seq), _pair_iou(seq, 0, 1)

    def passes_at(i: int) -> bool:
        before, after = x[i - 15], x[i + 15]
        same_way = np.all(after > before) or np.all(after < before)
        return bool(
            iou[i] > 0.7 and same_way and np.sign(before[1] - before[0]) != np.sign(after[1] - after[0])
        )

    assert any(passes_at(i) for i in range(15, len(x) - 15))


@pytest.mark.parametrize("seed", SEEDS)
def test_groups_merge_then_split(seed: int) -> None:
    seq = make_scenario("groups", seed=seed)
    across = [box_iou(f.boxes[:2], f.boxes[2:]) for f in seq.frames]  # group A × group B
    apart = [bool(np.all(m == 0.0)) for m in across]

    def merged(m: np.ndarray) -> bool:  # every member overlaps someone of the other group
        return bool(np.all(m.max(axis=1) > 0) and np.all(m.max(axis=0) > 0))

    merges = [i for i, m in enumerate(across) if merged(m)]
    assert any(any(apart[:i]) and any(apart[i:]) for i in merges)


@pytest.mark.parametrize("family", ["reentry", "reentry_same_clothes"])
@pytest.mark.parametrize("seed", SEEDS)
def test_reentry_gap_of_three_to_ten_seconds(family: str, seed: int) -> None:
    seq = make_scenario(family, seed=seed)
    visible = np.array([f.visible[0] for f in seq.frames])
    assert visible[0] and np.all([f.visible[1] for f in seq.frames])
    gone = np.flatnonzero(~visible)
    assert len(gone) and visible[gone[0] - 1] and gone[-1] + 1 < len(visible) and visible[gone[-1] + 1]
    assert np.all(np.diff(gone) == 1)  # one continuous absence
    gap = len(gone) / seq.fps
    assert REENTRY_GAP_S[0] <= gap <= REENTRY_GAP_S[1]
    centre = [seq.walkers[0].x_at(seq.frames[i].stamp)[0] for i in gone]
    assert np.all(np.array(centre) > seq.width)  # out of view, not merely undetected


def test_same_clothes_families_render_people_alike() -> None:
    alike = make_scenario("head_on_same_clothes", seed=2)
    own = make_scenario("head_on", seed=2)
    assert alike.walkers[0].clothing == alike.walkers[1].clothing
    assert own.walkers[0].clothing != own.walkers[1].clothing
    img = render(alike, 0)
    shirt = alike.walkers[0].clothing[0] if alike.walkers[0].clothing else None
    assert shirt is not None and np.all(img.reshape(-1, 3) == shirt, axis=1).any()


def test_lower_camera_makes_far_people_overlap_near_ones_more() -> None:
    def vertical_overlap(camera: str) -> float:
        (far_foot, far_h), (near_foot, near_h) = (CAMERAS[camera].lane(d, 720) for d in (0.5, 0.9))
        top = max(far_foot - far_h, near_foot - near_h)
        return max(0.0, min(far_foot, near_foot) - top) / far_h

    overlaps = [vertical_overlap(c) for c in ("low", "eye", "high")]
    assert overlaps[0] > overlaps[1] > overlaps[2]
    heights = [make_scenario("head_on", seed=1, camera=c).walkers[0].height for c in ("low", "eye", "high")]
    assert heights[0] > heights[1] > heights[2]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_families_repeat_by_seed(family: str) -> None:
    one, two = make_scenario(family, seed=4, seconds=3.0), make_scenario(family, seed=4, seconds=3.0)
    other = make_scenario(family, seed=5, seconds=3.0)
    assert one.walkers == two.walkers and one.walkers != other.walkers
    for f, g in zip(one.frames, two.frames, strict=True):
        assert np.array_equal(f.boxes, g.boxes) and np.array_equal(f.visible, g.visible)


def test_unknown_family_or_camera_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        make_scenario("nope")
    with pytest.raises(ValueError, match="unknown camera 'roof'"):
        make_scenario("head_on", camera="roof")


@pytest.fixture
def motmetrics() -> None:
    """The metrics tests need the ``dev`` extra; the family tests do not."""
    pytest.importorskip("motmetrics")


def _gt_detections(seq: Sequence) -> list[Detections]:
    return noisy_detections(seq, miss_rate=0.0, box_noise=0.0, keypoint_noise_px=0.0)


def _oracle_ids(dets: list[Detections]) -> list[np.ndarray]:
    return [d.gt_ids.copy() for d in dets]


@pytest.mark.usefixtures("motmetrics")
def test_metrics_are_perfect_for_ground_truth_ids() -> None:
    seq = make_scenario("head_on", seed=0, seconds=8.0)
    dets = _gt_detections(seq)
    scores = score(seq, dets, _oracle_ids(dets), 0.0)
    assert scores.idf1 == pytest.approx(1.0) and scores.mota == pytest.approx(1.0)
    assert scores.id_switches == 0


@pytest.mark.usefixtures("motmetrics")
def test_a_swapped_id_is_counted_as_a_switch() -> None:
    seq = make_scenario("head_on", seed=0, seconds=8.0)
    dets = _gt_detections(seq)
    ids = _oracle_ids(dets)
    for frame_ids in ids[len(ids) // 2 :]:  # from mid-clip on, the two people's ids are exchanged
        frame_ids[:] = 3 - frame_ids
    scores = score(seq, dets, ids, 0.0)
    assert scores.id_switches == 2 and scores.idf1 < 0.6


@pytest.mark.usefixtures("motmetrics")
def test_untracked_detections_count_as_misses() -> None:
    seq = make_scenario("reentry", seed=0, seconds=8.0)
    dets = _gt_detections(seq)
    ids = [np.zeros_like(i) for i in _oracle_ids(dets)]
    scores = score(seq, dets, ids, 0.0)
    assert scores.mota == pytest.approx(0.0) and scores.idf1 == pytest.approx(0.0)


@pytest.mark.usefixtures("motmetrics")
def test_pose_tracker_scores_on_a_family() -> None:
    seq = make_scenario("head_on", seed=0, seconds=8.0)
    dets = noisy_detections(seq, seed=100)
    result = evaluate(seq, dets, pose_tracker())
    assert 0.8 < result.idf1 <= 1.0 and 0.7 < result.mota <= 1.0 and result.ms_per_frame > 0
    ids, _ = run_tracker(pose_tracker(), dets)
    assert score(seq, dets, ids, 0.0).idf1 == pytest.approx(result.idf1)  # a fresh tracker per call


def test_rendered_frames_are_lazy_deterministic_and_show_the_clothes() -> None:
    seq = make_scenario("head_on", seed=3, seconds=2.0)
    frames, again = render_frames(seq, seed=1), render_frames(seq, seed=1)
    assert len(frames) == len(seq.frames)
    img = frames[10]
    assert img.shape == (seq.height, seq.width, 3) and img.dtype == np.uint8
    assert np.array_equal(img, again[10]) and not np.array_equal(img, render_frames(seq, seed=2)[10])
    shirt = seq.walkers[0].clothing[0] if seq.walkers[0].clothing else None
    assert shirt is not None and np.all(img.reshape(-1, 3) == shirt, axis=1).any()
    assert np.array_equal(frames[-1], frames[len(frames) - 1])
    with pytest.raises(IndexError, match="frame 60 of 60"):
        frames[60]


@pytest.mark.usefixtures("motmetrics")
def test_evaluate_hands_each_tracker_call_its_frame() -> None:
    seq = make_scenario("head_on", seed=0, seconds=2.0)
    dets = _gt_detections(seq)
    frames = render_frames(seq)
    seen: list[bool] = []

    def oracle(det: Detections, image: np.ndarray | None) -> np.ndarray:
        seen.append(image is not None and np.array_equal(image, frames[len(seen)]))
        return det.gt_ids.copy()

    assert evaluate(seq, dets, oracle, frames).idf1 == pytest.approx(1.0)
    assert seen == [True] * len(seq.frames)
    ids, _ = run_tracker(lambda det, image: det.gt_ids * (image is None), dets, lambda i: None)
    assert all(np.array_equal(i, d.gt_ids) for i, d in zip(ids, dets, strict=True))
    with pytest.raises(ValueError, match="59 frames for 60 detections"):
        run_tracker(oracle, dets, frames[:59])


@pytest.mark.usefixtures("motmetrics")
def test_pairing_by_identity_does_not_count_box_noise_as_switches() -> None:
    """A clip that starts inside a crossing with the two boxes' noise crossed over: right ids
    all along. Paired by IoU alone, motmetrics first pairs each person with the other's
    box, then re-pairs once the boxes part and counts two switches; by identity, none."""
    full = make_scenario("head_on", seed=0, seconds=8.0)
    dets = _gt_detections(full)
    overlap = _pair_iou(full, 0, 1)
    start = int(np.argmax(overlap > 0.6))
    seq = replace(full, frames=full.frames[start:])
    dets = dets[start:]
    crossed = replace(dets[0], boxes=dets[0].boxes[::-1].copy())  # each row gets the other's box
    dets = [crossed, *dets[1:]]
    ids = _oracle_ids(dets)
    assert score(seq, dets, ids, 0.0, by_identity=False).id_switches == 2
    assert score(seq, dets, ids, 0.0).id_switches == 0
