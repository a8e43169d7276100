"""The node's ``/diagnostics`` message: its counters and stage timings, one status."""

from __future__ import annotations

from typing import Any

from pose_perception.config import DEPTH_MODES, Config
from pose_perception.ros.rgbd import StampSync
from pose_perception.ros.stats import NodeStats


def depth_registration(config: Config) -> str:
    """``registered`` or ``reprojected``: how the depth reaches the colour camera (diagnostics, log)."""
    return "reprojected" if config.input.depth_camera_info_topic else "registered"


def diagnostic_array(
    node_name: str,
    stats: NodeStats,
    input_description: str,
    sync: StampSync | None,
    config: Config,
    stamp: Any,
) -> Any:
    """``diagnostic_msgs/DiagnosticArray`` with the node's one status: the summary of
    ``stats``, the fallback synchroniser's counters, and the depth registration."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    summary = stats.summary(input_description)
    if sync is not None:
        summary.values.update(sync.counters())
    if config.three_d.mode in DEPTH_MODES:
        summary.values["depth_registration"] = depth_registration(config)
    status = DiagnosticStatus(
        level=bytes([summary.level]),
        name=f"{node_name}: pose estimation",
        message=summary.message,
        hardware_id=config.estimator.device,
        values=[KeyValue(key=k, value=v) for k, v in summary.values.items()],
    )
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
