"""``rtmpose_node``: camera images in, people out (/poses, markers, TF, annotated image,
/diagnostics).

Thin by design: messages are converted (``convert``), the core ``PosePipeline`` runs,
results are turned into messages (``messages``). The subscription callback only stores
the newest frame; one worker thread processes it, so a slow model never builds a queue
and every frame it skips is counted.

With ``three_d.mode: depth`` (RGB-D) the image, a depth image registered to it and the
CameraInfo are grouped by stamp (approximate-time policy: ``message_filters`` where a ROS
install has it, else ``pose_perception.sync``); each matched set is one frame, and its
keypoints get 3D positions (``ros.rgbd``). With ``input.depth_camera_info_topic`` set the
depth need not be registered: the depth camera's CameraInfo is a fourth synchronised
input, and the depth is reprojected into the colour camera with ``depth.extrinsic_*``.
A frame whose depth is unusable is still published in 2D (and counted under
``rejected_depth_*`` / ``rejected_camera_info_*``).

With ``three_d.mode: lifter`` (one RGB camera) the tracked people's 2D keypoints go
through a causal temporal lifter (``pose_perception.lifting``: per-track history, root-relative
3D) and are placed in the camera frame from the intrinsics (CameraInfo for this image
size, else the nominal camera) and ``three_d.body_height_m``. ``three_d.mode: fused`` does
both: depth for the joints it measures, the lifter (fitted to those joints) for the ones it
misses (``lifting.fuse_depth_and_lifter``). All modes fill the same
``Person.keypoints_3d``, so /poses, markers and TF are published by the same code.

Run: ``python -m pose_perception.ros.rtmpose_node --ros-args --params-file
config/rtmpose.yaml -r image:=/camera/color/image_raw`` or ``ros2 launch pose_perception
rtmpose.launch.py``.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from pose_perception.camera import PinholeCamera
from pose_perception.config import DEPTH_MODES, LIFTER_MODES, Config
from pose_perception.lifting import TemporalLifter, lift_in_image, open_lifter_for
from pose_perception.pipeline import PosePipeline
from pose_perception.ros import messages
from pose_perception.ros.convert import ImageRejected, bgr_to_image_msg, compressed_to_bgr, image_to_bgr
from pose_perception.ros.frame_slot import LatestSlot
from pose_perception.ros.params import ParameterError, declare_config, updated_config
from pose_perception.ros.rgbd import DepthFrameRejected, StampSync, lift_people, stamp_skew_ms
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


@dataclass
class Frame:
    """What the executor hands to the worker: an image (+ its depth and CameraInfo in depth
    mode, + the depth camera's CameraInfo when the depth is not registered)."""

    image: Any
    compressed: bool
    arrived: float  # time.perf_counter() at hand-over
    depth: Any = None
    info: Any = None
    depth_info: Any = None


class RtmposeNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        super().__init__(NODE_NAME, **node_kwargs)
        self._worker: threading.Thread | None = None
        self._slot: LatestSlot[Frame] = LatestSlot()
        self._stop = threading.Event()
        self._sync: StampSync | None = None  # the fallback synchroniser (depth mode only)
        self._lifter: TemporalLifter | None = None  # lifter and fused modes

    # ---------------------------------------------------------------- startup

    def start(self) -> None:
        """Read parameters, load the model, create topics; StartupError if impossible."""
        try:
            self.config = declare_config(self)
        except ParameterError as err:
            raise StartupError(str(err)) from None
        self.pipeline = self._load_pipeline(self.config)
        if self.config.three_d.mode in LIFTER_MODES:
            self._lifter = self._load_lifter(self.config)
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
            f"skeleton {self.pipeline.skeleton.name}, listening on {self._input_description}"
        )

    def _load_pipeline(self, config: Config) -> PosePipeline:
        try:
            return PosePipeline(config)
        except (OSError, ValueError, RuntimeError, ImportError) as err:
            raise StartupError(f"cannot load model {config.estimator.model!r}: {err}") from None

    def _load_lifter(self, config: Config) -> TemporalLifter:
        three_d = config.three_d
        try:
            lifter = open_lifter_for(self.pipeline.skeleton, config)
        except (OSError, ValueError) as err:
            raise StartupError(
                f"three_d.mode {three_d.mode}: cannot use three_d.lifter_model: {err}"
            ) from None
        path = getattr(lifter.model, "path", config.three_d.lifter_model)
        trained_on = lifter.info.extra.get("train_data", "unknown data")
        self.get_logger().info(
            f"three_d.mode {three_d.mode}: lifter {path} (receptive field {lifter.receptive_field} "
            f"frames, trained on {trained_on}), body height {config.three_d.body_height_m} m"
        )
        return lifter

    def _image_input(self) -> tuple[Any, str]:
        """(message type, topic) of the colour image for ``input.transport``."""
        cfg = self.config.input
        if cfg.transport == "compressed":
            from sensor_msgs.msg import CompressedImage

            # image_transport convention: remapping the base topic moves all transports.
            # (rclpy without resolve_topic_name: remap image/compressed itself.)
            resolve = getattr(self, "resolve_topic_name", lambda name: name)
            return CompressedImage, f"{resolve(cfg.image_topic)}/compressed"
        from sensor_msgs.msg import Image

        return Image, cfg.image_topic

    def _create_topics(self) -> None:
        cfg = self.config
        from sensor_msgs.msg import CameraInfo, Image
        from visualization_msgs.msg import MarkerArray

        from pose_perception.msg import PersonArray, Skeleton

        image_type, image_topic = self._image_input()
        compressed = cfg.input.transport == "compressed"
        if cfg.three_d.mode in DEPTH_MODES:
            self._create_rgbd_inputs(image_type, image_topic)
        else:
            self._image_sub = self.create_subscription(
                image_type, image_topic, lambda m: self._on_image(m, compressed), IMAGE_QOS
            )
            self._input_description = self._image_sub.topic_name
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

    def _create_rgbd_inputs(self, image_type: Any, image_topic: str) -> None:
        """Image + depth + CameraInfo (+ the depth camera's CameraInfo for an unregistered
        depth), synchronised by stamp, each set handed over as one frame."""
        from sensor_msgs.msg import CameraInfo, Image

        cfg = self.config.input
        inputs = [(image_type, image_topic), (Image, cfg.depth_topic), (CameraInfo, cfg.camera_info_topic)]
        if cfg.depth_camera_info_topic:
            inputs.append((CameraInfo, cfg.depth_camera_info_topic))
        self._log_depth_registration()
        try:
            import message_filters  # a full ROS install; not on PyPI
        except ImportError:
            message_filters = None
        if message_filters is not None:
            self._filter_subs = [
                message_filters.Subscriber(self, msg_type, topic, qos_profile=IMAGE_QOS)
                for msg_type, topic in inputs
            ]
            self._synchronizer = message_filters.ApproximateTimeSynchronizer(
                self._filter_subs, cfg.sync_queue_size, cfg.sync_slop_s
            )
            self._synchronizer.registerCallback(self._on_rgbd)
            subs = [f.sub for f in self._filter_subs]
            backend = "message_filters"
        else:
            self._sync = StampSync(len(inputs), cfg.sync_queue_size, cfg.sync_slop_s, self._on_rgbd)
            subs = [
                self.create_subscription(msg_type, topic, self._sync_input(i), IMAGE_QOS)
                for i, (msg_type, topic) in enumerate(inputs)
            ]
            backend = "pose_perception.sync"
        self._image_sub = subs[0]
        topics = " + ".join(sub.topic_name for sub in subs)
        self._input_description = f"{topics} (synchronised: {backend}, slop {cfg.sync_slop_s} s)"

    def _depth_registration(self) -> str:
        """``registered`` or ``reprojected`` (diagnostics, log)."""
        return "reprojected" if self.config.input.depth_camera_info_topic else "registered"

    def _log_depth_registration(self) -> None:
        depth, mode = self.config.depth, self.config.three_d.mode
        if not self.config.input.depth_camera_info_topic:
            self.get_logger().info(f"three_d.mode {mode}: the depth is registered to the colour camera")
            return
        self.get_logger().info(
            f"three_d.mode {mode}: the depth is reprojected into the colour camera (depth camera "
            f"pose in the colour optical frame: translation {list(depth.extrinsic_translation_m)} m, "
            f"rotation xyzw {list(depth.extrinsic_rotation_xyzw)})"
        )
        rotation, translation = depth.depth_to_color()
        if not translation.any() and np.allclose(rotation, np.eye(3)):
            self.get_logger().warning(
                "depth.extrinsic_translation_m and depth.extrinsic_rotation_xyzw are identity: the "
                "depth camera is assumed to sit at the colour camera's optical centre (set them from "
                "ros2 run tf2_ros tf2_echo <colour optical frame> <depth optical frame>)"
            )

    def _sync_input(self, index: int) -> Any:
        sync = self._sync
        assert sync is not None

        def add(msg: Any) -> None:
            sync.add(index, msg)

        return add

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
        if self._slot.put(Frame(msg, compressed, time.perf_counter())):
            self.stats.frame_dropped()

    def _on_rgbd(self, image: Any, depth: Any, info: Any, depth_info: Any = None) -> None:
        """Executor thread (from the synchroniser): one matched set is one frame."""
        self.stats.frame_received()
        compressed = self.config.input.transport == "compressed"
        if self._slot.put(Frame(image, compressed, time.perf_counter(), depth, info, depth_info)):
            self.stats.frame_dropped()

    def _on_camera_info(self, msg: Any) -> None:
        try:
            self._camera_info = PinholeCamera.from_k(list(msg.k), msg.width, msg.height)
        except (ValueError, TypeError) as err:
            self.get_logger().warning(f"ignoring CameraInfo: {err}", throttle_duration_sec=LOG_THROTTLE_S)

    # ---------------------------------------------------------------- worker

    def _work(self) -> None:
        while not self._stop.is_set():
            frame = self._slot.take(timeout=0.5)
            if frame is None:
                continue
            if self._rate_limited():
                continue
            try:
                self._process(frame)
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

    def _process(self, frame: Frame) -> None:
        cfg = self.config
        msg = frame.image
        started = time.perf_counter()
        # How old the image is (stamp to now, node clock): camera + transport latency.
        stamp_ns = messages.time_to_ns(msg.header.stamp)
        age_ms = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-6
        max_pixels = cfg.input.max_image_pixels
        image = compressed_to_bgr(msg, max_pixels) if frame.compressed else image_to_bgr(msg, max_pixels)
        converted = time.perf_counter()
        people = self.pipeline.process(image, stamp_ns * 1e-9)
        if frame.depth is not None:
            three_d_timings = self._lift_with_depth(frame, image, people)
            if self._lifter is not None:
                three_d_timings.update(
                    self._lift_with_lifter(self._lifter, image, people, stamp_ns * 1e-9, fuse=True)
                )
        elif self._lifter is not None:
            three_d_timings = self._lift_with_lifter(self._lifter, image, people, stamp_ns * 1e-9)
        else:
            three_d_timings = {}
        lifted = time.perf_counter()
        header = self.factory.make(
            "std_msgs/msg/Header", stamp=msg.header.stamp, frame_id=cfg.output.frame_id or msg.header.frame_id
        )
        self._publish(header, image, people)
        done = time.perf_counter()
        timings = {
            "image_age_ms": age_ms,
            "handover_ms": (started - frame.arrived) * 1e3,
            "convert_ms": (converted - started) * 1e3,
            **self.pipeline.timings,
            **three_d_timings,
            "publish_ms": (done - lifted) * 1e3,
            "total_ms": (done - started) * 1e3,
        }
        self.stats.frame_processed(timings, len(people))

    def _lift_with_depth(self, frame: Frame, image: Any, people: list[Any]) -> dict[str, float]:
        """3D keypoints from the frame's depth; on an unusable depth the 2D poses go out alone."""
        started = time.perf_counter()
        height, width = image.shape[:2]
        try:
            self._camera_info = lift_people(
                people,
                (width, height),
                frame.depth,
                frame.info,
                self.config.depth,
                self.pipeline.skeleton.keypoint_names,
                self.config.input.max_image_pixels,
                frame.depth_info,
            )
        except DepthFrameRejected as err:
            self.stats.frame_rejected(err.reason)
            self.get_logger().warning(
                f"no 3D for this frame, publishing its 2D poses only: {err}",
                throttle_duration_sec=LOG_THROTTLE_S,
            )
            return {}
        depth_frame = frame.depth.header.frame_id
        if frame.depth_info is None and depth_frame != frame.image.header.frame_id:
            self.get_logger().warning(
                f"depth frame_id {depth_frame!r} differs from the image's "
                f"{frame.image.header.frame_id!r}: the depth must be registered to the colour camera "
                "(or set input.depth_camera_info_topic and depth.extrinsic_* to reproject it)",
                throttle_duration_sec=60.0,
            )
        elif frame.depth_info is not None and frame.depth_info.header.frame_id != depth_frame:
            self.get_logger().warning(
                f"depth CameraInfo frame_id {frame.depth_info.header.frame_id!r} differs from the "
                f"depth image's {depth_frame!r}: is input.depth_camera_info_topic the depth camera's?",
                throttle_duration_sec=60.0,
            )
        return {
            "depth_ms": (time.perf_counter() - started) * 1e3,
            "depth_skew_ms": abs(stamp_skew_ms(frame.image, frame.depth)),
        }

    def _lift_with_lifter(
        self, lifter: TemporalLifter, image: Any, people: list[Any], stamp: float, fuse: bool = False
    ) -> dict[str, float]:
        """3D keypoints from the lifter, placed with the camera that markers and TF use; with
        ``fuse`` (mode fused, after depth) only for the joints depth missed, fitted to the
        measured ones (a frame whose depth was rejected gets the lifter's 3D alone)."""
        started = time.perf_counter()
        height, width = image.shape[:2]
        cfg = self.config
        lift_in_image(
            lifter, people, stamp, (width, height), self._camera_info, cfg.output.assumed_hfov_deg,
            cfg.three_d.body_height_m, fuse,
        )  # fmt: skip
        return {"lifter_ms": (time.perf_counter() - started) * 1e3}

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
                    self.factory, header, people, camera, cfg.tf_prefix, self._markers.settings, skeleton
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

        summary = self.stats.summary(self._input_description)
        if self._sync is not None:
            summary.values.update(self._sync.counters())
        if self.config.three_d.mode in DEPTH_MODES:
            summary.values["depth_registration"] = self._depth_registration()
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


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = RtmposeNode()
    code = 0
    try:
        node.start()
        spin_until_shutdown(node)
    except StartupError as err:
        node.get_logger().fatal(str(err))
        code = 2
    finally:
        node.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    sys.exit(code)


if __name__ == "__main__":
    main()
