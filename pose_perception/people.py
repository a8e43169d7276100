"""``Person``: what every consumer (ROS node, CLI, bag mode, benchmarks) gets per person."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNTRACKED = 0  # track_id of a person no tracker has named (single-frame mode)

# Where a joint's 3D position came from (Keypoint.position_source on /poses).
SOURCE_NONE = 0
SOURCE_DEPTH = 1  # measured: a depth image at the keypoint
SOURCE_LIFTER = 2  # estimated: the monocular lifter (three_d.mode lifter, or fused where depth missed)


# The fields of Person that make up its 3D result (take_3d_from copies them together).
THREE_D_FIELDS = ("keypoints_3d", "keypoints_3d_valid", "keypoints_3d_source", "keypoints_3d_confidence")


@dataclass
class Person:
    """One person in one frame, in image pixels.

    ``keypoints_3d`` (K,3, metres, camera frame) and ``keypoints_3d_valid`` (K,) exist
    only when depth or a lifter supplied them; otherwise they are ``None``. With them,
    ``keypoints_3d_source`` (K,) says where each came from (``SOURCE_*``) and
    ``keypoints_3d_confidence`` (K,) how far to trust it, in [0, 1]: for depth the fraction
    of the joint's window with depth times (1 - its depth spread / the spread limit); for
    the lifter, which has no per-joint uncertainty, the joint's 2D score.
    """

    track_id: int
    bbox: np.ndarray  # (4,) x_min, y_min, x_max, y_max
    score: float
    keypoints: np.ndarray  # (K, 2) x, y
    keypoint_scores: np.ndarray  # (K,)
    keypoints_3d: np.ndarray | None = field(default=None)
    keypoints_3d_valid: np.ndarray | None = field(default=None)
    keypoints_3d_source: np.ndarray | None = field(default=None)
    keypoints_3d_confidence: np.ndarray | None = field(default=None)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def joints_with_3d(self) -> np.ndarray:
        """(K,) bool: joints with a valid, finite 3D position (all False without 3D). What
        is published as ``has_position`` and written to keypoints.jsonl: never a NaN."""
        if self.keypoints_3d is None or self.keypoints_3d_valid is None:
            return np.zeros(self.num_keypoints, bool)
        points = np.asarray(self.keypoints_3d, np.float64).reshape(-1, 3)
        return np.asarray(self.keypoints_3d_valid, bool).reshape(-1) & np.isfinite(points).all(axis=1)

    def take_3d_from(self, other: Person) -> None:
        """Copy ``other``'s 3D result (positions, validity, source, confidence) into this
        person: one place that knows which fields make up a 3D result."""
        for name in THREE_D_FIELDS:
            value = getattr(other, name)
            setattr(self, name, None if value is None else value.copy())

    @property
    def label(self) -> str:
        """Short text drawn beside the person (annotated image, RViz)."""
        score = f"{self.score:.2f}"
        return f"id {self.track_id} {score}" if self.track_id != UNTRACKED else score


def people_from_estimates(
    bboxes: np.ndarray,
    keypoints: np.ndarray,
    keypoint_scores: np.ndarray,
    track_ids: np.ndarray | None = None,
    min_score: float = 0.0,
) -> list[Person]:
    """Bundle batched estimator output into ``Person`` objects (score = mean keypoint score).

    People scoring below ``min_score`` are left out: a top-down model always finds
    "someone" in a box, and an empty scene must not yield a person.
    """
    people = []
    for i in range(len(bboxes)):
        score = float(np.mean(keypoint_scores[i])) if keypoint_scores.shape[1] else 0.0
        if score < min_score:
            continue
        track_id = int(track_ids[i]) if track_ids is not None else UNTRACKED
        people.append(
            Person(
                track_id=track_id,
                bbox=np.asarray(bboxes[i, :4], np.float32),
                score=score,
                keypoints=np.asarray(keypoints[i], np.float32),
                keypoint_scores=np.asarray(keypoint_scores[i], np.float32),
            )
        )
    return people
