"""``Person``: what every consumer (ROS node, CLI, bag mode, benchmarks) gets per person."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNTRACKED = 0  # track_id of a person no tracker has named (single-frame mode)

# Where a joint's 3D position came from (Keypoint.position_source on /poses).
SOURCE_NONE = 0
SOURCE_DEPTH = 1  # measured: a depth image at the keypoint
SOURCE_LIFTER = 2  # estimated: the monocular lifter (three_d.mode lifter, or fused where depth missed)


@dataclass(frozen=True)
class Joints3D:
    """A person's 3D joints: one value, so positions, validity, source and confidence
    cannot be replaced apart from each other.

    ``positions`` (K,3) float32, metres, camera optical frame, NaN where ``valid`` is
    False; ``source`` (K,) uint8 ``SOURCE_*`` says where each joint came from and
    ``confidence`` (K,) float32 how far to trust it, in [0, 1]: for depth the fraction of
    the joint's window with depth times (1 - its depth spread / the spread limit); for the
    lifter, which has no per-joint uncertainty, the joint's 2D score.
    """

    positions: np.ndarray
    valid: np.ndarray
    source: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        k = len(self.valid)
        shapes = (self.positions.shape, self.source.shape, self.confidence.shape)
        if shapes != ((k, 3), (k,), (k,)):
            raise ValueError(f"Joints3D arrays disagree for {k} joints: shapes {shapes}")

    def has_position(self) -> np.ndarray:
        """(K,) bool: joints with a valid, finite position. What is published as
        ``has_position`` and written to keypoints.jsonl: never a NaN."""
        points = np.asarray(self.positions, np.float64).reshape(-1, 3)
        return np.asarray(self.valid, bool).reshape(-1) & np.isfinite(points).all(axis=1)


@dataclass
class Person:
    """One person in one frame, in image pixels; ``joints_3d`` only when depth or a
    lifter supplied 3D (otherwise ``None``)."""

    track_id: int
    bbox: np.ndarray  # (4,) x_min, y_min, x_max, y_max
    score: float
    keypoints: np.ndarray  # (K, 2) x, y
    keypoint_scores: np.ndarray  # (K,)
    joints_3d: Joints3D | None = field(default=None)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

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
