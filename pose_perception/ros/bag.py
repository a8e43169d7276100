"""Offline bag mode: run the node's pipeline over a recorded rosbag2, write what it would publish.

Reading and writing go through ``rosbags`` (pure Python, :mod:`pose_perception.ros.bag_io`),
never rclpy, so a laptop without ROS can turn a robot's recording into poses. Messages
are built by the same ``ros.messages`` functions the node uses and the people (3D
included) come from the same ``PosePipeline``, so a bag result equals what the live node
would have published. Every written message gets the log time of the image it came from,
so the output lines up with the input bag when both are opened together.

3D (``three_d.mode``) as in the node: ``lifter`` places the lifted people with the
CameraInfo beside the image topic (else the nominal camera); ``depth`` groups each image
with a depth image (``input.depth_topic``) and that CameraInfo by stamp
(:class:`~pose_perception.ros.rgbd.StampSync`, the core approximate-time policy,
``input.sync_slop_s``), so only matched images are processed, as in the node. A depth
not registered to the colour camera brings its own CameraInfo
(``input.depth_camera_info_topic``, a fourth synchronised input) and is reprojected with
``depth.extrinsic_*``. ``fused`` does both. The 3D joints go out in ``Keypoint.position``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection
from rosbags.serde import SerdeError

from pose_perception.camera import PinholeCamera
from pose_perception.config import DEPTH_MODES, Config
from pose_perception.pipeline import PosePipeline
from pose_perception.ros.bag_io import (
    CAMERA_INFO,
    LATCHED_QOS,
    MARKER_ARRAY,
    PERSON_ARRAY,
    SKELETON,
    STORAGES,
    BagError,
    BagOutput,
    camera_info_connections,
    decode_image,
    depth_connections,
    find_msg_dir,
    image_connections,
    input_storage,
    on_topic,
    open_input,
    output_bag,
    pose_typestore,
)
from pose_perception.ros.convert import ImageRejected
from pose_perception.ros.messages import (
    MarkerSettings,
    MarkerTracker,
    MessageFactory,
    header,
    person_array,
    skeleton_message,
    time_to_ns,
)
from pose_perception.ros.rgbd import DepthFrameRejected, StampSync, depth_frame_from_messages
from pose_perception.three_d import DepthFrame, LifterUnavailable

log = logging.getLogger(__name__)

UNDESERIALIZABLE = "undeserializable"  # skip reason: the CDR bytes do not decode
UNMATCHED = "no_depth_match"  # skip reason (three_d.mode depth): no depth + CameraInfo within the slop


@dataclass(frozen=True)
class BagOptions:
    image_topic: str
    storage: str | None = None  # "mcap" | "sqlite3"; None: the input's storage
    copy_images: bool = False  # also write the input images (and camera info) to the output
    max_frames: int | None = None  # stop after this many image messages (skipped ones count)
    progress: bool = True


@dataclass
class BagStats:
    output: Path
    storage: str
    frames: int = 0  # images run through the pipeline
    people: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> image messages
    written: Counter[str] = field(default_factory=Counter)  # topic -> messages
    seconds: float = 0.0  # wall time of the whole conversion
    interrupted: bool = False
    read_error: str = ""  # the input became unreadable (a corrupt bag): where and why
    three_d: str = "off"  # three_d.mode
    no_3d: Counter[str] = field(default_factory=Counter)  # reason -> frames published in 2D only

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.skipped.items()))
        topics = ", ".join(f"{topic} {count}" for topic, count in sorted(self.written.items()))
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        three_d = ""
        if self.three_d != "off":
            flat = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.no_3d.items()))
            three_d = f"; 3D: {self.three_d}" + (
                f" ({sum(self.no_3d.values())} frames 2D only: {flat})" if flat else ""
            )
        return (
            f"{self.frames} frames processed ({fps:.1f} frames/s), {skipped} skipped"
            f"{f' ({reasons})' if reasons else ''}, {self.people} people{three_d}; "
            f"wrote {self.output} ({self.storage}: {topics})"
        )


def output_topics(config: Config) -> tuple[str, str, str]:
    """/poses, /poses/markers, /poses/skeleton (from ``output.poses_topic``), as the node names them."""
    poses = "/" + config.output.poses_topic.strip("/")
    return poses, f"{poses}/markers", f"{poses}/skeleton"


# ---------------------------------------------------------------------------- conversion


class _BagJob:
    """One pass over the input: decode each image, run the pipeline, write the messages."""

    def __init__(
        self,
        reader: AnyReader,
        pipeline: PosePipeline,
        config: Config,
        options: BagOptions,
        images: list[Connection],
        infos: list[Connection],
        msg_dir: Path,
        depths: Sequence[Connection] = (),
        depth_infos: Sequence[Connection] = (),
    ) -> None:
        self.reader = reader
        self.pipeline = pipeline
        self.config = config
        self.options = options
        self.images = {c.id for c in images}
        self.infos = {c.id for c in infos}
        self.depths = {c.id for c in depths}
        self.depth_infos = {c.id for c in depth_infos}  # unregistered depth: the depth camera's
        self.connections = images + infos + list(depths) + list(depth_infos)
        self.typestore = pose_typestore(msg_dir)
        self.factory = MessageFactory.rosbags(self.typestore)
        self.markers = MarkerTracker(self.factory, MarkerSettings.from_config(config))
        self.poses_topic, self.markers_topic, self.skeleton_topic = output_topics(config)
        self.info_camera: PinholeCamera | None = None
        self.image_total = sum(c.msgcount for c in images)
        self._sync: StampSync | None = None  # depth modes: image, depth, CameraInfo (+ depth CameraInfo)
        self._matched = 0

    def run(self, destination: Path, storage: str) -> BagStats:
        stats = BagStats(output=destination, storage=storage, three_d=self.config.three_d.mode)
        started = time.perf_counter()
        with output_bag(destination, storage, self.typestore, stats.written) as output:
            self._add_connections(output)
            self._write_skeleton(output)
            self._convert(output, stats)
        stats.seconds = time.perf_counter() - started
        return stats

    def _add_connections(self, output: BagOutput) -> None:
        output.add(self.skeleton_topic, SKELETON, [LATCHED_QOS])
        output.add(self.poses_topic, PERSON_ARRAY)
        if self.config.output.publish_markers:
            output.add(self.markers_topic, MARKER_ARRAY)
        if self.options.copy_images:
            for connection in self.connections:
                output.add_copy(connection, self.reader.typestore)

    def _write_skeleton(self, output: BagOutput) -> None:
        """Once, at the start of the bag (before every /poses), like the node's latched topic."""
        start = self.reader.start_time if self.reader.message_count else 0
        output.write(
            self.skeleton_topic, SKELETON, skeleton_message(self.factory, self.pipeline.skeleton), start
        )

    def _convert(self, output: BagOutput, stats: BagStats) -> None:
        seen = fed = 0
        progress = _progress(self.image_total, self.options)
        if self.depths:
            inputs = self.config.input
            self._sync = StampSync(
                4 if self.depth_infos else 3, inputs.sync_queue_size, inputs.sync_slop_s,
                lambda *msgs: self._process_set(output, stats, *msgs),
            )  # fmt: skip
        try:
            for connection, log_ns, raw in self._messages(stats):
                is_image = connection.id in self.images
                if is_image and self.options.max_frames is not None and seen >= self.options.max_frames:
                    break
                if self.options.copy_images:
                    output.write_raw(connection.topic, connection.msgtype, raw, log_ns)
                if connection.id in self.infos:
                    self._update_camera_info(raw)
                    if self._sync is not None:
                        self._add_to_sync(2, raw, connection.msgtype, log_ns, stats)
                elif connection.id in self.depths:
                    self._add_to_sync(1, raw, connection.msgtype, log_ns, stats)
                elif connection.id in self.depth_infos:
                    self._add_to_sync(3, raw, connection.msgtype, log_ns, stats)
                elif self._sync is not None:
                    seen += 1
                    fed += self._add_to_sync(0, raw, connection.msgtype, log_ns, stats)
                    progress.update(1)
                else:
                    seen += 1
                    self._process_image(output, stats, connection.msgtype, log_ns, raw)
                    progress.update(1)
            self._end_of_input()
        except KeyboardInterrupt:  # keep what was converted: the bag is still closed properly
            stats.interrupted = True
        finally:
            progress.close()
        if fed > self._matched:
            slop = self.config.input.sync_slop_s
            message = f"no depth image and CameraInfo within input.sync_slop_s ({slop} s) of its stamp"
            _skip(stats, UNMATCHED, message, fed - self._matched)

    def _messages(self, stats: BagStats) -> Iterator[tuple[Connection, int, bytes]]:
        """The input's messages until the storage fails to read one (a corrupt bag): then
        ``stats.read_error`` says where, and the output written so far is kept."""
        messages = self.reader.messages(connections=self.connections)
        index = 0
        while True:
            try:
                item = next(messages)
            except StopIteration:
                return
            # Only the storage read runs here (apsw.CorruptError, MCAP record errors, ...):
            # whatever it raises means the rest of the input cannot be read.
            except Exception as err:
                source = self.reader.paths[0]
                stats.read_error = f"{source}: cannot read message {index}: {type(err).__name__}: {err}"
                return
            index += 1
            yield item

    def _end_of_input(self) -> None:
        """No message follows: the synchroniser decides the sets still waiting for one (the
        last image of a bag whose depth is stamped a little later, say)."""
        if self._sync is not None:
            self._sync.flush()

    def _add_to_sync(self, index: int, raw: bytes, msgtype: str, log_ns: int, stats: BagStats) -> bool:
        """Hand a message to the synchroniser, which calls :meth:`_process` with each matched set."""
        assert self._sync is not None
        msg = (
            self._deserialize(raw, msgtype, stats) if index == 0 else self._deserialize_quietly(raw, msgtype)
        )
        if msg is None:
            return False
        self._sync.add(index, _Logged(msg, msgtype, log_ns))
        return True

    def _process_image(
        self, output: BagOutput, stats: BagStats, msgtype: str, log_ns: int, raw: bytes
    ) -> None:
        msg = self._deserialize(raw, msgtype, stats)
        if msg is not None:
            self._process(output, stats, _Logged(msg, msgtype, log_ns))

    def _process_set(
        self,
        output: BagOutput,
        stats: BagStats,
        image: _Logged,
        depth: _Logged,
        info: _Logged,
        depth_info: _Logged | None = None,
    ) -> None:
        """The synchroniser's callback: an image with its depth image and CameraInfo (and the
        depth camera's CameraInfo when the depth is not registered)."""
        self._matched += 1
        self._process(output, stats, image, depth, info, depth_info)

    def _process(
        self,
        output: BagOutput,
        stats: BagStats,
        image_msg: _Logged,
        depth: _Logged | None = None,
        info: _Logged | None = None,
        depth_info: _Logged | None = None,
    ) -> None:
        """One image (with its depth and CameraInfo in depth mode): people, 3D, messages."""
        msg, msgtype, log_ns = image_msg.msg, image_msg.msgtype, image_msg.log_ns
        try:
            image = decode_image(msg, msgtype, self.config.input.max_image_pixels)
        except ImageRejected as err:
            _skip(stats, err.reason, str(err))
            return
        stamp_ns = time_to_ns(msg.header.stamp)
        depth_frame = self._depth_frame(stats, image, depth, info, depth_info)
        people = self.pipeline.process(image, stamp_ns / 1e9, depth=depth_frame, camera=self.info_camera)
        rejection = self.pipeline.last_depth_rejection
        if rejection is not None:
            _no_3d(stats, rejection.reason, rejection.message)
        header_msg = header(self.factory, stamp_ns, self.config.output.frame_id or msg.header.frame_id)
        height, width = image.shape[:2]
        poses = person_array(self.factory, header_msg, people, self.pipeline.skeleton, (width, height))
        output.write(self.poses_topic, PERSON_ARRAY, poses, log_ns)
        if self.config.output.publish_markers:
            assert self.pipeline.camera is not None  # set by every process()
            markers = self.markers.update(header_msg, people, self.pipeline.skeleton, self.pipeline.camera)
            output.write(self.markers_topic, MARKER_ARRAY, markers, log_ns)
        stats.frames += 1
        stats.people += len(people)

    def _depth_frame(
        self,
        stats: BagStats,
        image: np.ndarray,
        depth: _Logged | None,
        info: _Logged | None,
        depth_info: _Logged | None = None,
    ) -> DepthFrame | None:
        """The matched set's depth as numpy (its CameraInfo becomes the camera), as the node
        converts it; None without one or when it is unusable (counted, the image stays 2D)."""
        if depth is None or info is None:
            return None
        height, width = image.shape[:2]
        try:
            frame, self.info_camera = depth_frame_from_messages(
                (width, height),
                depth.msg,
                info.msg,
                self.config,
                None if depth_info is None else depth_info.msg,
            )
        except DepthFrameRejected as err:
            _no_3d(stats, err.reason, str(err))
            return None
        return frame

    def _deserialize_quietly(self, raw: bytes, msgtype: str) -> Any | None:
        """A depth image or CameraInfo that does not decode only costs its image a match."""
        try:
            return self.reader.deserialize(raw, msgtype)
        except (AnyReaderError, SerdeError, ValueError) as err:
            log.debug("ignoring an undecodable %s: %s", msgtype, err)
            return None

    def _deserialize(self, raw: bytes, msgtype: str, stats: BagStats) -> Any | None:
        try:
            return self.reader.deserialize(raw, msgtype)
        except (AnyReaderError, SerdeError, ValueError) as err:  # ValueError: e.g. bad UTF-8 in a string
            _skip(stats, UNDESERIALIZABLE, f"{msgtype} does not deserialize: {err}")
            return None

    def _update_camera_info(self, raw: bytes) -> None:
        """Intrinsics from the latest usable CameraInfo; a bad one keeps the previous camera."""
        try:
            info: Any = self.reader.deserialize(raw, CAMERA_INFO)
            self.info_camera = PinholeCamera.from_k(info.k, info.width, info.height)
        except (AnyReaderError, SerdeError, ValueError) as err:
            log.debug("ignoring a CameraInfo message: %s", err)


