"""Spinning a node until the ROS context shuts down, without calling a normal stop a crash."""

from __future__ import annotations

from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException


def spin_until_shutdown(node: Any) -> None:
    """``rclpy.spin(node)`` until the context shuts down (SIGINT, ``ros2 launch`` stopping us).

    rclpy reports a shutdown as ``ExternalShutdownException`` or ``KeyboardInterrupt``, but
    when the signal lands while the executor builds its wait set it raises whatever that
    step hits (an ``RCLError`` "context is not valid" on Jazzy): with the context no longer
    ok, that too is a normal stop, not a crash with exit code 1. Errors while the context
    is still ok propagate.
    """
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        return
    except Exception:
        if rclpy.ok(context=node.context):
            raise
