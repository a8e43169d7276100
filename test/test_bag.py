"""``pose-perception bag``: rosbag2 in (MCAP / sqlite3, raw / compressed), poses bag out.

The input bags are written here with rosbags; the output is read back with rosbags'
AnyReader and compared with ``PosePipeline.process`` run directly on the same images.
"""

from __future__ import annotations

import math
import re
import sqlite3
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

pytest.importorskip("rosbags")
pytest.importorskip("torch")
pytest.importorskip("onnx")

from rosbags.highlevel import AnyReader
from rosbags.interfaces import MessageDefinitionFormat
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from pose_perception import cli
from pose_perception.config import load_config
from pose_perception.pipeline import PosePipeline
from pose_perception.ros import bag
from pose_perception.ros.messages import people_from_message, time_to_ns
from pose_perception.runtime.export import export_rtmpose
from pose_perception.skeletons import COCO17

H, W = 96, 128
RAW_TOPIC = "/camera/image_raw"
COMPRESSED_TOPIC = "/camera/image_raw/compressed"
INFO_TOPIC = "/camera/camera_info"
STORE = get_typestore(Stores.ROS2_JAZZY)
T0 = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "rtmpose-t.onnx"
    export_rtmpose("rtmpose-t", path, seed=0)
    return path


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random weights score low: keep every person so there is something to compare. One
    full-frame box per frame and no smoothing keep the reference independent of history."""
    path = tmp_path_factory.mktemp("config") / "bag.yaml"
    path.write_text(
        "output:\n  min_person_score: 0.0\n"
        "detector:\n  type: full_frame\n  interval: 1\n  pose_nms_threshold: 1.0\n"
        "smoothing:\n  enabled: false\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def pipeline(model: Path, config_file: Path) -> PosePipeline:
    """The reference: the same pipeline run directly on the decoded images."""
    config = load_config(config_file)
    config.estimator.model = str(model)
    return PosePipeline(config)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read the user's model cache or reach the network."""
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")


# ---------------------------------------------------------------------------- input bags


@dataclass
class Sent:
    """One image message written to an input bag."""

    log_ns: int
    stamp_ns: int
    msg: Any
    valid: bool


def _scene(seed: int) -> np.ndarray:
    """A grey background with a stick figure, different per seed."""
    rng = np.random.default_rng(seed)
    image = np.full((H, W, 3), 40 + 10 * seed, np.uint8)
    x = int(rng.integers(30, W - 30))
    color = tuple(int(c) for c in rng.integers(80, 256, 3))
    cv2.circle(image, (x, 20), 8, color, -1)
    cv2.line(image, (x, 28), (x, 60), color, 3)
    cv2.line(image, (x, 35), (x - 15, 50), color, 3)
    cv2.line(image, (x, 35), (x + 15, 50), color, 3)
    cv2.line(image, (x, 60), (x - 10, 88), color, 3)
    cv2.line(image, (x, 60), (x + 10, 88), color, 3)
    return image


def _header(stamp_ns: int, frame_id: str = "camera_optical") -> Any:
    types = STORE.types
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    stamp = types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _image(stamp_ns: int, bgr: np.ndarray, encoding: str, pad: int = 0) -> Any:
    pixels = {
        "bgr8": bgr,
        "rgb8": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
        "mono8": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[..., None],
    }[encoding]
    rows = pixels.reshape(H, -1)
    rows = np.concatenate([rows, np.zeros((H, pad), np.uint8)], axis=1)  # row padding: step > width*c
    return STORE.types["sensor_msgs/msg/Image"](
        header=_header(stamp_ns),
        height=H,
        width=W,
        encoding=encoding,
        is_bigendian=0,
        step=rows.shape[1],
        data=rows.reshape(-1).copy(),
    )


def _compressed(stamp_ns: int, bgr: np.ndarray, fmt: str) -> Any:
    ok, encoded = cv2.imencode(f".{fmt}", bgr)
    assert ok
    return STORE.types["sensor_msgs/msg/CompressedImage"](
        header=_header(stamp_ns), format=fmt, data=encoded.reshape(-1)
    )


