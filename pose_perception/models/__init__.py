"""Model definitions: RTMPose (CSPNeXt + RTMCC head), RTMW, ``build_model`` and checkpoint loading."""

from pose_perception.models.build import build_model, build_top_down
from pose_perception.models.rtmpose import (
    CheckpointMismatchError,
    RTMPose,
    TopDownNetwork,
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
    "TopDownNetwork",
    "build_model",
    "build_rtmpose",
    "build_top_down",
    "count_parameters",
    "get_variant",
    "load_checkpoint",
]
