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


def pose_velocities(
    old: list[np.ndarray | None], last_kps: np.ndarray, kps: np.ndarray, ok: np.ndarray, dts: np.ndarray
) -> list[np.ndarray | None]:
    """Per matched track, (2,) px/s: ``old`` smoothed towards the mean shift over ``dts`` of the
    keypoints confident in both poses (``ok``: (2, M, K), last and new); ``old`` where nothing
    can be measured. One call for all matches of a frame (``last_kps``, ``kps``: (M, K, 2))."""
    both = ok[0] & ok[1]
    counts = both.sum(axis=1)
    shift = ((kps - last_kps) * both[..., None]).sum(axis=1) / np.maximum(counts, 1)[:, None]
    measured = shift / np.where(dts > 0.0, dts, 1.0)[:, None]
    usable = (counts > 0) & (dts > 0.0)
    known = np.array([v is not None for v in old], bool)
    previous = np.array([np.zeros(2) if v is None else v for v in old]).reshape(-1, 2)
    smoothed = np.where(known[:, None], previous + POSE_VELOCITY_RATE * (measured - previous), measured)
    return [new if use else old_v for new, use, old_v in zip(smoothed, usable, old, strict=True)]


def predict_poses(
    keypoints: np.ndarray,
    velocities: list[np.ndarray | None],
    last_boxes: np.ndarray,
    boxes: np.ndarray,
    dts: np.ndarray,
    carried: np.ndarray | None,
) -> np.ndarray:
    """(T, K, 2) each track's ``keypoints`` moved on by its velocity for its ``dts``, scaled as
    its box grew from ``last_boxes`` to ``boxes`` (nearer or farther) about the old box centre;
    ``carried`` (moved with the box) for a track whose velocity is not known yet (None);
    ``carried`` may be None when every velocity is known."""
    known = np.array([v is not None for v in velocities], bool)
    if carried is not None and not known.any():
        return carried
    velocity = np.array([np.zeros(2) if v is None else v for v in velocities])
    old, new = box_to_cxcywh(last_boxes), box_to_cxcywh(boxes)
    scale = new[:, 2:] / np.maximum(old[:, 2:], 1e-6)
    centre = old[:, None, :2]
    moved = (keypoints - centre) * scale[:, None, :] + centre + velocity[:, None, :] * dts[:, None, None]
    if carried is None:  # every velocity known
        return moved
    return np.where(known[:, None, None], moved, carried)
