"""Model definitions: RTMPose (CSPNeXt + RTMCC head) and checkpoint loading."""

from pose_perception.models.rtmpose import (
    VARIANTS,
    CheckpointMismatchError,
    RTMPose,
    RTMPoseVariant,
    build_rtmpose,
    count_parameters,
    get_variant,
    load_checkpoint,
)

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