def _camera_info(stamp_ns: int) -> Any:
    k = np.array([100.0, 0, W / 2, 0, 100.0, H / 2, 0, 0, 1])
    fields = {"header": _header(stamp_ns), "height": H, "width": W, "distortion_model": "plumb_bob"}
    fields |= {"d": np.zeros(5), "k": k, "r": np.eye(3).reshape(-1), "p": np.zeros(12)}
    fields |= {"binning_x": 0, "binning_y": 0}
    roi = STORE.types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return STORE.types["sensor_msgs/msg/CameraInfo"](**fields, roi=roi)


def _raw_messages() -> list[Sent]:
    """bgr8, rgb8, mono8, padded bgr8, one truncated image (malformed), rgb8 again."""
    specs = [("bgr8", 0), ("rgb8", 0), ("mono8", 0), ("bgr8", 4), ("truncated", 0), ("rgb8", 0)]
    sent = []
    for i, (encoding, pad) in enumerate(specs):
        stamp = T0 + i * 100_000_000
        log_ns = stamp + 7_000_000 + i  # recorded a little after capture, never equal to the stamp
        if encoding == "truncated":
            msg = _image(stamp, _scene(i), "bgr8")
            msg.data = msg.data[: len(msg.data) // 2].copy()
            sent.append(Sent(log_ns, stamp, msg, valid=False))
        else:
            sent.append(Sent(log_ns, stamp, _image(stamp, _scene(i), encoding, pad), valid=True))
    return sent


def _compressed_messages() -> list[Sent]:
    sent = []
    for i, fmt in enumerate(["jpeg", "png", "garbage", "jpeg"]):
        stamp = T0 + i * 50_000_000
        if fmt == "garbage":
            msg = STORE.types["sensor_msgs/msg/CompressedImage"](
                header=_header(stamp), format="jpeg", data=np.arange(64, dtype=np.uint8)
            )
            sent.append(Sent(stamp + 1000, stamp, msg, valid=False))
        else:
            sent.append(Sent(stamp + 1000, stamp, _compressed(stamp, _scene(i), fmt), valid=True))
    return sent


def _write_bag(path: Path, storage: str, topic: str, sent: list[Sent], camera_info: bool = True) -> Path:
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        msgtype = sent[0].msg.__msgtype__
        image_conn = writer.add_connection(topic, msgtype, typestore=STORE)
        info_conn = writer.add_connection(INFO_TOPIC, "sensor_msgs/msg/CameraInfo", typestore=STORE)
        chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=STORE)
        hello = STORE.types["std_msgs/msg/String"](data="hello")
        writer.write(chatter, sent[0].log_ns - 1, STORE.serialize_cdr(hello, "std_msgs/msg/String"))
        if camera_info:
            info = STORE.serialize_cdr(_camera_info(sent[0].stamp_ns), "sensor_msgs/msg/CameraInfo")
            writer.write(info_conn, sent[0].log_ns - 1, info)
        for s in sent:
            writer.write(image_conn, s.log_ns, STORE.serialize_cdr(s.msg, msgtype))
    return path


# ---------------------------------------------------------------------------- output helpers


@dataclass
class Received:
    topic: str
    msgtype: str
    log_ns: int
    msg: Any
    raw: bytes


def _read(path: Path) -> tuple[list[Received], dict[str, Any]]:
    """All messages in log-time order, and the connection of each topic."""
    with AnyReader([path]) as reader:
        connections = {c.topic: c for c in reader.connections}
        received = [
            Received(c.topic, c.msgtype, t, reader.deserialize(raw, c.msgtype), bytes(raw))
            for c, t, raw in reader.messages()
        ]
    return received, connections


def _on(received: list[Received], topic: str) -> list[Received]:
    return [r for r in received if r.topic == topic]


def _run(*args: str | Path) -> int:
    return cli.main([str(a) for a in args])


def _bag_cli(source: Path, output: Path, model: Path, config: Path, *extra: str | Path) -> int:
    return _run("bag", source, output, "--model", model, "--config", config, *extra)


