"""The node's publishers: /poses, its markers, annotated image and latched skeleton, and TF."""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config
from pose_perception.people import Person
from pose_perception.ros import messages
from pose_perception.ros.convert import bgr_to_image_msg
from pose_perception.ros.qos import LATCHED_QOS, OUTPUT_QOS
from pose_perception.ros.tf import TransformPublisher
from pose_perception.skeletons import Skeleton
from pose_perception.viz import draw_people


class NodeOutputs:
    """Everything a processed frame is published on; the skeleton goes out once, latched.

    Markers and the annotated image are built only while someone subscribes.
    """

    def __init__(
        self, node: Node, factory: messages.MessageFactory, config: Config, skeleton: Skeleton
    ) -> None:
        from sensor_msgs.msg import Image
        from visualization_msgs.msg import MarkerArray

        from pose_perception.msg import PersonArray
        from pose_perception.msg import Skeleton as SkeletonMsg

        self.factory, self.skeleton = factory, skeleton
        poses = config.output.poses_topic
        self._poses_pub = node.create_publisher(PersonArray, poses, OUTPUT_QOS)
        self._markers_pub = node.create_publisher(MarkerArray, f"{poses}/markers", OUTPUT_QOS)
        self._image_pub = node.create_publisher(Image, f"{poses}/image", OUTPUT_QOS)
        self._image_type = Image
        skeleton_pub = node.create_publisher(SkeletonMsg, f"{poses}/skeleton", LATCHED_QOS)
        skeleton_pub.publish(messages.skeleton_message(factory, skeleton))
        self.markers = messages.MarkerTracker(factory, messages.MarkerSettings.from_config(config))
        self._tf = TransformPublisher(node)

    def publish(
        self, header: Any, image: Any, people: list[Person], camera: PinholeCamera, config: Config
    ) -> None:
        """One frame's people; ``camera`` is the one their 3D was placed with."""
        cfg = config.output
        height, width = image.shape[:2]
        skeleton = self.skeleton
        self._poses_pub.publish(
            messages.person_array(self.factory, header, people, skeleton, (width, height))
        )
        if cfg.publish_markers and self._markers_pub.get_subscription_count() > 0:
            self._markers_pub.publish(self.markers.update(header, people, skeleton, camera))
        if cfg.publish_tf and people:
            self._tf.send(
                messages.person_transforms(
                    self.factory, header, people, camera, cfg.tf_prefix, self.markers.settings, skeleton
                )
            )
        if cfg.publish_image and self._image_pub.get_subscription_count() > 0:
            annotated = draw_people(image, people, skeleton, config.estimator.keypoint_threshold)
            self._image_pub.publish(bgr_to_image_msg(annotated, header, self._image_type))
