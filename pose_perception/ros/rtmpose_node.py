"""``rtmpose_node``: camera images in, people out (/poses, markers, TF, annotated image,
/diagnostics).

Thin by design: messages become numpy (``convert``, ``rgbd``), the core ``PosePipeline``
runs (2D and, per ``three_d.mode``, depth / lifter / fused 3D), people become messages
(``publishers``). Inputs (``inputs``: RGB-D sets synchronised by stamp) only store the
newest frame; one worker thread processes it, so a slow model never builds a queue and
every frame it skips is counted. A frame whose depth is unusable is still published in
2D (and counted under ``rejected_depth_*`` / ``rejected_camera_info_*``).

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

import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node

from pose_perception.camera import PinholeCamera
from pose_perception.config import DEPTH_MODES, Config
from pose_perception.pipeline import PosePipeline
from pose_perception.ros import messages
from pose_perception.ros.convert import ImageRejected, compressed_to_bgr, image_to_bgr
from pose_perception.ros.diagnostics import diagnostic_array
from pose_perception.ros.frame_slot import LatestSlot
from pose_perception.ros.inputs import image_input, log_depth_registration, subscribe_rgbd
from pose_perception.ros.params import ParameterError, declare_config, updated_config
from pose_perception.ros.publishers import NodeOutputs
from pose_perception.ros.qos import IMAGE_QOS, OUTPUT_QOS
from pose_perception.ros.rgbd import (
    DepthFrameRejected,
    StampSync,
    depth_frame_from_messages,
    frame_id_mismatch,
    stamp_skew_ms,
)
from pose_perception.ros.spin import StopSignals, init_ros, spin_until_shutdown
from pose_perception.ros.startup import StartupError, load_pipeline
from pose_perception.ros.stats import NodeStats
from pose_perception.three_d import DepthFrame

NODE_NAME = "rtmpose_node"
LOG_THROTTLE_S = 5.0


@dataclass
class Frame:
    """What the executor hands to the worker: an image (+ its RGB-D set in the depth modes)."""

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
            f"skeleton {self.pipeline.skeleton.name}, listening on {self._input_description}"
        )

    def _load_pipeline(self, config: Config) -> PosePipeline:
        pipeline = load_pipeline(config)
        lifter = pipeline.three_d.describe_lifter()
        if lifter is not None:
            self.get_logger().info(f"three_d.mode {config.three_d.mode}: {lifter}")
        return pipeline

    def _create_topics(self) -> None:
        cfg = self.config
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CameraInfo

        image_type, image_topic = image_input(self, cfg)
        compressed = cfg.input.transport == "compressed"
        if cfg.three_d.mode in DEPTH_MODES:
            log_depth_registration(self.get_logger(), cfg)
            self._rgbd = subscribe_rgbd(self, image_type, image_topic, cfg, self._on_rgbd)
            self._image_sub, self._sync = self._rgbd.image_sub, self._rgbd.sync
            self._input_description = self._rgbd.description
        else:
            self._image_sub = self.create_subscription(
                image_type, image_topic, lambda m: self._on_image(m, compressed), IMAGE_QOS
            )
            self._input_description = self._image_sub.topic_name
            self.create_subscription(CameraInfo, cfg.input.camera_info_topic, self._on_camera_info, IMAGE_QOS)
        self._outputs = NodeOutputs(self, self.factory, cfg, self.pipeline.skeleton)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
        self.create_timer(1.0, self._publish_diagnostics)

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        try:
            config = updated_config(self.config, {p.name: p.value for p in params})
        except ParameterError as err:
            return SetParametersResult(successful=False, reason=str(err))
        self.config = config
        self.pipeline.config = config
        self._outputs.markers.settings = messages.MarkerSettings.from_config(config)
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------------- input

    def _on_image(self, msg: Any, compressed: bool = False) -> None:
        """Executor thread: hand the frame over and return at once."""
        self.stats.frame_received(messages.time_to_ns(msg.header.stamp))
        if self._slot.put(Frame(msg, compressed, time.perf_counter())):
            self.stats.frame_dropped()

    def _on_rgbd(self, image: Any, depth: Any, info: Any, depth_info: Any = None) -> None:
        """Executor thread (from the synchroniser): one matched set is one frame."""
        self.stats.frame_received(messages.time_to_ns(image.header.stamp))
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
                if self._stopping():
                    return  # publishing failed because the context shut down: that is the stop
                self.stats.frame_failed()
                self.get_logger().error(
                    f"processing failed: {type(err).__name__}: {err}", throttle_duration_sec=LOG_THROTTLE_S
                )

    def _stopping(self) -> bool:
        return self._stop.is_set() or not self.context.ok()

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
        depth = None if frame.depth is None else self._depth_frame(frame, image)
        converted = time.perf_counter()
        people = self.pipeline.process(image, stamp_ns * 1e-9, depth=depth, camera=self._camera_info)
        rejection = self.pipeline.last_depth_rejection
        if rejection is not None:
            self._no_3d(rejection.reason, rejection.message)
        processed = time.perf_counter()
        header = self.factory.make(
            "std_msgs/msg/Header", stamp=msg.header.stamp, frame_id=cfg.output.frame_id or msg.header.frame_id
        )
        assert self.pipeline.camera is not None  # set by every process()
        self._outputs.publish(header, image, people, self.pipeline.camera, cfg)
        done = time.perf_counter()
        timings = {
            "image_age_ms": age_ms,
            "handover_ms": (started - frame.arrived) * 1e3,
            "convert_ms": (converted - started) * 1e3,
            **self.pipeline.timings,
            "publish_ms": (done - processed) * 1e3,
            "total_ms": (done - started) * 1e3,
        }
        if depth is not None and rejection is None:
            timings["depth_skew_ms"] = abs(stamp_skew_ms(frame.image, frame.depth))
        self.stats.frame_processed(timings, len(people))

    def _depth_frame(self, frame: Frame, image: Any) -> DepthFrame | None:
        """The frame's depth as numpy (its CameraInfo becomes the camera); None when unusable."""
        height, width = image.shape[:2]
        try:
            depth, self._camera_info = depth_frame_from_messages(
                (width, height), frame.depth, frame.info, self.config, frame.depth_info
            )
        except DepthFrameRejected as err:
            self._no_3d(err.reason, str(err))
            return None
        mismatch = frame_id_mismatch(frame.image, frame.depth, frame.depth_info)
        if mismatch is not None:
            self.get_logger().warning(mismatch, throttle_duration_sec=60.0)
        return depth

    def _no_3d(self, reason: str, message: str) -> None:
        self.stats.frame_rejected(reason)
        self.get_logger().warning(
            f"no 3D for this frame, publishing its 2D poses only: {message}",
            throttle_duration_sec=LOG_THROTTLE_S,
        )

    # ---------------------------------------------------------------- diagnostics

    def _publish_diagnostics(self) -> None:
        if not self.config.output.publish_diagnostics:
            return
        stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(
            diagnostic_array(
                self.get_name(), self.stats, self._input_description, self._sync, self.config, stamp
            )
        )

    # ---------------------------------------------------------------- shutdown

    def stop(self) -> None:
        """Stop and join the worker (before destroy_node, so it never publishes on a dead node)."""
        self._stop.set()
        self._slot.close()
        if self._worker is not None:
            self._worker.join()
            self._worker = None


def main(args: list[str] | None = None) -> None:
    signals = StopSignals()
    signals.install()  # before rclpy's handlers, which chain to these
    node, executor = init_ros(args, RtmposeNode)
    code = 0
    try:
        if not signals.requested:
            node.start()
            spin_until_shutdown(node, executor)
    except StartupError as err:
        node.get_logger().fatal(str(err))
        code = 2
    except Exception:
        # A stop requested while starting shuts the context down under start(): creating a
        # topic then fails; that is the stop, not a crash.
        if not signals.requested and rclpy.ok(context=node.context):
            raise
    finally:
        node.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        signals.ignore()
    sys.exit(code)


if __name__ == "__main__":
    main()
