"""Per-person TF frames: tf2_ros where a ROS install has it, else a wire-compatible /tf publisher.

tf2_ros is not available as a wheel; its ``TransformBroadcaster`` only publishes
``tf2_msgs/TFMessage`` on ``/tf`` (reliable, depth 100), which is what the fallback does,
with the real tf2_msgs or the stand-in that ``scripts/build_ros_interfaces.sh`` builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

TF_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


class TransformPublisher:
    def __init__(self, node: Node) -> None:
        self.backend = "none"
        self._broadcaster: Any = None
        self._publisher: Any = None
        try:
            from tf2_ros import TransformBroadcaster

            self._broadcaster = TransformBroadcaster(node)
            self.backend = "tf2_ros"
            return
        except ImportError:
            pass
        try:
            from tf2_msgs.msg import TFMessage
        except ImportError:
            node.get_logger().warning("neither tf2_ros nor tf2_msgs is importable: TF output disabled")
            return
        self._message = TFMessage
        self._publisher = node.create_publisher(TFMessage, "/tf", TF_QOS)
        self.backend = "tf2_msgs"

    def send(self, transforms: Sequence[Any]) -> None:
        if self._broadcaster is not None:
            self._broadcaster.sendTransform(list(transforms))
        elif self._publisher is not None:
            self._publisher.publish(self._message(transforms=list(transforms)))
