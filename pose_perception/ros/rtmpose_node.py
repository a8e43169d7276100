"""``rtmpose_node``: camera images in, people out (/poses, markers, TF, annotated image,
/diagnostics).

Thin by design: messages are converted (``convert``), the core ``PosePipeline`` runs,
results are turned into messages (``messages``). The subscription callback only stores
the newest frame; one worker thread processes it, so a slow model never builds a queue
and every frame it skips is counted.

Run: ``python -m pose_perception.ros.rtmpose_node --ros-args --params-file
config/rtmpose.yaml -r image:=/camera/color/image_raw`` or ``ros2 launch pose_perception
rtmpose.launch.py``.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config
from pose_perception.pipeline import PosePipeline
from pose_perception.ros import messages
from pose_perception.ros.convert import ImageRejected, bgr_to_image_msg, compressed_to_bgr, image_to_bgr
from pose_perception.ros.frame_slot import LatestSlot
from pose_perception.ros.params import ParameterError, declare_config, updated_config
from pose_perception.ros.stats import NodeStats
from pose_perception.ros.tf import TransformPublisher
from pose_perception.viz import draw_people

NODE_NAME = "rtmpose_node"
LOG_THROTTLE_S = 5.0

# Sensor-data QoS with a one-frame history: the newest image is the only one worth having.
IMAGE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
OUTPUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


class StartupError(RuntimeError):
    """The node cannot start (bad parameter, unusable model); the message says why."""


class RtmposeNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        self._worker: threading.Thread | None = None
        self._slot: LatestSlot[tuple[Any, bool, float]] = LatestSlot()
        self._stop = threading.Event()

    # ---------------------------------------------------------------- startup

    def start(self) -> None:
        """Read parameters, load the model, create topics; StartupError if impossible."""
        try:
            self.config = declare_config(self)
        except ParameterError as err:
            raise StartupError(str(err)) from None
        self.pipeline = self._load_pipeline(self.config)
        self.factory = messages.MessageFactory.rclpy()
        self.stats = NodeStats()
        self._camera_info: PinholeCamera | None = None
        self._last_processed = -1e9
        self._create_topics()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._worker = threading.Thread(target=self._work, name="rtmpose_worker")
        self._worker.start()
        est = self.config.estimator
        self.get_logger().info(
            f"ready: model {est.model} ({est.backend}, {est.device}), "
            f"skeleton {self.pipeline.skeleton.name}, listening on {self._image_sub.topic_name}"
        )

    def _load_pipeline(self, config: Config) -> PosePipeline:
        try:
            return PosePipeline(config)
        except (OSError, ValueError, RuntimeError, ImportError) as err:
            raise StartupError(f"cannot load model {config.estimator.model!r}: {err}") from None

    def _create_topics(self) -> None:
        cfg = self.config
        if cfg.input.transport == "compressed":
            from sensor_msgs.msg import CompressedImage

            # image_transport convention: remapping the base topic moves all transports.
            # (rclpy without resolve_topic_name: remap image/compressed itself.)
            resolve = getattr(self, "resolve_topic_name", lambda name: name)
            topic = f"{resolve(cfg.input.image_topic)}/compressed"
            self._image_sub = self.create_subscription(
                CompressedImage, topic, lambda m: self._on_image(m, True), IMAGE_QOS
            )
        else:
            from sensor_msgs.msg import Image

            self._image_sub = self.create_subscription(
                Image, cfg.input.image_topic, self._on_image, IMAGE_QOS
            )
        from sensor_msgs.msg import CameraInfo, Image
        from visualization_msgs.msg import MarkerArray

        from pose_perception.msg import PersonArray, Skeleton

        self.create_subscription(CameraInfo, cfg.input.camera_info_topic, self._on_camera_info, IMAGE_QOS)
        poses = cfg.output.poses_topic
        self._poses_pub = self.create_publisher(PersonArray, poses, OUTPUT_QOS)
        self._markers_pub = self.create_publisher(MarkerArray, f"{poses}/markers", OUTPUT_QOS)
        self._image_pub = self.create_publisher(Image, f"{poses}/image", OUTPUT_QOS)
        self._image_type = Image
        skeleton_pub = self.create_publisher(Skeleton, f"{poses}/skeleton", LATCHED_QOS)
        skeleton_pub.publish(messages.skeleton_message(self.factory, self.pipeline.skeleton))
        self._markers = messages.MarkerTracker(self.factory, messages.MarkerSettings.from_config(cfg))
        self._tf = TransformPublisher(self)
        from diagnostic_msgs.msg import DiagnosticArray

        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
        self.create_timer(1.0, self._publish_diagnostics)

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        try:
            config = updated_config(self.config, {p.name: p.value for p in params})
        except ParameterError as err:
            return SetParametersResult(successful=False, reason=str(err))
        self.config = config
        self.pipeline.config = config
        self._markers.settings = messages.MarkerSettings.from_config(config)
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------------- input

    def _on_image(self, msg: Any, compressed: bool = False) -> None:
        """Executor thread: hand the frame over and return at once."""
        self.stats.frame_received()
        if self._slot.put((msg, compressed, time.perf_counter())):
            self.stats.frame_dropped()

    def _on_camera_info(self, msg: Any) -> None:
        try:
            self._camera_info = PinholeCamera.from_k(list(msg.k), msg.width, msg.height)
        except (ValueError, TypeError) as err:
            self.get_logger().warning(f"ignoring CameraInfo: {err}", throttle_duration_sec=LOG_THROTTLE_S)

    # ---------------------------------------------------------------- worker

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._slot.take(timeout=0.5)
            if item is None:
                continue
            msg, compressed, arrived = item
            if self._rate_limited():
                continue
            try:
                self._process(msg, compressed, arrived)
            except ImageRejected as err:
                self.stats.frame_rejected(err.reason)
                self.get_logger().warning(f"rejected image: {err}", throttle_duration_sec=LOG_THROTTLE_S)
            except Exception as err:  # keep running: one bad frame must not stop the robot's perception
                self.stats.frame_failed()
                self.get_logger().error(
                    f"processing failed: {type(err).__name__}: {err}", throttle_duration_sec=LOG_THROTTLE_S
                )

    def _rate_limited(self) -> bool:
        max_rate = self.config.input.max_rate
        now = time.monotonic()
        if max_rate > 0.0 and now - self._last_processed < 1.0 / max_rate:
            self.stats.frame_rate_limited()
            return True
        self._last_processed = now
        return False

    def _process(self, msg: Any, compressed: bool, arrived: float) -> None:
        cfg = self.config
        started = time.perf_counter()
        # How old the image is (stamp to now, node clock): camera + transport latency.
        stamp_ns = messages.time_to_ns(msg.header.stamp)
        age_ms = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-6
        max_pixels = cfg.input.max_image_pixels
        image = compressed_to_bgr(msg, max_pixels) if compressed else image_to_bgr(msg, max_pixels)
        converted = time.perf_counter()
        people = self.pipeline.process(image, stamp_ns * 1e-9)
        estimated = time.perf_counter()
        header = self.factory.make(
            "std_msgs/msg/Header", stamp=msg.header.stamp, frame_id=cfg.output.frame_id or msg.header.frame_id
        )
        self._publish(header, image, people)
        done = time.perf_counter()
        timings = {
            "image_age_ms": age_ms,
            "handover_ms": (started - arrived) * 1e3,
            "convert_ms": (converted - started) * 1e3,
            **self.pipeline.timings,
            "publish_ms": (done - estimated) * 1e3,
            "total_ms": (done - started) * 1e3,
        }
        self.stats.frame_processed(timings, len(people))

    def _publish(self, header: Any, image: Any, people: list[Any]) -> None:
        cfg = self.config.output
        height, width = image.shape[:2]
        skeleton = self.pipeline.skeleton
        self._poses_pub.publish(
            messages.person_array(self.factory, header, people, skeleton, (width, height))
        )
        camera = PinholeCamera.for_image(self._camera_info, width, height, cfg.assumed_hfov_deg)
        if cfg.publish_markers and self._markers_pub.get_subscription_count() > 0:
            self._markers_pub.publish(self._markers.update(header, people, skeleton, camera))
        if cfg.publish_tf and people:
            self._tf.send(
                messages.person_transforms(
                    self.factory, header, people, camera, cfg.tf_prefix, self._markers.settings
                )
            )
        if cfg.publish_image and self._image_pub.get_subscription_count() > 0:
            self._image_pub.publish(bgr_to_image_msg(self._annotate(image, people), header, self._image_type))

    def _annotate(self, image: Any, people: list[Any]) -> Any:
        return draw_people(image, people, self.pipeline.skeleton, self.config.estimator.keypoint_threshold)

    # ---------------------------------------------------------------- diagnostics

    def _publish_diagnostics(self) -> None:
        if not self.config.output.publish_diagnostics:
            return
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        summary = self.stats.summary(self._image_sub.topic_name)
        status = DiagnosticStatus(
            level=bytes([summary.level]),
            name=f"{self.get_name()}: pose estimation",
            message=summary.message,
            hardware_id=self.config.estimator.device,
            values=[KeyValue(key=k, value=v) for k, v in summary.values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    # ---------------------------------------------------------------- shutdown

    def stop(self) -> None:
        """Stop and join the worker (before destroy_node, so it never publishes on a dead node)."""
        self._stop.set()
        self._slot.close()
        if self._worker is not None:
            self._worker.join()
            self._worker = None


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = RtmposeNode()
    code = 0
    try:
        node.start()
        rclpy.spin(node)
    except StartupError as err:
        node.get_logger().fatal(str(err))
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    sys.exit(code)


if __name__ == "__main__":
    main()