def _mcap_schemas(path: Path) -> dict[str, tuple[str, str]]:
    """Schema records of an MCAP's summary section: name -> (encoding, data)."""
    blob = path.read_bytes()
    (summary_start,) = struct.unpack_from("<Q", blob, len(blob) - 8 - 20)
    schemas = {}
    pos = summary_start
    while blob[pos] != 0x02:  # footer
        opcode, length = blob[pos], struct.unpack_from("<Q", blob, pos + 1)[0]
        if opcode == 0x03:
            fields, at = [], pos + 9 + 2
            for _ in range(3):
                (size,) = struct.unpack_from("<I", blob, at)
                fields.append(blob[at + 4 : at + 4 + size].decode())
                at += 4 + size
            schemas[fields[0]] = (fields[1], fields[2])
        pos += 9 + length
    return schemas


def _check_poses(received: list[Received], sent: list[Sent], pipeline: PosePipeline, frame_id: str) -> None:
    """One /poses per valid image, with its stamp, log time, frame and the pipeline's people."""
    valid = [s for s in sent if s.valid]
    poses = _on(received, "/poses")
    assert len(poses) == len(valid)
    for got, s in zip(poses, valid, strict=True):
        assert got.log_ns == s.log_ns
        assert time_to_ns(got.msg.header.stamp) == s.stamp_ns
        assert got.msg.header.frame_id == frame_id
        assert got.msg.skeleton == "coco17"
        assert (got.msg.image_width, got.msg.image_height) == (W, H)
        image = bag.decode_image(s.msg, s.msg.__msgtype__, 1 << 24)
        expected = pipeline.process(image, s.stamp_ns / 1e9)
        people = people_from_message(got.msg)
        assert len(people) == len(expected) == 1
        for person, ref in zip(people, expected, strict=True):
            assert person.keypoints.shape == (17, 2)
            np.testing.assert_allclose(person.keypoints, ref.keypoints, atol=1e-4)
            np.testing.assert_allclose(person.keypoint_scores, ref.keypoint_scores, atol=1e-6)
            np.testing.assert_allclose(person.bbox, [0, 0, W, H])
    markers = _on(received, "/poses/markers")
    assert [m.log_ns for m in markers] == [s.log_ns for s in valid]
    for m in markers:  # joints, limbs, label of one person (+ DELETEs when its id changes)
        assert sum(marker.action == 0 for marker in m.msg.markers) == 3


def _check_depth(received: list[Received], focal_px: float) -> None:
    """Markers sit where a 1.7 m person spanning the image height would be with this focal length."""
    for markers in _on(received, "/poses/markers"):
        label = [m for m in markers.msg.markers if m.action == 0][2]
        assert label.pose.position.z == pytest.approx(focal_px * 1.7 / H)


def _check_skeleton(received: list[Received]) -> None:
    (skeleton,) = _on(received, "/poses/skeleton")
    assert skeleton is received[0]  # before everything else
    assert list(skeleton.msg.keypoint_names) == list(COCO17.keypoint_names)
    assert len(skeleton.msg.link_start) == len(COCO17.links)


def _check_msgdefs(connections: dict[str, Any]) -> None:
    for topic in ("/poses", "/poses/markers", "/poses/skeleton"):
        msgdef = connections[topic].msgdef
        assert msgdef.format == MessageDefinitionFormat.MSG
        assert msgdef.data.strip()
    definition = connections["/poses"].msgdef.data  # dependencies follow: MSG: pkg/Type or pkg/msg/Type
    assert re.search(r"^MSG: pose_perception/(msg/)?Person$", definition, re.MULTILINE)
    assert re.search(r"^MSG: pose_perception/(msg/)?Keypoint$", definition, re.MULTILINE)


