"""Appearance and re-entry in ``PoseTracker`` (issue 16, items 1, 2 and 6) on rendered families."""

from __future__ import annotations

import numpy as np
import pytest

from pose_perception.appearance import describe, distances
from pose_perception.synthetic.frames import render_frames
from pose_perception.synthetic.scenarios import make_scenario
from pose_perception.synthetic.walkers import Detections, Sequence, noisy_detections
from pose_perception.tracking import TrackerConfig
from pose_perception.tracking_eval import pose_tracker, reentry_outcome, run_tracker

SEEDS = range(3)


def _run(
    family: str, seed: int, config: TrackerConfig | None = None, frames: bool = True
) -> tuple[Sequence, list[Detections], list[np.ndarray]]:
    seq = make_scenario(family, seed=seed)
    dets = noisy_detections(seq, seed=seed + 100)
    ids, _ = run_tracker(pose_tracker(config), dets, render_frames(seq, seed=seed) if frames else None)
    return seq, dets, ids


def _ids_of(gt: int, dets: list[Detections], ids: list[np.ndarray]) -> list[int]:
    """The nonzero ids given to person ``gt``, frame by frame."""
    return [int(i[d.gt_ids == gt][0]) for d, i in zip(dets, ids, strict=True) if (d.gt_ids == gt).any()]


def test_descriptor_reads_the_shirt_and_trouser_colours() -> None:
    seq = make_scenario("reentry", seed=1)
    frame, dets = render_frames(seq)[0], noisy_detections(seq, 0.0, 0.0, 0.0)[0]
    looks = describe(frame, dets.keypoints, dets.keypoint_scores, 0.3)
    for row, gt in enumerate(dets.gt_ids):
        clothing = seq.walkers[int(gt) - 1].clothing
        assert clothing is not None
        assert np.allclose(looks[row], np.array(clothing) / 255.0, atol=0.02)
    assert distances(looks[:1], looks[1:]).item() > 0.05  # own clothes differ
    hidden = dets.keypoint_scores.copy()
    hidden[:, 11:] = 0.0  # hips and legs not confident: no torso quad, no legs
    assert np.isnan(describe(frame, dets.keypoints, hidden, 0.3)).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_without_the_image_features_a_frame_changes_nothing(seed: int) -> None:
    off = TrackerConfig(appearance_weight=0.0, reentry_s=0.0)
    _, _, with_frames = _run("overtaking", seed, off)
    _, _, without = _run("overtaking", seed, frames=False)
    assert all(np.array_equal(a, b) for a, b in zip(with_frames, without, strict=True))


@pytest.mark.parametrize("family", ["head_on", "head_on_same_clothes"])
@pytest.mark.parametrize("seed", SEEDS)
def test_head_on_crossing_keeps_both_ids(family: str, seed: int) -> None:
    seq, dets, ids = _run(family, seed)
    for gt in (1, 2):
        named = _ids_of(gt, dets, ids)
        assert len(set(named) - {0}) == 1, f"person {gt} was named {sorted(set(named) - {0})}"
    assert reentry_outcome(seq, dets, ids).wrong == 0


@pytest.mark.parametrize("family", ["reentry", "reentry_same_clothes"])
@pytest.mark.parametrize("seed", SEEDS)
def test_person_coming_back_gets_the_old_id_and_no_one_else_does(family: str, seed: int) -> None:
    seq, dets, ids = _run(family, seed)
    outcome = reentry_outcome(seq, dets, ids)
    assert outcome.returns == 1 and outcome.kept == 1 and outcome.wrong == 0
    stayer = set(_ids_of(2, dets, ids)) - {0}
    leaver = set(_ids_of(1, dets, ids)) - {0}
    assert len(stayer) == 1 and len(leaver) == 1 and stayer != leaver  # the look-alike keeps its own


def test_without_reentry_a_returning_person_gets_a_new_id() -> None:
    seq, dets, ids = _run("reentry", 0, TrackerConfig(reentry_s=0.0))
    outcome = reentry_outcome(seq, dets, ids)
    assert outcome.returns == 1 and outcome.kept == 0 and outcome.wrong == 0


def test_reentry_forgets_after_reentry_s() -> None:
    seq, dets, ids = _run("reentry", 0, TrackerConfig(reentry_s=3.0))  # every gap here is longer
    assert reentry_outcome(seq, dets, ids).kept == 0
