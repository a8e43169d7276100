"""Depth + lifter (``three_d.mode: fused``): one pure function of the measured and the
lifted joints of a person (:func:`fuse`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_perception.people import Joints3D

FUSION_SCALE_RANGE = (0.8, 1.25)  # how far depth may rescale the lifter's assumed-height skeleton
FUSION_OUTLIER_M = 0.15  # a measured joint this far from the fitted skeleton is not trusted
FUSION_MAX_DISTANCE_CHANGE = 0.3  # depth may move the lifter's person by this fraction of its distance


@dataclass
class Alignment:
    """The lifted skeleton moved onto the depth-measured joints, and which of those agree."""

    points: np.ndarray  # (J, 3) s·L + t
    inliers: np.ndarray  # (J,) measured joints within FUSION_OUTLIER_M of ``points``
    scale: float


def align_to_measured(
    lifted: np.ndarray,
    lifted_valid: np.ndarray,
    measured: np.ndarray,
    measured_valid: np.ndarray,
    min_joints_for_scale: int = 4,
) -> Alignment | None:
    """Fit ``s·L + t`` of the lifted skeleton ``L`` (J, 3) to the depth-measured joints.

    Depth gives the joints it sees to ~2 cm; the lifter gives every joint, but its
    distance comes from an assumed body height (±10 %) and its pose from one view.
    Least squares over the joints both have (``s`` only from ``min_joints_for_scale``
    joints up, clipped to :data:`FUSION_SCALE_RANGE`), refitted without measured joints
    more than :data:`FUSION_OUTLIER_M` off (a wrist given the depth of the table in front
    of it). None when no joint is shared, or when the fit would move the person by more
    than :data:`FUSION_MAX_DISTANCE_CHANGE` of the lifter's distance: then the measured
    joints most likely lie on someone or something in front (an occluded person whose
    joints all got the occluder's depth agree with each other, not with their size).
    """
    both = np.asarray(lifted_valid, bool) & np.asarray(measured_valid, bool)
    both &= np.isfinite(lifted).all(axis=1) & np.isfinite(measured).all(axis=1)
    if not both.any():
        return None
    lifted64, measured64 = np.asarray(lifted, np.float64), np.asarray(measured, np.float64)
    use = both
    for _ in range(3):
        scale, shift = _scale_and_shift(lifted64[use], measured64[use], min_joints_for_scale)
        points = scale * lifted64 + shift
        inliers = both & (np.linalg.norm(points - measured64, axis=1) <= FUSION_OUTLIER_M)
        if not inliers.any() or (inliers == use).all():
            break
        use = inliers
    lifted_z = float(np.mean(lifted64[both, 2]))
    if (
        lifted_z <= 0
        or abs(float(np.mean(points[both, 2])) - lifted_z) > FUSION_MAX_DISTANCE_CHANGE * lifted_z
    ):
        return None
    return Alignment(points, inliers, scale)


def _scale_and_shift(src: np.ndarray, dst: np.ndarray, min_joints_for_scale: int) -> tuple[float, np.ndarray]:
    src_c, dst_c = src.mean(axis=0), dst.mean(axis=0)
    spread = float(np.sum((src - src_c) ** 2))
    scale = 1.0
    if len(src) >= min_joints_for_scale and spread > 1e-4:
        scale = float(np.sum((src - src_c) * (dst - dst_c)) / spread)
        scale = float(np.clip(scale, *FUSION_SCALE_RANGE))
    return scale, dst_c - scale * src_c


def fuse(measured: Joints3D | None, lifted: Joints3D | None) -> Joints3D | None:
    """One person's 3D: the depth-measured joints as measured, the others from the aligned lifter.

    ``lifted`` is the lifter's placed skeleton, ``measured`` the depth result (None: no
    depth this frame, the lifter's placement stays). Measured joints are never replaced:
    depth is ~2 cm, the lifter's pose ~5-10 cm off. The joints depth missed (occluded, on
    a depth edge, in a hole) come from the lifted skeleton fitted to the measured ones
    (:func:`align_to_measured`), with source ``SOURCE_LIFTER``. When that fit is not
    trusted the depth result stands alone.
    """
    if measured is None or lifted is None:
        return lifted if measured is None else measured
    fit = align_to_measured(lifted.positions, lifted.valid, measured.positions, measured.valid)
    if fit is None:
        return measured
    from_depth = measured.valid
    valid = lifted.valid | from_depth
    points = np.where(valid[:, None], fit.points, np.nan)
    points[from_depth] = measured.positions[from_depth]
    return Joints3D(
        positions=points.astype(np.float32),
        valid=valid,
        source=np.where(from_depth, measured.source, lifted.source).astype(np.uint8),
        confidence=np.where(from_depth, measured.confidence, lifted.confidence).astype(np.float32),
    )
