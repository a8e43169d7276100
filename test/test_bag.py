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
from pose_perception.ros import bag, bag_io
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
        image = bag_io.decode_image(s.msg, s.msg.__msgtype__, 1 << 24)
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
    assert bag_io.input_storage(output) == storage  # default: the input's storage
    received, connections = _read(output)
    assert set(connections) == {"/poses", "/poses/markers", "/poses/skeleton"}
    _check_poses(received, sent, pipeline, frame_id="camera_optical")
    _check_depth(received, focal_px=100.0)  # from the CameraInfo beside the image topic
    _check_skeleton(received)
    _check_msgdefs(connections)
    if storage == "mcap":
        schemas = _mcap_schemas(next(output.glob("*.mcap")))
        for name in (bag_io.PERSON_ARRAY, bag_io.SKELETON, bag_io.MARKER_ARRAY):
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
    assert bag_io.input_storage(output) == "sqlite3"
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
    msg_dir = bag_io.find_msg_dir()
    assert (msg_dir / "PersonArray.msg").is_file()
    store = bag_io.pose_typestore(msg_dir)
    assert "pose_perception/msg/Keypoint" in store.types
    assert store.hash_rihs01("pose_perception/msg/PersonArray").startswith("RIHS01_")


def test_camera_info_topic_beside_image() -> None:
    def conn(topic: str, msgtype: str) -> Any:
        return type("C", (), {"topic": topic, "msgtype": msgtype})()

    connections = [
        conn("/cam/camera_info", bag_io.CAMERA_INFO),
        conn("/cam/image_raw/camera_info", bag_io.CAMERA_INFO),
    ]
    found = bag_io.camera_info_connections(connections, "/cam/image_raw/compressed", bag_io.COMPRESSED_IMAGE)
    assert [c.topic for c in found] == ["/cam/camera_info"]
    found = bag_io.camera_info_connections(connections, "/cam/image_raw", bag_io.IMAGE)
    assert [c.topic for c in found] == ["/cam/camera_info"]


# ---------------------------------------------------------------------------- 3D

DEPTH_TOPIC = "/camera/depth/image_raw"
EYES_AND_EARS = ("left_eye", "right_eye", "left_ear", "right_ear")  # no H36M joint: no lifter 3D
LIFTED = ~np.isin(COCO17.keypoint_names, EYES_AND_EARS)
HIPS = [11, 12]


@pytest.fixture(scope="module")
def rendered() -> Any:
    """One person 2.9 m away with all 17 joints visible: image, depth, intrinsics, true joints."""
    from pose_perception.synthetic.coco import render_example

    return render_example(2, 0, (640, 480), 1)[1]


