"""Tracker rules for groups: a tentative track outlives one missed frame, and a person who
fits a just-missed rival about as well as their own track is reported untracked, not guessed."""

from __future__ import annotations

import numpy as np

from pose_perception.people import UNTRACKED
from pose_perception.synthetic import stick_figure
from pose_perception.tracking import PoseTracker, TrackerConfig

FPS = 30.0


def _people(*xs: float, t: float = 0.0) -> tuple[np.ndarray, ...]:
    """Detections of same-size figures (height 300, feet at y 600) centred at ``xs``."""
    kps = np.array([stick_figure(x, 600.0, 300.0, gait=2.0 * t, direction=1.0) for x in xs]).reshape(
        -1, 17, 2
    )
    boxes = np.array([[x - 60.0, 290.0, x + 60.0, 606.0] for x in xs]).reshape(-1, 4)
    return boxes, np.full(len(xs), 0.9), kps, np.full((len(xs), 17), 0.9)


def test_a_tentative_track_survives_one_missed_frame() -> None:
    """Detected, detected, missed, detected: the third match confirms it (default), where a
    track ending on its first miss would start over and stay untracked."""
    for max_missed, expected in ((1, [0, 0, None, 1]), (0, [0, 0, None, 0])):
        tracker = PoseTracker(TrackerConfig(tentative_max_missed=max_missed))
        got = []
        for i in range(4):
            frame = _people() if i == 2 else _people(300.0 + 2.0 * i, t=i / FPS)
            ids = tracker.update(*frame, stamp=i / FPS)
            got.append(int(ids[0]) if len(ids) else None)
        assert got == expected, max_missed


def _two_walkers_then(tracker: PoseTracker, last: tuple[np.ndarray, ...]) -> np.ndarray:
    """Two people 3 px apart walking together for 10 frames, then frame 10 is ``last``."""
    for i in range(10):
        ids = tracker.update(*_people(300.0 + 2.0 * i, 303.0 + 2.0 * i, t=i / FPS), stamp=i / FPS)
    assert sorted(ids.tolist()) == [1, 2]
    return tracker.update(*last, stamp=10 / FPS)


def test_a_person_who_fits_a_just_missed_rival_as_well_is_left_untracked() -> None:
    tracker = PoseTracker()
    ids = _two_walkers_then(tracker, _people(321.5, t=10 / FPS))  # one missed, the other between
    assert ids.tolist() == [UNTRACKED]
    assert len(tracker.tracks) == 2  # no new track from the withheld person either
    after = tracker.update(*_people(322.0, 325.0, t=11 / FPS), stamp=11 / FPS)
    assert sorted(after.tolist()) == [1, 2]


def test_without_the_margin_the_tracker_guesses() -> None:
    ids = _two_walkers_then(PoseTracker(TrackerConfig(ambiguity_margin=0.0)), _people(321.5, t=10 / FPS))
    assert ids.tolist()[0] in (1, 2)


def test_a_person_far_from_the_missed_rival_keeps_their_id() -> None:
    tracker = PoseTracker()
    for i in range(10):
        ids = tracker.update(*_people(200.0 + 2.0 * i, 600.0 + 2.0 * i, t=i / FPS), stamp=i / FPS)
    by_x = dict(zip([200.0, 600.0], ids.tolist(), strict=True))
    ids = tracker.update(*_people(220.0, t=10 / FPS), stamp=10 / FPS)  # the other one missed
    assert ids.tolist() == [by_x[200.0]]
