"""look_trust: whose colours the tracker believes, from the foot line (who stands in front)."""

from __future__ import annotations

import numpy as np

from pose_perception.look_trust import (
    ANKLES,
    FRONT_MARGIN,
    foot_lines,
    in_front_of_overlapping,
    pairs_accounted_for,
)
from pose_perception.synthetic import stick_figure
from pose_perception.track_geometry import box_iou


def _person(cx: float, foot: float, height: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    box = np.array([cx - 0.2 * height, foot - height, cx + 0.2 * height, foot + 0.03 * height])
    return box, stick_figure(cx, foot, height, gait=0.7, direction=1.0)


def test_foot_line_is_the_lowest_confident_ankle_else_the_box_bottom() -> None:
    box, kps = _person(400.0, 600.0)
    scores = np.full((1, 17), 0.9)
    feet = foot_lines(box[None], kps[None], scores, 0.3)
    assert feet[0] == kps[list(ANKLES), 1].max()  # not the box bottom (9 px lower)
    assert feet[0] != box[3]
    scores[0, list(ANKLES)] = [0.9, 0.1]
    assert foot_lines(box[None], kps[None], scores, 0.3)[0] == kps[ANKLES[0], 1]
    scores[0, list(ANKLES)] = 0.1
    assert foot_lines(box[None], kps[None], scores, 0.3)[0] == box[3]
    hand = np.zeros((1, 5, 2))  # a skeleton without COCO ankles: the box bottom
    assert foot_lines(box[None], hand, np.ones((1, 5)), 0.3)[0] == box[3]


def _overlapping(boxes: np.ndarray) -> np.ndarray:
    """Pairs whose boxes overlap by IoU above 0.1, each person's own box left out (as the tracker asks)."""
    return (box_iou(boxes, boxes) > 0.1) & ~np.eye(len(boxes), dtype=bool)


def test_only_the_person_clearly_in_front_is_seen_whole() -> None:
    near, near_kps = _person(400.0, 650.0)
    far, far_kps = _person(430.0, 650.0 - 2 * FRONT_MARGIN * 300.0)  # feet well above: farther
    beside, beside_kps = _person(450.0, 640.0)  # feet 10 px apart: side by side
    boxes = np.array([near, far])
    feet = foot_lines(boxes, np.array([near_kps, far_kps]), np.ones((2, 17)), 0.3)
    assert in_front_of_overlapping(boxes, feet, feet, _overlapping(boxes)).tolist() == [True, False]
    boxes = np.array([near, beside])
    feet = foot_lines(boxes, np.array([near_kps, beside_kps]), np.ones((2, 17)), 0.3)
    assert in_front_of_overlapping(boxes, feet, feet, _overlapping(boxes)).tolist() == [False, False]
    alone = np.array([near, near + np.array([500.0, 0.0, 500.0, 0.0])])  # far apart: nobody overlaps
    assert in_front_of_overlapping(alone, alone[:, 3], alone[:, 3], _overlapping(alone)).all()
    itself = box_iou(alone, alone) > 0.1  # own box not left out: a person is not in front of themself
    assert not in_front_of_overlapping(alone, alone[:, 3], alone[:, 3], itself).any()


def test_a_pair_with_every_tracked_person_detected_is_believed() -> None:
    partners = np.array([[False, True, False], [True, False, False], [False, False, False]])
    near = np.array([[True, True, False], [True, True, False], [False, False, True]])  # (people, tracks)
    claimed = np.array([True, True, True])
    assert pairs_accounted_for(partners, near, claimed).tolist() == [True, True, True]
    # The pair's second track is no one's now (its person missed): neither view of the pair shows only them.
    claimed = np.array([True, False, True])
    assert pairs_accounted_for(partners, near, claimed).tolist() == [False, False, True]
    # Three people overlapping: a view may show the third, so no one of them is believed.
    cluster = ~np.eye(3, dtype=bool)
    assert not pairs_accounted_for(cluster, np.ones((3, 3), bool), np.ones(3, bool)).any()
    # One of a pair overlapping someone else too: their partner is not believed either.
    chain = np.array([[False, True, False], [True, False, True], [False, True, False]])
    assert not pairs_accounted_for(chain, np.zeros((3, 3), bool), np.ones(3, bool)).any()
