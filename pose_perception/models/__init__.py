"""Model definitions: RTMPose (CSPNeXt + RTMCC head) and checkpoint loading."""

from pose_perception.models.rtmpose import (
    CheckpointMismatchError,
    RTMPose,
    build_rtmpose,
    count_parameters,
    load_checkpoint,
)
from pose_perception.variants import VARIANTS, RTMPoseVariant, get_variant

__all__ = [
    "VARIANTS",
    "CheckpointMismatchError",
    "RTMPose",
    "RTMPoseVariant",
    "build_rtmpose",
    "count_parameters",
    "get_variant",
    "load_checkpoint",
]
