"""The new model kinds end to end through the real node and the bag mode: a K=133 whole-body
model (RTMW at RTMPose-t width, skeleton coco_wholebody) and a one-stage RTMO-t (no person
detector), both built in the test and exported to ONNX with our metadata.

Two node starts (one per model) and one bag conversion per model; the expected poses come from
the same model files run directly (``PoseEstimator`` / ``OneStageEstimator``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from ros_harness import NodeProcess, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

torch = pytest.importorskip("torch")

H, W = 240, 320
FRAME = "camera_color_optical_frame"
T0 = 1_700_000_000_000_000_000
TOPIC = "/camera/image_raw"


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), np.uint8)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from family_models import few_people_rtmo, rtmo_onnx, wholebody_onnx

    folder = tmp_path_factory.mktemp("family")
    return {
        "wholebody": wholebody_onnx(folder / "rtmw-t-test.onnx"),
        "rtmo": rtmo_onnx(few_people_rtmo(_image()), "rtmo-t", folder / "rtmo-t.onnx"),
    }


def _expected(kind: str, model: Path) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (N,4), keypoints (N,K,2)) the model gives on ``_image()``, the order aside."""
    from pose_perception import OneStageEstimator, PoseEstimator
    from pose_perception.pipeline import full_frame_box

    image = _image()
    if kind == "rtmo":
        boxes, _, keypoints, _ = OneStageEstimator(model, backend="onnxruntime").estimate(image)
        return boxes, keypoints
    box = full_frame_box(image.shape)
    return box, PoseEstimator(str(model)).estimate(image, box)[0]


# What each model needs in the node/bag config: the RTMO runs with a detector that cannot load
# (it must not be built); the whole-body model on one full-frame box per frame.
SETTINGS = {
    "rtmo": {"detector.type": "onnx", "detector.model": "/nonexistent/detector.onnx"},
    "wholebody": {"detector.type": "full_frame", "detector.interval": 1},
}
SKELETONS = {"rtmo": ("coco17", 17), "wholebody": ("coco_wholebody", 133)}
COMMON = {"output.min_person_score": 0.0, "detector.pose_nms_threshold": 1.0, "smoothing.enabled": False}


def _check_people(kind: str, model: Path, people: list[Any]) -> None:
    """The people of one /poses message are the model's on ``_image()`` (matched by box)."""
    boxes, keypoints = _expected(kind, model)
    assert len(people) == len(boxes) > 0
    got_boxes = np.array([list(p.bbox) for p in people], np.float64)
    for got_box, person in zip(got_boxes, people, strict=True):
        row = int(np.argmin(np.abs(boxes - got_box).max(axis=1)))
        np.testing.assert_allclose(got_box, boxes[row], atol=1e-3)
        got = np.array([[k.x, k.y] for k in person.keypoints])
        assert got.shape == (SKELETONS[kind][1], 2)
        np.testing.assert_allclose(got, keypoints[row], atol=1e-3)


@pytest.mark.parametrize("kind", ["wholebody", "rtmo"])
def test_node_publishes_the_model_s_people_and_skeleton(
    kind: str, models: dict[str, Path], client: Any
) -> None:
    from sensor_msgs.msg import Image

    from pose_perception.msg import PersonArray, Skeleton
    from pose_perception.ros.qos import LATCHED_QOS

    node = NodeProcess({"estimator.model": str(models[kind]), **COMMON, **SETTINGS[kind]})
    try:
        node.wait_ready(timeout=120)
        poses = client.subscribe(PersonArray, "/poses")
        skeleton = client.subscribe(Skeleton, "/poses/skeleton", LATCHED_QOS)
        publisher = client.node.create_publisher(Image, "/image", 10)
        wait_for(lambda: publisher.get_subscription_count() > 0, 20, "the node's image subscription")
        image = _image()
        msg = Image(height=H, width=W, encoding="bgr8", step=3 * W, data=image.tobytes())
        msg.header.frame_id = FRAME
        msg.header.stamp.sec = 1_700_000_000

        def published() -> bool:
            if not poses:
                publisher.publish(msg)  # best effort: the first ones may be lost
            return bool(poses)

        wait_for(published, 120, "/poses", interval=1.0)
        wait_for(lambda: skeleton, 20, "/poses/skeleton")
    finally:
        code = node.stop()
    assert code == 0, node.log
    name, count = SKELETONS[kind]
    assert poses[0].skeleton == name and skeleton[0].name == name
    assert len(skeleton[0].keypoint_names) == count
    _check_people(kind, models[kind], list(poses[0].people))
    if kind == "rtmo":
        assert "no person detector; the detector.* settings other than max_people are unused" in node.log


def _yaml(settings: dict[str, Any]) -> str:
    """``{"output.min_person_score": 0.0, ...}`` as the nested YAML of a config file."""
    sections: dict[str, dict[str, Any]] = {}
    for key, value in settings.items():
        section, name = key.split(".")
        sections.setdefault(section, {})[name] = value
    return yaml.safe_dump(sections)


@pytest.mark.parametrize("kind", ["wholebody", "rtmo"])
def test_bag_mode(
    kind: str, models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("rosbags")
    from rosbags.highlevel import AnyReader
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from pose_perception import cli

    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")
    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types
    msgtype = "sensor_msgs/msg/Image"
    source = tmp_path / "in"
    with Writer(source, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection(TOPIC, msgtype, typestore=store)
        for i in range(2):
            sec, nanosec = divmod(T0 + i * 100_000_000, 1_000_000_000)
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=FRAME
            )
            image = types[msgtype](
                header=header, height=H, width=W, encoding="bgr8", is_bigendian=0, step=3 * W,
                data=_image().reshape(-1).copy(),
            )  # fmt: skip
            writer.write(connection, T0 + i * 100_000_000, store.serialize_cdr(image, msgtype))
    config = tmp_path / "config.yaml"
    config.write_text(_yaml({**COMMON, **SETTINGS[kind]}), encoding="utf-8")
    output = tmp_path / "out"
    assert cli.main(["bag", str(source), str(output), "--model", str(models[kind]), "--image-topic", TOPIC,
                     "--config", str(config)]) == 0  # fmt: skip
    with AnyReader([output]) as reader:
        messages = [(c.topic, reader.deserialize(raw, c.msgtype)) for c, _, raw in reader.messages()]
    poses = [msg for topic, msg in messages if topic == "/poses"]
    (skeleton,) = [msg for topic, msg in messages if topic == "/poses/skeleton"]
    name, count = SKELETONS[kind]
    assert len(poses) == 2 and all(p.skeleton == name for p in poses)
    assert skeleton.name == name and len(skeleton.keypoint_names) == count
    for msg in poses:
        _check_people(kind, models[kind], list(msg.people))


def test_node_refuses_a_hand_model_on_the_person_detector(tmp_path: Path) -> None:
    """What the node says at startup (no node process needed: the same ``load_pipeline``)."""
    from family_models import hand_onnx

    from pose_perception.config import Config
    from pose_perception.ros.startup import StartupError, load_pipeline

    config = Config()
    config.estimator.model = str(hand_onnx(tmp_path / "hand.onnx"))
    config.detector.type = "hog"
    with pytest.raises(StartupError, match=r"hand\.onnx': skeleton hand21: a hand model is not a person"):
        load_pipeline(config)
    config.detector.type = "full_frame"  # a camera looking at one hand
    assert load_pipeline(config).skeleton.name == "hand21"
