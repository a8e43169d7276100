"""Metric placement of a root-relative lifted skeleton in the camera frame.

3D output: metres, in the camera optical frame (x right, y down, z forward), the axes of
the image the keypoints came from.
"""

from __future__ import annotations

import numpy as np

from pose_perception.camera import PinholeCamera
from pose_perception.lifting.joints import H36M_INDEX, MIN_SCORE, ROOT
from pose_perception.skeletons import H36M17

_H = H36M_INDEX

# Standing height / (mean leg hip→knee→foot + root→thorax + thorax→head) on the synthetic
# body model (Drillis & Contini proportions, pose_perception.synthetic.body); the same for
# every height there. Turns a lifted skeleton's size into a stature.
STATURE_PER_CHAIN = 1.0853


def skeleton_stature(points: np.ndarray) -> float:
    """The standing height (m) of a (17, 3) H36M-17 skeleton from its bone lengths (any pose)."""
    p = np.asarray(points, np.float64)

    def bone(a: str, b: str) -> float:
        return float(np.linalg.norm(p[_H[a]] - p[_H[b]]))

    leg = 0.5 * sum(bone(f"{s}_hip", f"{s}_knee") + bone(f"{s}_knee", f"{s}_foot") for s in ("left", "right"))
    return STATURE_PER_CHAIN * (leg + bone("root", "thorax") + bone("thorax", "head"))


def place_in_camera(
    root_relative: np.ndarray,
    keypoints_2d: np.ndarray,
    camera: PinholeCamera,
    body_height_m: float | None = 1.7,
    root_depth: float | None = None,
    scores: np.ndarray | None = None,
    min_score: float = MIN_SCORE,
) -> np.ndarray:
    """Put a (J, 3) root-relative skeleton where it projects onto its (J, 2) pixels.

    The skeleton is first scaled so that its stature (:func:`skeleton_stature`) is
    ``body_height_m`` (``None`` keeps the lifter's own scale). Then its translation ``T``
    is solved: with ``x = (u − cx)/fx``, ``y = (v − cy)/fy``, perspective projection of
    ``P + T`` gives two equations per joint that are linear in ``T``,
    ``tx − x·tz = x·Pz − Px`` and ``ty − y·tz = y·Pz − Py``, solved by (score-weighted)
    least squares over the joints scoring ≥ ``min_score``. This minimises the reprojection
    error scaled by each joint's depth, the standard linear solution; exact projections
    give the exact translation. With ``root_depth`` (e.g. from a depth image: the z of
    the root joint, which lies ~0.1 m behind the body surface) ``tz`` is fixed and only
    ``tx, ty`` are fitted. Returns (J, 3) metres in the camera optical frame.
    """
    rel = np.asarray(root_relative, np.float64)
    uv = np.asarray(keypoints_2d, np.float64)
    if rel.ndim != 2 or rel.shape[1] != 3 or uv.shape != (len(rel), 2):
        raise ValueError(f"expected (J, 3) and (J, 2) arrays, got {rel.shape} and {uv.shape}")
    rel = rel - rel[ROOT]
    if body_height_m is not None:
        stature = skeleton_stature(rel) if len(rel) == H36M17.num_keypoints else 0.0
        if stature > 1e-6:
            rel = rel * (body_height_m / stature)
    w = np.ones(len(rel)) if scores is None else np.asarray(scores, np.float64).copy()
    if scores is not None:
        w[w < min_score] = 0.0
        if np.count_nonzero(w) < 2:
            w = np.ones(len(rel))
    x = (uv[:, 0] - camera.cx) / camera.fx
    y = (uv[:, 1] - camera.cy) / camera.fy
    if root_depth is not None:
        tz = float(root_depth)
        tx = float(np.sum(w * (x * (rel[:, 2] + tz) - rel[:, 0])) / np.sum(w))
        ty = float(np.sum(w * (y * (rel[:, 2] + tz) - rel[:, 1])) / np.sum(w))
        t = np.array([tx, ty, tz])
    else:
        ones, zeros = np.ones(len(rel)), np.zeros(len(rel))
        a = np.concatenate([np.stack([ones, zeros, -x], 1), np.stack([zeros, ones, -y], 1)])
        b = np.concatenate([x * rel[:, 2] - rel[:, 0], y * rel[:, 2] - rel[:, 1]])
        sw = np.sqrt(np.concatenate([w, w]))
        t = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)[0]
        if not (np.all(np.isfinite(t)) and t[2] > 0.1):  # degenerate fit: size-based depth
            extent_px = float(np.ptp(uv[w > 0, 1])) if np.any(w > 0) else 0.0
            tz = camera.distance_from_height(extent_px, float(np.ptp(rel[:, 1])) or 1.0)
            return place_in_camera(rel, uv, camera, None, tz, w, 0.0)
    return rel + t
