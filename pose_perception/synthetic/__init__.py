"""Deterministic synthetic data: people in images (COCO keypoints, 3D, depth) and walkers.

* :mod:`.walkers` — 2D stick-figure walking sequences with GT ids for tracker tests
  (``make_sequence``, ``noisy_detections``, ``crossing_mask``, ``render``, …);
  :mod:`.scenarios` — the harder families of issue 16; :mod:`.frames` — a clip's
  images rendered on demand (``render_frames``) for trackers that use the frame.
* :mod:`.body`, :mod:`.camera`, :mod:`.scene`, :mod:`.raster`, :mod:`.backgrounds` —
  articulated 3D people rendered with a ray-cast z-buffer: images, COCO-17 keypoints with
  visibility, per-joint 3D, depth, intrinsics (``sample_scene``, ``render_scene``).
* :mod:`.coco` — ``write_coco_dataset`` and the CLI
  ``python -m pose_perception.synthetic.coco OUT --images N --seed S``.

See ``docs/synthetic.md``.
"""

from __future__ import annotations

from typing import Any

from pose_perception.synthetic.body import (
    COCO_KEYPOINTS,
    COCO_SKELETON,
    JOINT_LIMITS,
    JOINT_NAMES,
    POSE_KINDS,
    BodyShape,
    Pose,
    PosedBody,
    body_parts,
    forward_kinematics,
    sample_pose,
    sample_shape,
    walking_pose,
)
from pose_perception.synthetic.camera import Camera, sample_camera
from pose_perception.synthetic.frames import RenderedFrames, render_frames
from pose_perception.synthetic.raster import PersonLabel, RenderResult, depth_to_mm, render_scene
from pose_perception.synthetic.scene import (
    Appearance,
    Background,
    Box,
    Person,
    Scene,
    person_state,
    pose_at,
    sample_appearance,
    sample_scene,
)
from pose_perception.synthetic.walkers import (
    NUM_KEYPOINTS,
    Detections,
    Frame,
    Sequence,
    Walker,
    crossing_mask,
    figure_box,
    make_sequence,
    noisy_detections,
    render,
    stick_figure,
)

_LAZY = {"write_coco_dataset", "render_example", "draw_keypoints", "iter_clip"}


def __getattr__(name: str) -> Any:
    # coco.py is also run as ``python -m``; importing it eagerly here would warn then.
    if name in _LAZY:
        from pose_perception.synthetic import coco

        return getattr(coco, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COCO_KEYPOINTS",
    "COCO_SKELETON",
    "JOINT_LIMITS",
    "JOINT_NAMES",
    "NUM_KEYPOINTS",
    "POSE_KINDS",
    "Appearance",
    "Background",
    "BodyShape",
    "Box",
    "Camera",
    "Detections",
    "Frame",
    "Person",
    "PersonLabel",
    "Pose",
    "PosedBody",
    "RenderResult",
    "RenderedFrames",
    "Scene",
    "Sequence",
    "Walker",
    "body_parts",
    "crossing_mask",
    "depth_to_mm",
    "draw_keypoints",
    "figure_box",
    "forward_kinematics",
    "iter_clip",
    "make_sequence",
    "noisy_detections",
    "person_state",
    "pose_at",
    "render",
    "render_example",
    "render_frames",
    "render_scene",
    "sample_appearance",
    "sample_camera",
    "sample_pose",
    "sample_scene",
    "sample_shape",
    "stick_figure",
    "walking_pose",
    "write_coco_dataset",
]
