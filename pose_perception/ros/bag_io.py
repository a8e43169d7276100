"""rosbag2 reading and writing for bag mode, through ``rosbags`` (pure Python), never rclpy.

What a bag holds and how it is opened: the typestore with ``pose_perception/msg/*``
registered (:func:`pose_typestore`), the input's storage (:func:`input_storage`), the
image, CameraInfo and depth connections of a topic, image decoding, and the output bag
(:func:`output_bag`, :class:`BagOutput`). The conversion job is :mod:`pose_perception.ros.bag`.

The output bag embeds every message definition (MCAP schema records with encoding
``ros2msg``; the sqlite3 ``message_definitions`` table), so ``rosbags``, ``ros2 bag``
and Foxglove can decode ``pose_perception/msg/*`` without this package installed.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
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
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from pose_perception.config_loader import read_yaml
from pose_perception.ros.convert import compressed_to_bgr, image_to_bgr

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
        # bounded, no aliases: the bag may come from anyone
        metadata = read_yaml(path / "metadata.yaml", kind="bag metadata")
        storage = metadata["rosbag2_bagfile_information"]["storage_identifier"]
    except (ValueError, KeyError, TypeError):
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
    except (AnyReaderError, OSError, UnicodeDecodeError) as err:  # rosbags reads metadata.yaml as UTF-8
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


class BagOutput:
    """The output bag: one connection per (topic, type), written with the given log times;
    ``written`` counts the messages per topic."""

    def __init__(self, writer: Writer, typestore: Typestore, written: Counter[str]) -> None:
        self.writer = writer
        self.typestore = typestore
        self.written = written
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
        self.written[topic] += 1


@contextlib.contextmanager
def output_bag(
    destination: Path, storage: str, typestore: Typestore, written: Counter[str]
) -> Iterator[BagOutput]:
    """A new bag at ``destination``; on any exception (an interrupt too) it is removed again,
    so no half bag is left behind."""
    writer = Writer(destination, version=Writer.VERSION_LATEST, storage_plugin=STORAGES[storage])
    writer.open()
    try:
        yield BagOutput(writer, typestore, written)
    except BaseException:
        writer.abort()
        shutil.rmtree(destination, ignore_errors=True)  # created by this run: no half bag left
        raise
    writer.close()
