"""COCO-17 ↔ Human3.6M-17 joints and the 2D normalisation the lifter reads.

* **Joints.** The lifter works on Human3.6M-17 (:data:`pose_perception.skeletons.H36M17`
  order). COCO-17 detections are converted as MMPose does it (``convert_keypoint_definition``
  in ``mmpose/apis/inference_3d.py`` and the 3D demos): root (pelvis) = mid-hip, thorax
  = mid-shoulder, spine = mid(root, thorax), head = mid-eye, ``neck_base`` = the COCO
  nose, the limbs one-to-one (H36M ``*_foot`` = COCO ``*_ankle``).
* **2D normalisation** (``"box"``): per frame, subtract the centre of the box around the
  keypoints scoring ≥ ``min_score`` and divide by half its longer side, so the person
  spans [-1, 1] on their longer axis whatever the image size, focal length or distance.
"""

from __future__ import annotations

import numpy as np

from pose_perception.skeletons import COCO17, H36M17, Skeleton

MIN_SCORE = 0.3  # keypoints below this score leave the normalisation box and the placement fit
ROOT = 0  # H36M17 "root" (pelvis)
NORMALIZATION = "box"

H36M_INDEX = {n: i for i, n in enumerate(H36M17.keypoint_names)}
_C = {n: i for i, n in enumerate(COCO17.keypoint_names)}
_H = H36M_INDEX

# H36M joint ← COCO joints it is the mean of (MMPose ``convert_keypoint_definition``).
H36M_FROM_COCO_JOINTS: dict[str, tuple[str, ...]] = {
    "root": ("left_hip", "right_hip"),
    "right_hip": ("right_hip",),
    "right_knee": ("right_knee",),
    "right_foot": ("right_ankle",),
    "left_hip": ("left_hip",),
    "left_knee": ("left_knee",),
    "left_foot": ("left_ankle",),
    "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),  # mid(root, thorax)
    "thorax": ("left_shoulder", "right_shoulder"),
    "neck_base": ("nose",),
    "head": ("left_eye", "right_eye"),
    "left_shoulder": ("left_shoulder",),
    "left_elbow": ("left_elbow",),
    "left_wrist": ("left_wrist",),
    "right_shoulder": ("right_shoulder",),
    "right_elbow": ("right_elbow",),
    "right_wrist": ("right_wrist",),
}


def _mapping_matrix() -> np.ndarray:
    m = np.zeros((H36M17.num_keypoints, COCO17.num_keypoints))
    for h_name, sources in H36M_FROM_COCO_JOINTS.items():
        for c_name in sources:
            m[_H[h_name], _C[c_name]] = 1.0 / len(sources)
    return m


H36M_FROM_COCO: np.ndarray = _mapping_matrix()  # (17 H36M, 17 COCO) averaging weights
H36M_FROM_COCO.flags.writeable = False

# COCO joints that are an H36M joint as such (the rest, eyes and ears, have no 3D).
COCO_FROM_H36M: dict[int, int] = {
    _C[sources[0]]: _H[h] for h, sources in H36M_FROM_COCO_JOINTS.items() if len(sources) == 1
}


def body17_indices(skeleton: Skeleton) -> np.ndarray | None:
    """Where each COCO-17 joint sits in ``skeleton``, by name: the body subset the lifter
    reads of a whole-body or body+hands person (``arange(17)`` for COCO-17 itself); None
    when the schema lacks one of them (hand21, face106, ap10k, h36m17)."""
    index = {name: i for i, name in enumerate(skeleton.keypoint_names)}
    if not all(name in index for name in COCO17.keypoint_names):
        return None
    return np.array([index[name] for name in COCO17.keypoint_names], np.int64)


def coco_to_h36m(
    keypoints: np.ndarray, scores: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(..., 17, D) COCO-17 points (any D: pixels, metres) → (..., 17, D) H36M-17.

    Derived joints are means of their sources; their score is the lowest source score
    (a mid-hip is only as sure as the less sure hip).
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.shape[-2] != COCO17.num_keypoints:
        raise ValueError(f"expected 17 COCO keypoints on axis -2, got shape {kp.shape}")
    out = np.einsum("hc,...cd->...hd", H36M_FROM_COCO, kp)
    if scores is None:
        return out, None
    s = np.asarray(scores, np.float64)
    mapped = np.stack(
        [np.min(s[..., [_C[c] for c in H36M_FROM_COCO_JOINTS[h]]], axis=-1) for h in H36M17.keypoint_names],
        axis=-1,
    )
    return out, mapped


def h36m_to_coco(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 17, D) H36M-17 → (..., 17, D) COCO-17 and a (17,) valid mask: the 13 COCO
    joints that are H36M joints (nose = ``neck_base`` per the MMPose mapping); eyes and
    ears are zero and invalid."""
    p = np.asarray(points)
    out = np.zeros((*p.shape[:-2], COCO17.num_keypoints, p.shape[-1]), p.dtype)
    valid = np.zeros(COCO17.num_keypoints, bool)
    for c, h in COCO_FROM_H36M.items():
        out[..., c, :] = p[..., h, :]
        valid[c] = True
    return out, valid


def normalize_2d(
    keypoints: np.ndarray, scores: np.ndarray | None = None, min_score: float = MIN_SCORE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Box normalisation of (..., J, 2) pixels → (normalised, centre (..., 2), scale (...)).

    The box bounds the keypoints scoring ≥ ``min_score`` (all of them when fewer than two
    do); ``normalised = (keypoints − centre) / scale`` with ``scale`` = half the box's
    longer side, so the aspect ratio is kept.
    """
    kp = np.asarray(keypoints, np.float64)
    if scores is None:
        mask = np.ones(kp.shape[:-1], bool)
    else:
        mask = np.asarray(scores) >= min_score
        few = mask.sum(axis=-1, keepdims=True) < 2
        mask = mask | few
    m = mask[..., None]
    lo = np.where(m, kp, np.inf).min(axis=-2)
    hi = np.where(m, kp, -np.inf).max(axis=-2)
    centre = (lo + hi) / 2.0
    scale = np.maximum((hi - lo).max(axis=-1) / 2.0, 1e-6)
    return (kp - centre[..., None, :]) / scale[..., None, None], centre, scale
