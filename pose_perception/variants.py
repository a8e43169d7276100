"""The named top-down variants (RTMPose, RTMW): architecture and codec facts, without torch.

A checkpoint's :class:`~pose_perception.model_info.ModelInfo` (input size, split ratio)
follows from its variant alone, so the ONNX Runtime path can describe and cache an
export without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RTMPoseVariant:
    """Architecture + codec facts of one official variant (from the RTMPose configs)."""

    name: str
    deepen_factor: float
    widen_factor: float
    input_size: tuple[int, int]  # (width, height)
    sigma: tuple[float, float]  # SimCC Gaussian sigma (x, y), used for training targets
    simcc_split_ratio: float = 2.0
    head: str = "rtmcc"  # a key of models.build.TOP_DOWN_NETWORKS: "rtmcc" (RTMPose) or "rtmw"
    num_keypoints: int = 17  # the official checkpoints' output count (build_model's default)
    neck_csp_blocks: int = 2  # RTMW's CSPNeXtPAFPN blocks per CSP layer (every official config: 2)


VARIANTS: dict[str, RTMPoseVariant] = {
    v.name: v
    for v in (
        RTMPoseVariant("rtmpose-t", 0.167, 0.375, (192, 256), (4.9, 5.66)),
        RTMPoseVariant("rtmpose-s", 0.33, 0.5, (192, 256), (4.9, 5.66)),
        RTMPoseVariant("rtmpose-m", 0.67, 0.75, (192, 256), (4.9, 5.66)),
        RTMPoseVariant("rtmpose-l", 1.0, 1.0, (192, 256), (4.9, 5.66)),
        RTMPoseVariant("rtmpose-m-384x288", 0.67, 0.75, (288, 384), (6.93, 7.55)),
        RTMPoseVariant("rtmpose-l-384x288", 1.0, 1.0, (288, 384), (6.93, 7.55)),
        RTMPoseVariant("rtmpose-x-384x288", 1.33, 1.25, (288, 384), (6.93, 7.55)),
        # square input: the hand (21), face (106) and animal (AP-10K 17) models
        RTMPoseVariant("rtmpose-t-256x256", 0.167, 0.375, (256, 256), (5.66, 5.66)),
        RTMPoseVariant("rtmpose-s-256x256", 0.33, 0.5, (256, 256), (5.66, 5.66)),
        RTMPoseVariant("rtmpose-m-256x256", 0.67, 0.75, (256, 256), (5.66, 5.66)),
        # RTMW whole-body: CSPNeXt + CSPNeXtPAFPN + RTMWHead, 133 COCO-WholeBody keypoints
        RTMPoseVariant("rtmw-m", 0.67, 0.75, (192, 256), (4.9, 5.66), head="rtmw", num_keypoints=133),
        RTMPoseVariant("rtmw-l", 1.0, 1.0, (192, 256), (4.9, 5.66), head="rtmw", num_keypoints=133),
        RTMPoseVariant("rtmw-x", 1.33, 1.25, (192, 256), (4.9, 5.66), head="rtmw", num_keypoints=133),
        RTMPoseVariant("rtmw-l-384x288", 1.0, 1.0, (288, 384), (6.93, 7.55), head="rtmw", num_keypoints=133),
        RTMPoseVariant(
            "rtmw-x-384x288", 1.33, 1.25, (288, 384), (6.93, 7.55), head="rtmw", num_keypoints=133
        ),
    )
}


def get_variant(name: str) -> RTMPoseVariant:
    """Look up a variant; ``rtmpose-m-256x192`` is accepted as an alias of ``rtmpose-m`` (``rtmw`` too)."""
    key = name.lower().removesuffix("-256x192")
    if key not in VARIANTS:
        raise ValueError(f"unknown top-down architecture {name!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[key]
