"""Monocular 3D lifting at run time: COCO-17 2D keypoints → H36M-17 → a causal temporal
lifter (per-track ring buffers) → root-relative 3D → metric placement in the camera frame.

ROS-free and torch-free: the lifter runs through ONNX Runtime (an exported file carries
its receptive field, joint names and normalisation as metadata), or through a torch
module / any callable handed in. See docs/lifter.md. One module per job:

* :mod:`~pose_perception.lifting.joints`: COCO-17 ↔ H36M-17 and the 2D normalisation;
* :mod:`~pose_perception.lifting.placement`: the metric placement in the camera;
* :mod:`~pose_perception.lifting.model_io`: lifter metadata, export, ONNX/torch runners;
* :mod:`~pose_perception.lifting.temporal`: the per-track lifter and how it is opened.

Fusion with depth is :mod:`pose_perception.fusion`; the 3D stage that runs them per frame
is :mod:`pose_perception.three_d`. The names below are re-exported for their users.
"""

from pose_perception.lifting.joints import (
    COCO_FROM_H36M,
    H36M_FROM_COCO,
    H36M_FROM_COCO_JOINTS,
    MIN_SCORE,
    NORMALIZATION,
    ROOT,
    body17_indices,
    coco_to_h36m,
    h36m_to_coco,
    normalize_2d,
)
from pose_perception.lifting.model_io import (
    BUNDLED_LIFTER,
    LIFTER_ARCH,
    LifterInfo,
    LifterModel,
    OnnxLifterModel,
    TorchLifterModel,
    export_lifter,
    lifter_model_path,
)
from pose_perception.lifting.placement import STATURE_PER_CHAIN, place_in_camera, skeleton_stature
from pose_perception.lifting.temporal import TemporalLifter, lifter_body_indices, open_lifter, open_lifter_for

__all__ = [
    "BUNDLED_LIFTER",
    "COCO_FROM_H36M",
    "H36M_FROM_COCO",
    "H36M_FROM_COCO_JOINTS",
    "LIFTER_ARCH",
    "MIN_SCORE",
    "NORMALIZATION",
    "ROOT",
    "STATURE_PER_CHAIN",
    "LifterInfo",
    "LifterModel",
    "OnnxLifterModel",
    "TemporalLifter",
    "TorchLifterModel",
    "body17_indices",
    "coco_to_h36m",
    "export_lifter",
    "h36m_to_coco",
    "lifter_body_indices",
    "lifter_model_path",
    "normalize_2d",
    "open_lifter",
    "open_lifter_for",
    "place_in_camera",
    "skeleton_stature",
]
