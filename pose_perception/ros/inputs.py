"""The node's inputs: the colour image topic of ``input.transport`` and, in the depth modes
(``three_d.mode`` depth, fused), the RGB-D subscriptions: image + depth + CameraInfo (+ the
depth camera's CameraInfo for an unregistered depth), synchronised by stamp.

``message_filters`` where a ROS install has it, else :class:`~pose_perception.ros.rgbd.StampSync`
(the core approximate-time policy); either way each matched set reaches ``callback`` as
one call, in input order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rclpy.node import Node

from pose_perception.config import Config
from pose_perception.ros.qos import IMAGE_QOS
from pose_perception.ros.rgbd import StampSync


def image_input(node: Node, config: Config) -> tuple[Any, str]:
    """(message type, topic) of the colour image for ``input.transport``."""
    cfg = config.input
    if cfg.transport == "compressed":
        from sensor_msgs.msg import CompressedImage

        # image_transport convention: remapping the base topic moves all transports.
        # (rclpy without resolve_topic_name: remap image/compressed itself.)
        resolve = getattr(node, "resolve_topic_name", lambda name: name)
        return CompressedImage, f"{resolve(cfg.image_topic)}/compressed"
    from sensor_msgs.msg import Image

    return Image, cfg.image_topic


@dataclass
class RgbdInputs:
    image_sub: Any  # the colour image's subscription
    description: str  # topics and synchroniser, for the ready log and diagnostics
    sync: StampSync | None = None  # the fallback synchroniser (its counters go to diagnostics)
    keep: list[Any] = field(default_factory=list)  # message_filters objects that must stay alive


def subscribe_rgbd(
    node: Node, image_type: Any, image_topic: str, config: Config, callback: Callable[..., None]
) -> RgbdInputs:
    """Subscribe to the synchronised RGB-D inputs of ``config.input``; ``callback(image,
    depth, info[, depth_info])`` per matched set."""
    from sensor_msgs.msg import CameraInfo, Image

    cfg = config.input
    inputs = [(image_type, image_topic), (Image, cfg.depth_topic), (CameraInfo, cfg.camera_info_topic)]
    if cfg.depth_camera_info_topic:
        inputs.append((CameraInfo, cfg.depth_camera_info_topic))
    try:
        import message_filters  # a full ROS install; not on PyPI
    except ImportError:
        message_filters = None
    sync = None
    keep: list[Any] = []
    if message_filters is not None:
        filter_subs = [
            message_filters.Subscriber(node, msg_type, topic, qos_profile=IMAGE_QOS)
            for msg_type, topic in inputs
        ]
        synchronizer = message_filters.ApproximateTimeSynchronizer(
            filter_subs, cfg.sync_queue_size, cfg.sync_slop_s
        )
        synchronizer.registerCallback(callback)
        keep = [*filter_subs, synchronizer]
        subs = [f.sub for f in filter_subs]
        backend = "message_filters"
    else:
        sync = StampSync(len(inputs), cfg.sync_queue_size, cfg.sync_slop_s, callback)
        subs = [
            node.create_subscription(msg_type, topic, _adder(sync, i), IMAGE_QOS)
            for i, (msg_type, topic) in enumerate(inputs)
        ]
        backend = "pose_perception.sync"
    topics = " + ".join(sub.topic_name for sub in subs)
    description = f"{topics} (synchronised: {backend}, slop {cfg.sync_slop_s} s)"
    return RgbdInputs(subs[0], description, sync, keep)


def _adder(sync: StampSync, index: int) -> Callable[[Any], None]:
    def add(msg: Any) -> None:
        sync.add(index, msg)

    return add


def log_depth_registration(logger: Any, config: Config) -> None:
    """Say at startup how the depth reaches the colour camera; warn about an identity extrinsic."""
    depth, mode = config.depth, config.three_d.mode
    if not config.input.depth_camera_info_topic:
        logger.info(f"three_d.mode {mode}: the depth is registered to the colour camera")
        return
    logger.info(
        f"three_d.mode {mode}: the depth is reprojected into the colour camera (depth camera "
        f"pose in the colour optical frame: translation {list(depth.extrinsic_translation_m)} m, "
        f"rotation xyzw {list(depth.extrinsic_rotation_xyzw)})"
    )
    rotation, translation = depth.depth_to_color()
    if not translation.any() and np.allclose(rotation, np.eye(3)):
        logger.warning(
            "depth.extrinsic_translation_m and depth.extrinsic_rotation_xyzw are identity: the "
            "depth camera is assumed to sit at the colour camera's optical centre (set them from "
            "ros2 run tf2_ros tf2_echo <colour optical frame> <depth optical frame>)"
        )