def _check_sqlite_definitions(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT topic_type, encoding FROM message_definitions"))
        definition = conn.execute(
            "SELECT encoded_message_definition FROM message_definitions WHERE topic_type = ?",
            ("pose_perception/msg/PersonArray",),
        ).fetchone()[0]
        (qos,) = conn.execute(
            "SELECT offered_qos_profiles FROM topics WHERE name = '/poses/skeleton'"
        ).fetchone()
    assert rows["pose_perception/msg/PersonArray"] == "ros2msg"
    assert rows["pose_perception/msg/Skeleton"] == "ros2msg"
    assert rows["visualization_msgs/msg/MarkerArray"] == "ros2msg"
    assert "Person[] people" in definition
    assert "transient_local" in qos


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_raw_images(
    storage: str,
    tmp_path: Path,
    model: Path,
    config_file: Path,
    pipeline: PosePipeline,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sent = _raw_messages()
    source = _write_bag(tmp_path / "in", storage, RAW_TOPIC, sent)
    output = tmp_path / "out"
    assert _bag_cli(source, output, model, config_file, "--image-topic", RAW_TOPIC) == 0

    summary = capsys.readouterr().out
    assert "5 frames processed" in summary and "1 skipped (truncated_data: 1)" in summary
    assert "5 people" in summary and str(output) in summary
    assert bag.input_storage(output) == storage  # default: the input's storage
    received, connections = _read(output)
    assert set(connections) == {"/poses", "/poses/markers", "/poses/skeleton"}
    _check_poses(received, sent, pipeline, frame_id="camera_optical")
    _check_depth(received, focal_px=100.0)  # from the CameraInfo beside the image topic
    _check_skeleton(received)
    _check_msgdefs(connections)
    if storage == "mcap":
        schemas = _mcap_schemas(next(output.glob("*.mcap")))
        for name in (bag.PERSON_ARRAY, bag.SKELETON, bag.MARKER_ARRAY):
            encoding, data = schemas[name]
            assert encoding == "ros2msg" and data.strip()
    else:
        _check_sqlite_definitions(next(output.glob("*.db3")))


def test_compressed_images_copied_to_other_storage(
    tmp_path: Path, model: Path, pipeline: PosePipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """CompressedImage input (MCAP) -> sqlite3 output with the images and camera info copied."""
    sent = _compressed_messages()
    source = _write_bag(tmp_path / "in", "mcap", COMPRESSED_TOPIC, sent)
    config = tmp_path / "bag.yaml"
    config.write_text(
        "/**:\n  ros__parameters:\n    output:\n      min_person_score: 0.0\n      frame_id: robot_camera\n"
        "    detector:\n      type: full_frame\n      interval: 1\n      pose_nms_threshold: 1.0\n"
        "    smoothing:\n      enabled: false\n",
        encoding="utf-8",
    )
    output = tmp_path / "out"
    args = ["--image-topic", COMPRESSED_TOPIC.lstrip("/"), "--storage", "sqlite3", "--copy-images"]
    assert _bag_cli(source, output, model, config, *args) == 0

    assert "3 frames processed" in capsys.readouterr().out
    assert bag.input_storage(output) == "sqlite3"
    received, connections = _read(output)
    _check_poses(received, sent, pipeline, frame_id="robot_camera")
    copies = _on(received, COMPRESSED_TOPIC)
    assert [c.log_ns for c in copies] == [s.log_ns for s in sent]  # all of them, bad one included
    for copy, s in zip(copies, sent, strict=True):
        np.testing.assert_array_equal(copy.msg.data, s.msg.data)
    assert len(_on(received, INFO_TOPIC)) == 1
    assert "/chatter" not in connections
    assert connections[COMPRESSED_TOPIC].msgdef.data.strip()


def test_max_frames(
    tmp_path: Path, model: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write_bag(tmp_path / "in", "mcap", RAW_TOPIC, _raw_messages(), camera_info=False)
    output = tmp_path / "out"
    assert _bag_cli(source, output, model, config_file, "--image-topic", RAW_TOPIC, "--max-frames", "2") == 0
    assert "2 frames processed" in capsys.readouterr().out
    received, _ = _read(output)
    assert len(_on(received, "/poses")) == 2
    _check_depth(received, focal_px=0.5 * W / math.tan(math.radians(60.0) / 2))  # nominal camera


def test_refuses_to_overwrite(
    tmp_path: Path, model: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write_bag(tmp_path / "in", "mcap", RAW_TOPIC, _raw_messages()[:1])
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine", encoding="utf-8")
    assert _bag_cli(source, output, model, config_file, "--image-topic", RAW_TOPIC) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and str(output) in err
    assert (output / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert _bag_cli(source, source, model, config_file, "--image-topic", RAW_TOPIC) == 2


def test_unknown_topic_lists_image_topics(
    tmp_path: Path, model: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write_bag(tmp_path / "in", "sqlite3", RAW_TOPIC, _raw_messages()[:1])
    for topic in ("/camera/image_rect", "/chatter"):
        assert _bag_cli(source, tmp_path / "out", model, config_file, "--image-topic", topic) == 2
        err = capsys.readouterr().err
        assert err.startswith("pose-perception: error:") and topic in err
        assert f"{RAW_TOPIC} (sensor_msgs/msg/Image)" in err
    assert not (tmp_path / "out").exists()


def test_missing_and_unreadable_input(tmp_path: Path, model: Path, config_file: Path) -> None:
    (tmp_path / "empty").mkdir()
    for source in (tmp_path / "nothing", tmp_path / "empty", tmp_path / "old.bag"):
        assert _bag_cli(source, tmp_path / "out", model, config_file, "--image-topic", RAW_TOPIC) == 2
    assert not (tmp_path / "out").exists()


def test_undeserializable_message_is_skipped(tmp_path: Path, model: Path, config_file: Path) -> None:
    """CDR bytes that do not decode (a cut-off recording) are counted, not fatal."""
    sent = _raw_messages()[:2]
    path = tmp_path / "in"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection(RAW_TOPIC, "sensor_msgs/msg/Image", typestore=STORE)
        raw = bytes(STORE.serialize_cdr(sent[0].msg, "sensor_msgs/msg/Image"))
        writer.write(conn, sent[0].log_ns, raw[:30])
        writer.write(conn, sent[1].log_ns, STORE.serialize_cdr(sent[1].msg, "sensor_msgs/msg/Image"))
    config = load_config(config_file)
    config.estimator.model = str(model)
    options = bag.BagOptions(image_topic=RAW_TOPIC, progress=False)
    stats = bag.process_bag(path, tmp_path / "out", config, options)
    assert stats.frames == 1 and dict(stats.skipped) == {bag.UNDESERIALIZABLE: 1}


def test_image_type_without_stored_definition(
    tmp_path: Path, model: Path, config_file: Path, pipeline: PosePipeline
) -> None:
    """Only some connections carry a definition (rosbag2 leaves unknown ones empty): use Jazzy's."""
    sent = _raw_messages()
    source = _write_bag(tmp_path / "in", "sqlite3", RAW_TOPIC, sent)
    with sqlite3.connect(next(source.glob("*.db3"))) as db:
        db.execute("DELETE FROM message_definitions WHERE topic_type = 'sensor_msgs/msg/Image'")
    output = tmp_path / "out"
    assert _bag_cli(source, output, model, config_file, "--image-topic", RAW_TOPIC, "--copy-images") == 0
    received, connections = _read(output)
    _check_poses(received, sent, pipeline, frame_id="camera_optical")
    assert "uint32 height" in connections[RAW_TOPIC].msgdef.data  # the copy gained a definition


def test_msg_dir_and_typestore() -> None:
    msg_dir = bag.find_msg_dir()
    assert (msg_dir / "PersonArray.msg").is_file()
    store = bag.pose_typestore(msg_dir)
    assert "pose_perception/msg/Keypoint" in store.types
    assert store.hash_rihs01("pose_perception/msg/PersonArray").startswith("RIHS01_")


def test_camera_info_topic_beside_image() -> None:
    def conn(topic: str, msgtype: str) -> Any:
        return type("C", (), {"topic": topic, "msgtype": msgtype})()

    connections = [
        conn("/cam/camera_info", bag.CAMERA_INFO),
        conn("/cam/image_raw/camera_info", bag.CAMERA_INFO),
    ]
    found = bag.camera_info_connections(connections, "/cam/image_raw/compressed", bag.COMPRESSED_IMAGE)
    assert [c.topic for c in found] == ["/cam/camera_info"]
    found = bag.camera_info_connections(connections, "/cam/image_raw", bag.IMAGE)
    assert [c.topic for c in found] == ["/cam/camera_info"]


def test_bag_module_does_not_import_rclpy() -> None:
    code = "import sys, pose_perception.ros.bag; assert 'rclpy' not in sys.modules, 'rclpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