@pytest.fixture(scope="module")
def oracle(rendered: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pose ONNX answering the rendered person's true keypoints for a full-frame box (score
    1 for visible joints, 0.1 for hidden ones): the 3D can be checked against the truth."""
    from onnx_graphs import oracle_pose_onnx

    label = rendered.people[0]
    path = tmp_path_factory.mktemp("oracle") / "oracle_pose.onnx"
    path.write_bytes(oracle_pose_onnx(label.keypoints, label.visibility, rendered.image.shape))
    return path


def _rgbd_messages(rendered: Any, stamp_ns: int) -> tuple[Any, Any, Any]:
    """The rendered frame as colour Image, 16UC1 depth Image (mm) and CameraInfo (its K)."""
    height, width = rendered.image.shape[:2]
    types = STORE.types
    image = types["sensor_msgs/msg/Image"](
        header=_header(stamp_ns), height=height, width=width, encoding="bgr8", is_bigendian=0,
        step=width * 3, data=rendered.image.reshape(-1).copy(),
    )  # fmt: skip
    mm = rendered.depth_mm().astype("<u2")
    depth = types["sensor_msgs/msg/Image"](
        header=_header(stamp_ns), height=height, width=width, encoding="16UC1", is_bigendian=0,
        step=width * 2, data=np.frombuffer(mm.tobytes(), np.uint8).copy(),
    )  # fmt: skip
    info = _camera_info(stamp_ns)
    info.width, info.height, info.k = width, height, np.asarray(rendered.K, np.float64).reshape(-1)
    return image, depth, info


def _write_rgbd_bag(
    path: Path,
    rendered: Any,
    frames: int,
    depth_skew_ns: int = 5_000_000,
    without_depth: tuple[int, ...] = (),
) -> list[int]:
    """``frames`` copies of the rendered frame, 100 ms apart: image, CameraInfo and (``depth_skew_ns``
    later, except for the frames in ``without_depth``) depth. Returns the image log times."""
    image_types = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "sensor_msgs/msg/Image")
    log_times = []
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = [
            writer.add_connection(topic, msgtype, typestore=STORE)
            for topic, msgtype in zip((RAW_TOPIC, INFO_TOPIC, DEPTH_TOPIC), image_types, strict=True)
        ]
        for i in range(frames):
            stamp = T0 + i * 100_000_000
            image, depth, info = _rgbd_messages(rendered, stamp)
            depth.header = _header(stamp + depth_skew_ns)
            writer.write(conns[1], stamp + 1_000_000, STORE.serialize_cdr(info, image_types[1]))
            writer.write(conns[0], stamp + 2_000_000, STORE.serialize_cdr(image, image_types[0]))
            log_times.append(stamp + 2_000_000)
            if i not in without_depth:
                writer.write(conns[2], stamp + 3_000_000, STORE.serialize_cdr(depth, image_types[2]))
    return log_times


def _published_3d(received: list[Received]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per /poses message with one person: 2D keypoints, scores, 3D positions and has_position."""
    out = []
    for poses in _on(received, "/poses"):
        assert len(poses.msg.people) == 1
        keypoints = poses.msg.people[0].keypoints
        out.append(
            (
                np.array([[k.x, k.y] for k in keypoints]),
                np.array([k.score for k in keypoints]),
                np.array([[k.position.x, k.position.y, k.position.z] for k in keypoints]),
                np.array([k.has_position for k in keypoints]),
            )
        )
    return out


def _reprojection_px(xyz: np.ndarray, keypoints: np.ndarray, k: np.ndarray) -> np.ndarray:
    uvw = xyz @ np.asarray(k, np.float64).T
    return np.linalg.norm(uvw[:, :2] / uvw[:, 2:3] - keypoints, axis=1)


