"""Offline bag mode: run the node's pipeline over a recorded rosbag2, write what it would publish.

Reading and writing go through ``rosbags`` (pure Python), never rclpy, so a laptop
without ROS can turn a robot's recording into poses. Messages are built by the same
``ros.messages`` functions the node uses and the people come from the same
``PosePipeline``, so a bag result equals what the live node would have published.

The output bag embeds every message definition (MCAP schema records with encoding
``ros2msg``; the sqlite3 ``message_definitions`` table), so ``rosbags``, ``ros2 bag``
and Foxglove can decode ``pose_perception/msg/*`` without this package installed.
Every written message gets the log time of the image it came from, so the output lines
up with the input bag when both are opened together.

3D (``three_d.mode``) as in the node: ``lifter`` lifts the tracked people with the
monocular lifter, placed with the CameraInfo beside the image topic (else the nominal
camera); ``depth`` groups each image with a depth image (``input.depth_topic``) and that
CameraInfo by stamp (:class:`~pose_perception.ros.rgbd.StampSync`, the core
approximate-time policy, ``input.sync_slop_s``), so only matched images are processed, as
in the node. A depth not registered to the colour camera brings its own CameraInfo
(``input.depth_camera_info_topic``, a fourth synchronised input) and is reprojected with
``depth.extrinsic_*``. ``fused`` does both. The 3D joints go out in ``Keypoint.position``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag2,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from pose_perception.camera import PinholeCamera
from pose_perception.config import DEPTH_MODES, LIFTER_MODES, Config
from pose_perception.lifting import TemporalLifter, lift_in_image, open_lifter_for
from pose_perception.people import Person
from pose_perception.pipeline import PosePipeline
from pose_perception.ros.convert import ImageRejected, compressed_to_bgr, image_to_bgr
from pose_perception.ros.messages import (
    MarkerSettings,
    MarkerTracker,
    MessageFactory,
    header,
    person_array,
    skeleton_message,
    time_to_ns,
)
from pose_perception.ros.rgbd import DepthFrameRejected, StampSync, lift_people

log = logging.getLogger(__name__)

PACKAGE = "pose_perception"
MSG_NAMES = ("Keypoint", "Person", "PersonArray", "Skeleton")
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
PERSON_ARRAY = "pose_perception/msg/PersonArray"
SKELETON = "pose_perception/msg/Skeleton"
MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
_FILE_STORAGES = {".mcap": "mcap", ".db3": "sqlite3"}
UNDESERIALIZABLE = "undeserializable"  # skip reason: the CDR bytes do not decode
UNMATCHED = "no_depth_match"  # skip reason (three_d.mode depth): no depth + CameraInfo within the slop

_NO_TIME = QosTime(0, 0)
# /poses/skeleton is latched in the node; record that so `ros2 bag play` replays it latched.
LATCHED_QOS = Qos(
    QosHistory.KEEP_LAST,
    1,
    QosReliability.RELIABLE,
    QosDurability.TRANSIENT_LOCAL,
    _NO_TIME,
    _NO_TIME,
    QosLiveliness.AUTOMATIC,
    _NO_TIME,
    False,
)


class BagError(ValueError):
    """A bag that cannot be used as asked (missing, wrong topic, output exists): a user error."""


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


# ---------------------------------------------------------------------------- message types


def find_msg_dir() -> Path:
    """Where ``PersonArray.msg`` and friends are: repo checkout, pip install, or ament index.

    The output bag must embed their definitions and there is no ROS install to ask.
    """
    searched = []
    for candidate in _msg_dir_candidates():
        if all((candidate / f"{name}.msg").is_file() for name in MSG_NAMES):
            return candidate
        searched.append(str(candidate))
    raise BagError(
        f"cannot find the {PACKAGE} .msg files ({', '.join(MSG_NAMES)}); searched {', '.join(searched)} "
        "and the ament index"
    )


def _msg_dir_candidates() -> Iterator[Path]:
    """In order of preference; the ament index is asked only if the others fail."""
    yield Path(__file__).resolve().parents[2] / "msg"  # source checkout / editable install
    yield Path(sys.prefix) / "share" / PACKAGE / "msg"  # setup.py data_files
    share = _ament_share_dir()
    if share is not None:
        yield share / "msg"


def _ament_share_dir() -> Path | None:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(PACKAGE))
    except (PackageNotFoundError, OSError, ValueError):  # OSError: AMENT_PREFIX_PATH unset
        return None


def pose_typestore(msg_dir: Path | None = None) -> Typestore:
    """ROS 2 Jazzy types plus ``pose_perception/msg/*`` (needed to serialise and embed them)."""
    msg_dir = msg_dir if msg_dir is not None else find_msg_dir()
    store = get_typestore(Stores.ROS2_JAZZY)
    types = {}
    for name in MSG_NAMES:
        text = (msg_dir / f"{name}.msg").read_text(encoding="utf-8")
        types.update(get_types_from_msg(text, f"{PACKAGE}/msg/{name}"))
    store.register(types)
    return store


# ---------------------------------------------------------------------------- input


def input_storage(path: Path) -> str:
    """``mcap`` or ``sqlite3``: the storage of a bag folder (metadata.yaml) or storage file."""
    if path.is_file():
        return _FILE_STORAGES.get(path.suffix, "mcap")
    try:
        metadata = yaml.safe_load((path / "metadata.yaml").read_text(encoding="utf-8"))
        storage = metadata["rosbag2_bagfile_information"]["storage_identifier"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "mcap"
    return storage if storage in STORAGES else "mcap"


@contextlib.contextmanager
def open_input(path: Path) -> Iterator[AnyReader]:
    """An open AnyReader; unreadable bags become one-line BagErrors, not rosbags tracebacks."""
    if path.suffix == ".bag":
        raise BagError(f"{path}: ROS 1 bags are not supported; convert it first (rosbags-convert)")
    if not path.exists():
        raise BagError(f"{path}: no such bag")
    jazzy = get_typestore(Stores.ROS2_JAZZY)
    try:
        # Jazzy types for bags recorded without message definitions (before Iron).
        reader = AnyReader([path], default_typestore=jazzy)
        reader.open()
    except (AnyReaderError, OSError) as err:
        raise BagError(f"{path}: cannot read the bag: {err}") from err
    _add_missing_types(reader.typestore, jazzy)
    try:
        yield reader
    finally:
        reader.close()


def _add_missing_types(typestore: Typestore, defaults: Typestore) -> None:
    """Standard types for connections stored without a definition next to ones with one.

    AnyReader uses its default typestore only when *no* connection has a definition; a bag
    where only some do (rosbag2 leaves a definition empty when it cannot find it) would
    otherwise fail on every image with a KeyError.
    """
    missing = {name: fields for name, fields in defaults.fielddefs.items() if name not in typestore.fielddefs}
    typestore.register(missing)


def on_topic(connections: Sequence[Connection], topic: str) -> list[Connection]:
    """The connections of ``topic``, its leading slash optional (``camera/x`` is ``/camera/x``)."""
    wanted = {topic, "/" + topic.lstrip("/")}
    return [c for c in connections if c.topic in wanted]


def image_connections(connections: Sequence[Connection], topic: str, where: Path) -> list[Connection]:
    """The connections of ``topic`` (leading slash optional); BagError naming the image topics."""
    matching = on_topic(connections, topic)
    images = [c for c in matching if c.msgtype in IMAGE_TYPES]
    if images:
        return images
    available = _describe_image_topics(connections)
    if matching:
        raise BagError(
            f"{where}: topic {topic} is {matching[0].msgtype}, not an Image or CompressedImage; {available}"
        )
    raise BagError(f"{where}: no image topic {topic}; {available}")


def _describe_image_topics(connections: Sequence[Connection]) -> str:
    topics = sorted({(c.topic, c.msgtype) for c in connections if c.msgtype in IMAGE_TYPES})
    if topics:
        return "image topics in the bag: " + ", ".join(f"{t} ({m})" for t, m in topics)
    others = ", ".join(sorted({c.topic for c in connections})) or "none"
    return f"the bag has no Image or CompressedImage topic (topics: {others})"


def camera_info_connections(
    connections: Sequence[Connection], image_topic: str, msgtype: str
) -> list[Connection]:
    """CameraInfo beside the image: ``<ns>/camera_info`` for ``<ns>/image`` (``.../compressed`` too)."""
    base = image_topic
    if msgtype == COMPRESSED_IMAGE and base.endswith("/compressed"):
        base = base.rsplit("/", 1)[0]
    info_topic = base.rsplit("/", 1)[0] + "/camera_info"
    return [c for c in connections if c.topic == info_topic and c.msgtype == CAMERA_INFO]


def depth_connections(connections: Sequence[Connection], topic: str, where: Path) -> list[Connection]:
    """The ``sensor_msgs/Image`` connections of the depth ``topic``; BagError naming the image topics."""
    matching = on_topic(connections, topic)
    depth = [c for c in matching if c.msgtype == IMAGE]
    if depth:
        return depth
    available = _describe_image_topics(connections)
    what = f"is {matching[0].msgtype}, not a sensor_msgs/Image" if matching else "is not in the bag"
    raise BagError(f"{where}: three_d.mode depth: depth topic {topic} {what} (--depth-topic); {available}")


def decode_image(msg: Any, msgtype: str, max_pixels: int) -> np.ndarray:
    """BGR pixels of an Image or CompressedImage; ImageRejected for malformed ones."""
    if msgtype == COMPRESSED_IMAGE:
        return compressed_to_bgr(msg, max_pixels)
    # Never cv_bridge here: bag mode must behave the same with or without ROS installed.
    return image_to_bgr(msg, max_pixels, use_cv_bridge=False)


# ---------------------------------------------------------------------------- output


class _Output:
    """The output bag: one connection per (topic, type), written with the given log times."""

    def __init__(self, writer: Writer, typestore: Typestore, stats: BagStats) -> None:
        self.writer = writer
        self.typestore = typestore
        self.stats = stats
        self._connections: dict[tuple[str, str], Connection] = {}

    def add(self, topic: str, msgtype: str, qos: Sequence[Qos] = ()) -> None:
        # typestore=: rosbags then stores the full definition (MCAP schema / message_definitions).
        self._connections[(topic, msgtype)] = self.writer.add_connection(
            topic, msgtype, typestore=self.typestore, offered_qos_profiles=qos
        )

    def add_copy(self, source: Connection, typestore: Typestore) -> None:
        """A connection for raw copies of ``source``, with its definition and QoS."""
        if (source.topic, source.msgtype) in self._connections:
            return
        qos = source.ext.offered_qos_profiles if isinstance(source.ext, ConnectionExtRosbag2) else []
        self._connections[(source.topic, source.msgtype)] = self.writer.add_connection(
            source.topic, source.msgtype, typestore=typestore, offered_qos_profiles=qos
        )

    def write(self, topic: str, msgtype: str, msg: Any, log_ns: int) -> None:
        self.write_raw(topic, msgtype, self.typestore.serialize_cdr(msg, msgtype), log_ns)

    def write_raw(self, topic: str, msgtype: str, data: bytes | memoryview, log_ns: int) -> None:
        self.writer.write(self._connections[(topic, msgtype)], log_ns, data)
        self.stats.written[topic] += 1


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
        lifter: TemporalLifter | None = None,
        depths: Sequence[Connection] = (),
        depth_infos: Sequence[Connection] = (),
    ) -> None:
        self.reader = reader
        self.pipeline = pipeline
        self.config = config
        self.options = options
        self.lifter = lifter
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
        writer = Writer(destination, version=Writer.VERSION_LATEST, storage_plugin=STORAGES[storage])
        writer.open()
        try:
            output = _Output(writer, self.typestore, stats)
            self._add_connections(output)
            self._write_skeleton(output)
            self._convert(output, stats)
        except BaseException:
            writer.abort()
            shutil.rmtree(destination, ignore_errors=True)  # created by this run: no half bag left
            raise
        writer.close()
        stats.seconds = time.perf_counter() - started
        return stats

    def _add_connections(self, output: _Output) -> None:
        output.add(self.skeleton_topic, SKELETON, [LATCHED_QOS])
        output.add(self.poses_topic, PERSON_ARRAY)
        if self.config.output.publish_markers:
            output.add(self.markers_topic, MARKER_ARRAY)
        if self.options.copy_images:
            for connection in self.connections:
                output.add_copy(connection, self.reader.typestore)

    def _write_skeleton(self, output: _Output) -> None:
        """Once, at the start of the bag (before every /poses), like the node's latched topic."""
        start = self.reader.start_time if self.reader.message_count else 0
        output.write(
            self.skeleton_topic, SKELETON, skeleton_message(self.factory, self.pipeline.skeleton), start
        )

    def _convert(self, output: _Output, stats: BagStats) -> None:
        seen = fed = 0
        progress = _progress(self.image_total, self.options)
        if self.depths:
            inputs = self.config.input
            self._sync = StampSync(
                4 if self.depth_infos else 3, inputs.sync_queue_size, inputs.sync_slop_s,
                lambda *msgs: self._process_set(output, stats, *msgs),
            )  # fmt: skip
        try:
            for connection, log_ns, raw in self.reader.messages(connections=self.connections):
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

    def _process_image(self, output: _Output, stats: BagStats, msgtype: str, log_ns: int, raw: bytes) -> None:
        msg = self._deserialize(raw, msgtype, stats)
        if msg is not None:
            self._process(output, stats, _Logged(msg, msgtype, log_ns))

    def _process_set(
        self,
        output: _Output,
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
        output: _Output,
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
        people = self.pipeline.process(image, stamp_ns / 1e9)
        self._lift(stats, people, image, stamp_ns, depth, info, depth_info)
        header_msg = header(self.factory, stamp_ns, self.config.output.frame_id or msg.header.frame_id)
        height, width = image.shape[:2]
        poses = person_array(self.factory, header_msg, people, self.pipeline.skeleton, (width, height))
        output.write(self.poses_topic, PERSON_ARRAY, poses, log_ns)
        if self.config.output.publish_markers:
            markers = self.markers.update(
                header_msg, people, self.pipeline.skeleton, self._camera(width, height)
            )
            output.write(self.markers_topic, MARKER_ARRAY, markers, log_ns)
        stats.frames += 1
        stats.people += len(people)

    def _lift(
        self,
        stats: BagStats,
        people: list[Person],
        image: np.ndarray,
        stamp_ns: int,
        depth: _Logged | None,
        info: _Logged | None,
        depth_info: _Logged | None = None,
    ) -> None:
        """3D keypoints as the node makes them: depth, the lifter, or both (fused)."""
        height, width = image.shape[:2]
        if depth is not None and info is not None:
            try:
                self.info_camera = lift_people(
                    people,
                    (width, height),
                    depth.msg,
                    info.msg,
                    self.config.depth,
                    self.pipeline.skeleton.keypoint_names,
                    self.config.input.max_image_pixels,
                    None if depth_info is None else depth_info.msg,
                )
            except DepthFrameRejected as err:
                if not stats.no_3d[err.reason]:
                    log.warning("no 3D for an image, writing its 2D poses only: %s", err)
                stats.no_3d[err.reason] += 1
        if self.lifter is None:
            return
        lift_in_image(
            self.lifter,
            people,
            stamp_ns / 1e9,
            (width, height),
            self.info_camera,
            self.config.output.assumed_hfov_deg,
            self.config.three_d.body_height_m,
            fuse=depth is not None,
        )

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

    def _camera(self, width: int, height: int) -> PinholeCamera:
        return PinholeCamera.for_image(self.info_camera, width, height, self.config.output.assumed_hfov_deg)


@dataclass(frozen=True)
class _Logged:
    """A deserialised message with its type and log time; ``header`` is what StampSync reads."""

    msg: Any
    msgtype: str
    log_ns: int

    @property
    def header(self) -> Any:
        return self.msg.header


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
        pipeline = make_pipeline() if make_pipeline is not None else PosePipeline(config)
        lifter = _open_lifter(config, pipeline) if config.three_d.mode in LIFTER_MODES else None
        job = _BagJob(reader, pipeline, config, options, images, infos, msg_dir, lifter, depths, depth_infos)
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


def _open_lifter(config: Config, pipeline: PosePipeline) -> TemporalLifter:
    """The node's lifter for ``three_d.mode lifter``; BagError naming the file or the skeleton."""
    try:
        return open_lifter_for(pipeline.skeleton, config)
    except (OSError, ValueError) as err:
        raise BagError(f"three_d.mode lifter: {err}") from None