@dataclass(frozen=True)
class _Logged:
    """A deserialised message with its type and log time; ``header`` is what StampSync reads."""

    msg: Any
    msgtype: str
    log_ns: int

    @property
    def header(self) -> Any:
        return self.msg.header


def _no_3d(stats: BagStats, reason: str, message: str) -> None:
    """Count images written in 2D only; the first of each reason is logged."""
    if not stats.no_3d[reason]:
        log.warning("no 3D for an image, writing its 2D poses only: %s", message)
    stats.no_3d[reason] += 1


def _skip(stats: BagStats, reason: str, message: str, count: int = 1) -> None:
    """Count skipped images; the first of each reason is logged so the user sees why."""
    if not stats.skipped[reason]:
        log.warning("skipping image (%s): %s", reason, message)
    stats.skipped[reason] += count


class _NoProgress:
    def update(self, n: int) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


def _progress(total: int, options: BagOptions) -> Any:
    if not options.progress:
        return _NoProgress()
    from tqdm import tqdm

    total = min(total, options.max_frames) if options.max_frames else total
    return tqdm(total=total, unit="frame", disable=None, leave=False)


# ---------------------------------------------------------------------------- entry point


def process_bag(
    source: str | Path,
    destination: str | Path,
    config: Config,
    options: BagOptions,
    make_pipeline: Callable[[], PosePipeline] | None = None,
) -> BagStats:
    """Convert ``source`` into a new bag at ``destination`` (which must not exist).

    ``make_pipeline`` is called only after the cheap checks (paths, topic), so a typo in
    the topic does not cost a model load or download; default ``PosePipeline(config)``.
    """
    source, destination = Path(source), Path(destination)
    if destination.exists() or destination.is_symlink():
        raise BagError(f"{destination} already exists; refusing to overwrite it (choose a new output path)")
    if options.storage is not None and options.storage not in STORAGES:
        raise BagError(f"storage must be one of {', '.join(STORAGES)}, got {options.storage!r}")
    with open_input(source) as reader:
        images = image_connections(reader.connections, options.image_topic, source)
        infos = camera_info_connections(reader.connections, images[0].topic, images[0].msgtype)
        depths, depth_infos = _depth_input(reader.connections, config, images[0].topic, infos, source)
        storage = options.storage or input_storage(source)
        msg_dir = find_msg_dir()  # fail before the model is loaded
        try:
            pipeline = make_pipeline() if make_pipeline is not None else PosePipeline(config)
        except LifterUnavailable as err:
            raise BagError(f"three_d.mode lifter: {err}") from None
        job = _BagJob(reader, pipeline, config, options, images, infos, msg_dir, depths, depth_infos)
        return job.run(destination, storage)


