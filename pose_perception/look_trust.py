"""Whose look the tracker may believe: a view is trusted only when no one stands in front.

A person's colour descriptor (``appearance.describe``) samples the torso and legs their
keypoints outline. When someone else stands in front, those points land on the other
person's clothes and the descriptor is theirs: believing it swapped ids inside groups.
Who is in front comes from the foot line, the lowest confident ankle (a pose model's
ankles are off by a few pixels, a detector's box bottom by a twentieth of the box): on a
floor seen from above the feet, the nearer person's feet are lower in the image. Two foot
lines closer than ``FRONT_MARGIN`` of the person's height count as side by side, and
then neither view is trusted for learning a look.

Comparing looks is allowed one more case (``pairs_accounted_for``): two detected people
overlapping each other and no one else, every tracked person near them detected now. Each
view then shows only these two, and a view half covered by the other looks like the
other, which makes the two pairings' colour costs tie rather than favour the wrong one:
the cue decides only where the views still differ. Measured: two people overtaking from a
low camera (foot lines 20 px apart at 510 px tall) were told apart only by this.

Works for skeletons whose first 17 keypoints are COCO-17's (COCO-WholeBody too), as
``appearance`` does; for others the box bottom is the foot line.
"""

from __future__ import annotations

import numpy as np

ANKLES = (15, 16)  # COCO-17 left and right ankle
FRONT_MARGIN = 0.15  # person-height fraction: foot lines further apart than this are in depth order


def foot_lines(
    boxes: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray, min_score: float
) -> np.ndarray:
    """(N,) image y of each person's lowest confident ankle; the box bottom without one."""
    bottoms = np.asarray(boxes, np.float64)[:, 3]
    if keypoints.ndim != 3 or keypoints.shape[1] <= max(ANKLES):
        return bottoms
    ankles = keypoints[:, list(ANKLES), 1]
    confident = keypoint_scores[:, list(ANKLES)] >= min_score
    lowest = np.where(confident, ankles, -np.inf).max(axis=1)
    return np.where(np.isfinite(lowest), lowest, bottoms)


def in_front_of_overlapping(
    boxes: np.ndarray, feet: np.ndarray, others_feet: np.ndarray, overlapping: np.ndarray
) -> np.ndarray:
    """(N,) whether each of ``boxes`` stands clearly in front of every one of M others that
    overlaps it; ``overlapping`` (N, M) says which pairs overlap (the caller's IoU test, from
    IoUs it already has, a person's own box left out), ``others_feet`` (M,) are their foot lines."""
    margin = FRONT_MARGIN * (boxes[:, 3] - boxes[:, 1])
    behind = others_feet[None, :] < feet[:, None] - margin[:, None]
    return ~(overlapping & ~behind).any(axis=1)


def pairs_accounted_for(partners: np.ndarray, near_tracks: np.ndarray, claimed: np.ndarray) -> np.ndarray:
    """(N,) whether each person overlaps at most one other detected person, every tracked
    person overlapping them is someone detected now, and the same holds for that other person.

    ``partners`` (N, N): detected people overlapping each other (a person not with themself);
    ``near_tracks`` (N, T): tracks overlapping each person; ``claimed`` (T,): the track is the
    most similar one of some detection in this frame (its person is not the one missing).
    """
    ok = (partners.sum(axis=1) <= 1) & ~(near_tracks & ~claimed[None, :]).any(axis=1)
    return ok & ~(partners & ~ok[None, :]).any(axis=1)