def test_lifter_3d_in_poses_placed_with_the_camera_info(
    tmp_path: Path, rendered: Any, oracle: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--three-d lifter: every /poses keypoint the lifter has carries a position that
    projects onto its 2D keypoint with the CameraInfo beside the image topic, at about the
    true depth; eyes and ears have none. The markers are drawn at those positions."""
    source = tmp_path / "in"
    log_times = _write_rgbd_bag(source, rendered, frames=4)
    output = tmp_path / "out"
    assert (
        _bag_cli(source, output, oracle, config_file, "--image-topic", RAW_TOPIC, "--three-d", "lifter") == 0
    )
    assert "4 frames processed" in (summary := capsys.readouterr().out) and "3D: lifter" in summary
    received, _ = _read(output)
    assert [p.log_ns for p in _on(received, "/poses")] == log_times
    label = rendered.people[0]
    errors, depth_errors = [], []
    for keypoints, scores, xyz, valid in _published_3d(received):
        np.testing.assert_allclose(keypoints, label.keypoints, atol=0.6)  # the oracle
        assert (valid == LIFTED).all() and np.isfinite(xyz).all() and (xyz[~valid] == 0).all()
        confident = valid & (scores >= 0.3)
        errors.append(_reprojection_px(xyz[confident], keypoints[confident], rendered.K))
        depth_errors.append(xyz[HIPS, 2].mean() / label.keypoints_3d[HIPS, 2].mean() - 1.0)
    reprojection = np.concatenate(errors)
    print(
        f"\nbag --three-d lifter: reprojection with the CameraInfo mean {reprojection.mean():.1f} px, "
        f"max {reprojection.max():.1f}; root depth error {min(depth_errors) * 100:+.1f} .. "
        f"{max(depth_errors) * 100:+.1f} %"
    )
    assert reprojection.mean() < 10.0 and reprojection.max() < 25.0
    assert max(abs(e) for e in depth_errors) < 0.15
    published = _published_3d(received)
    for markers, (_, _, xyz, valid) in zip(_on(received, "/poses/markers"), published, strict=True):
        (spheres,) = [m for m in markers.msg.markers if m.action == 0 and m.type == 7]  # SPHERE_LIST
        joints = np.array([[q.x, q.y, q.z] for q in spheres.points])
        assert len(joints) >= 10  # drawn at the published 3D positions, not at an assumed distance
        assert np.abs(joints[:, None] - xyz[valid][None]).max(axis=2).min(axis=1).max() < 1e-6


def test_depth_3d_synchronised_with_depth_and_camera_info(
    tmp_path: Path, rendered: Any, oracle: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--three-d depth: each image is matched with the depth image (5 ms later) and the
    CameraInfo of its stamp; the joints come from the depth at their keypoints, close to the
    true joint centres. An image whose depth never came is not processed (as in the node)."""
    source = tmp_path / "in"
    log_times = _write_rgbd_bag(source, rendered, frames=5, without_depth=(2,))
    output = tmp_path / "out"
    args = ("--image-topic", RAW_TOPIC, "--three-d", "depth", "--depth-topic", DEPTH_TOPIC, "--copy-images")
    assert _bag_cli(source, output, oracle, config_file, *args) == 0
    summary = capsys.readouterr().out
    assert "4 frames processed" in summary and f"({bag.UNMATCHED}: 1)" in summary and "3D: depth" in summary
    received, connections = _read(output)
    assert DEPTH_TOPIC in connections and len(_on(received, DEPTH_TOPIC)) == 4  # copied with the images
    assert [p.log_ns for p in _on(received, "/poses")] == log_times[:2] + log_times[3:]
    label = rendered.people[0]
    for keypoints, _, xyz, valid in _published_3d(received):
        np.testing.assert_allclose(keypoints, label.keypoints, atol=0.6)
        assert valid.sum() >= 12 and np.isfinite(xyz[valid]).all()
        error_m = np.linalg.norm(xyz[valid] - label.keypoints_3d[valid], axis=1)
        assert np.median(error_m) < 0.05 and error_m.max() < 0.25
    print(
        f"\nbag --three-d depth: {valid.sum()} joints with depth, error to the true joint centres "
        f"median {np.median(error_m) * 1e3:.0f} mm, max {error_m.max() * 1e3:.0f} mm"
    )


DEPTH_INFO_TOPIC = "/camera/depth/camera_info"


def test_unregistered_depth_reprojected_with_the_depth_camera_info_and_extrinsic(
    tmp_path: Path, oracle: Path, config_file: Path, render_rig_depth: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A depth camera of its own (512x384, other intrinsics, 5 cm across, tilted) with its
    CameraInfo on a fourth topic: matched by stamp, reprojected into the colour camera with
    depth.extrinsic_* from the config, joints near the true centres (as the node does)."""
    from pose_perception.synthetic.coco import render_example

    scene, rendered = render_example(2, 0, (640, 480), 1)
    rig = render_rig_depth(scene)
    source = tmp_path / "in"
    topics = ((RAW_TOPIC, "sensor_msgs/msg/Image"), (INFO_TOPIC, "sensor_msgs/msg/CameraInfo"))
    topics += ((DEPTH_TOPIC, "sensor_msgs/msg/Image"), (DEPTH_INFO_TOPIC, "sensor_msgs/msg/CameraInfo"))
    with Writer(source, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = [writer.add_connection(topic, msgtype, typestore=STORE) for topic, msgtype in topics]
        for i in range(3):
            stamp = T0 + i * 100_000_000
            image, _, info = _rgbd_messages(rendered, stamp)
            depth_w, depth_h = rig.camera.width, rig.camera.height
            mm = rig.depth_mm().astype("<u2")
            depth = STORE.types["sensor_msgs/msg/Image"](
                header=_header(stamp + 4_000_000, "depth_optical"), height=depth_h, width=depth_w,
                encoding="16UC1", is_bigendian=0, step=depth_w * 2,
                data=np.frombuffer(mm.tobytes(), np.uint8).copy(),
            )  # fmt: skip
            depth_info = _camera_info(stamp + 4_000_000)
            depth_info.header.frame_id = "depth_optical"
            depth_info.width, depth_info.height = depth_w, depth_h
            depth_info.k = np.array(
                [rig.camera.fx, 0, rig.camera.cx, 0, rig.camera.fy, rig.camera.cy, 0, 0, 1.0]
            )
            for conn, msg, offset in zip(conns, (image, info, depth, depth_info), (2, 1, 3, 3), strict=True):
                writer.write(conn, stamp + offset * 1_000_000, STORE.serialize_cdr(msg, conn.msgtype))
    config = tmp_path / "unregistered.yaml"
    translation = ", ".join(f"{v:.6f}" for v in rig.translation)
    rotation = ", ".join(f"{v:.8f}" for v in rig.quaternion_xyzw)
    config.write_text(
        config_file.read_text(encoding="utf-8")
        + f"depth:\n  extrinsic_translation_m: [{translation}]\n  extrinsic_rotation_xyzw: [{rotation}]\n",
        encoding="utf-8",
    )
    output = tmp_path / "out"
    args = ("--image-topic", RAW_TOPIC, "--three-d", "depth", "--depth-topic", DEPTH_TOPIC)
    assert _bag_cli(source, output, oracle, config, *args, "--depth-camera-info-topic", DEPTH_INFO_TOPIC) == 0
    assert "3 frames processed" in capsys.readouterr().out
    label = rendered.people[0]
    published = _published_3d(_read(output)[0])
    assert len(published) == 3
    for _, _, xyz, valid in published:
        assert valid.sum() >= 10 and np.isfinite(xyz[valid]).all()
        error_m = np.linalg.norm(xyz[valid] - label.keypoints_3d[valid], axis=1)
        assert np.median(error_m) < 0.05 and error_m.max() < 0.25
    with capsys.disabled():
        print(
            f"\nbag, unregistered depth: {valid.sum()} joints with depth, error to the true joint centres "
            f"median {np.median(error_m) * 1e3:.0f} mm, max {error_m.max() * 1e3:.0f} mm"
        )
    # Without the depth camera's CameraInfo in the bag: a clear error naming the topic.
    missing = tmp_path / "out2"
    code = _bag_cli(source, missing, oracle, config, *args, "--depth-camera-info-topic", "/nope/camera_info")
    assert code == 2 and "/nope/camera_info" in capsys.readouterr().err


def test_depth_3d_rejected_frames_keep_their_2d(
    tmp_path: Path, rendered: Any, oracle: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A depth image of another size than the colour image (not registered): /poses still
    goes out, in 2D, and the summary counts the frames and says why."""
    source = tmp_path / "in"
    small = type(rendered)(
        rendered.image,
        rendered.depth[::2, ::2],
        rendered.instance,
        rendered.people,
        rendered.camera,
        rendered.t,
    )
    with Writer(source, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        image_conn = writer.add_connection(RAW_TOPIC, "sensor_msgs/msg/Image", typestore=STORE)
        info_conn = writer.add_connection(INFO_TOPIC, "sensor_msgs/msg/CameraInfo", typestore=STORE)
        depth_conn = writer.add_connection(DEPTH_TOPIC, "sensor_msgs/msg/Image", typestore=STORE)
        image, _, info = _rgbd_messages(rendered, T0)
        depth = _rgbd_messages(small, T0)[1]
        depth.height, depth.width, depth.step = 240, 320, 640
        for conn, msg in ((info_conn, info), (image_conn, image), (depth_conn, depth)):
            writer.write(conn, T0, STORE.serialize_cdr(msg, conn.msgtype))
    output = tmp_path / "out"
    args = ("--image-topic", RAW_TOPIC, "--three-d", "depth", "--depth-topic", DEPTH_TOPIC)
    assert _bag_cli(source, output, oracle, config_file, *args) == 0
    assert "(1 frames 2D only: depth_size_mismatch: 1)" in capsys.readouterr().out
    ((_, _, _, valid),) = _published_3d(_read(output)[0])
    assert not valid.any()


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            ["--three-d", "lifter", "--lifter-model", "{tmp}/none.onnx"],
            "lifter model not found: {tmp}/none.onnx",
        ),
        (["--three-d", "lifter", "--lifter-model", "{model}"], "{model}: not a lifter export"),
        (["--three-d", "lifter", "--skeleton", "h36m17"], "the lifter reads COCO-17 keypoints"),
        (
            ["--three-d", "depth", "--depth-topic", "/camera/nothing"],
            "depth topic /camera/nothing is not in the bag",
        ),
        (
            ["--three-d", "depth", "--depth-topic", INFO_TOPIC],
            "is sensor_msgs/msg/CameraInfo, not a sensor_msgs/Image",
        ),
        (["--three-d", "depth"], "depth topic depth is not in the bag"),
        (["--depth-topic", DEPTH_TOPIC], "--depth-topic only applies with --three-d depth"),
        (["--lifter-model", "x.onnx"], "--lifter-model only applies with --three-d lifter"),
    ],
)
def test_three_d_user_errors(
    tmp_path: Path,
    rendered: Any,
    model: Path,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    problem: str,
) -> None:
    source = tmp_path / "in"
    _write_rgbd_bag(source, rendered, frames=1)
    fields = {"tmp": tmp_path, "model": model}
    args = [a.format(**fields) for a in extra]
    assert _bag_cli(source, tmp_path / "out", model, config_file, "--image-topic", RAW_TOPIC, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("pose-perception: error:") and problem.format(**fields) in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_depth_mode_needs_camera_info(
    tmp_path: Path, model: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write_bag(tmp_path / "in", "mcap", RAW_TOPIC, _raw_messages()[:1], camera_info=False)
    args = ("--image-topic", RAW_TOPIC, "--three-d", "depth", "--depth-topic", RAW_TOPIC)
    assert _bag_cli(source, tmp_path / "out", model, config_file, *args) == 2
    assert f"needs the colour camera's CameraInfo on {INFO_TOPIC}" in capsys.readouterr().err


def test_bag_module_does_not_import_rclpy() -> None:
    code = "import sys, pose_perception.ros.bag; assert 'rclpy' not in sys.modules, 'rclpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_corrupt_sqlite_bag_keeps_the_output_converted_so_far(
    tmp_path: Path, model: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """64 KiB overwritten mid-file: a one-line error naming the bag and the message reached,
    exit 1, and the output bag closed with the frames converted before it (issue 14, item 10)."""
    sent = [
        Sent(T0 + i * 10**8 + 1, T0 + i * 10**8, _image(T0 + i * 10**8, _scene(i % 5), "bgr8"), valid=True)
        for i in range(40)
    ]
    source = _write_bag(tmp_path / "in", "sqlite3", RAW_TOPIC, sent, camera_info=False)
    db = next(source.glob("*.db3"))
    size = db.stat().st_size
    assert size > 4 * 65536
    with db.open("r+b") as f:
        f.seek(size // 2)
        f.write(b"\xff" * 65536)
    output = tmp_path / "out"
    assert _bag_cli(source, output, model, config_file, "--image-topic", RAW_TOPIC) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"pose-perception: error: {source}: cannot read message ")
    assert "kept what was converted before it" in err
    received, _ = _read(output)
    poses = _on(received, "/poses")
    assert 0 < len(poses) < len(sent)
    assert f"/poses {len(poses)}" in err


def test_input_storage_reads_metadata_bounded(tmp_path: Path) -> None:
    """metadata.yaml comes with the bag: read with the config loader's size bound, not parsed whole."""
    metadata = "rosbag2_bagfile_information:\n  storage_identifier: sqlite3\n"
    (tmp_path / "metadata.yaml").write_text(metadata, encoding="utf-8")
    assert bag_io.input_storage(tmp_path) == "sqlite3"
    (tmp_path / "metadata.yaml").write_text(metadata + "#" * (2 << 20) + "\n", encoding="utf-8")
    assert bag_io.input_storage(tmp_path) == "mcap"  # too large to parse: the default
