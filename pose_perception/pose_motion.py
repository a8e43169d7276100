"""How a tracked person's keypoints move: their own velocity, for predicting the pose.

Keypoints are measured far more precisely than boxes (a pose model's joints are off by a
few pixels, a detector's box edges by a twentieth of the box), so the mean of a person's
confident keypoints moves at their true speed while a box's velocity still carries the
edge jitter. On the synthetic groups crossing (tracker families), two people walking
opposite ways through each other looked equally likely to the box velocity alone; the
pose moved on by its own velocity told them apart.
"""

from __future__ import annotations

import numpy as np

from pose_perception.track_geometry import box_to_cxcywh

POSE_VELOCITY_RATE = 0.3  # how fast the velocity follows each new match (exponential smoothing)


def pose_velocity(
    old: np.ndarray | None, last_kps: np.ndarray, kps: np.ndarray, ok: np.ndarray, dt: float
) -> np.ndarray | None:
    """(2,) px/s: ``old`` smoothed towards the mean shift over ``dt`` of the keypoints
    confident in both poses (``ok``: (2, K), last and new); ``old`` when nothing can be measured."""
    both = ok.all(axis=0)
    if dt <= 0.0 or not both.any():
        return old
    velocity = (kps[both].mean(axis=0) - last_kps[both].mean(axis=0)) / dt
    return velocity if old is None else old + POSE_VELOCITY_RATE * (velocity - old)


def predict_poses(
    keypoints: np.ndarray,
    velocities: list[np.ndarray | None],
    last_boxes: np.ndarray,
    boxes: np.ndarray,
    dts: np.ndarray,
    carried: np.ndarray,
) -> np.ndarray:
    """(T, K, 2) each track's ``keypoints`` moved on by its velocity for its ``dts``, scaled as
    its box grew from ``last_boxes`` to ``boxes`` (nearer or farther) about the old box centre;
    ``carried`` (moved with the box) for a track whose velocity is not known yet (None)."""
    known = np.array([v is not None for v in velocities])
    if not known.any():
        return carried
    velocity = np.array([np.zeros(2) if v is None else v for v in velocities])
    old, new = box_to_cxcywh(last_boxes), box_to_cxcywh(boxes)
    scale = new[:, 2:] / np.maximum(old[:, 2:], 1e-6)
    centre = old[:, None, :2]
    moved = (keypoints - centre) * scale[:, None, :] + centre + velocity[:, None, :] * dts[:, None, None]
    return np.where(known[:, None, None], moved, carried)