def _depth_input(
    connections: Sequence[Connection], config: Config, image_topic: str, infos: list[Connection], where: Path
) -> tuple[list[Connection], list[Connection]]:
    """The depth image connections of the depth modes and, for a depth not registered to the
    colour camera (``input.depth_camera_info_topic``), the depth camera's CameraInfo ones
    (none otherwise); BagError when the bag lacks one of them or the colour CameraInfo."""
    if config.three_d.mode not in DEPTH_MODES:
        return [], []
    depths = depth_connections(connections, config.input.depth_topic, where)
    depth_infos: list[Connection] = []
    if config.input.depth_camera_info_topic:
        topic = config.input.depth_camera_info_topic
        depth_infos = [c for c in on_topic(connections, topic) if c.msgtype == CAMERA_INFO]
        if not sum(c.msgcount for c in depth_infos):
            raise BagError(
                f"{where}: input.depth_camera_info_topic {topic}: no sensor_msgs/CameraInfo messages "
                "in the bag (it is the depth camera's, for a depth image not registered to the colour one)"
            )
    if not sum(c.msgcount for c in infos):
        info_topic = image_topic.rsplit("/", 1)[0] + "/camera_info"
        raise BagError(
            f"{where}: three_d.mode depth needs the colour camera's CameraInfo on {info_topic} "
            f"(beside {image_topic}); the bag has none"
        )
    return depths, depth_infos
