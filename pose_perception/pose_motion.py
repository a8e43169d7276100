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


def predict_pose(
    keypoints: np.ndarray, velocity: np.ndarray, last_box: np.ndarray, box: np.ndarray, dt: float
) -> np.ndarray:
    """(K, 2) ``keypoints`` moved on by ``velocity`` for ``dt``, scaled as the box grew from
    ``last_box`` to ``box`` (nearer or farther) about their old box centre."""
    old, new = box_to_cxcywh(last_box), box_to_cxcywh(box)
    scale = new[2:] / np.maximum(old[2:], 1e-6)
    return (keypoints - old[:2]) * scale + old[:2] + velocity * dt
