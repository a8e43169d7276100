"""The hand stage through rtmpose_node over real ROS 2: ``hands.*`` parameters from the
config dataclass, /poses with body + left_hand + right_hand keypoints (59), the merged
schema on /poses/skeleton and ``hands_ms`` on /diagnostics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from test_ros_node import image_msg, make_node, publish_until, scene  # noqa: F401 (make_node: fixture)

from ros_harness import diagnostic_values, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope="module")
def hand_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from pose_perception.runtime.export import export_rtmpose
    from pose_perception.skeletons import get_skeleton

    path = tmp_path_factory.mktemp("hand") / "hand21-random.onnx"
    export_rtmpose(arch="rtmpose-t-256x256", output=path, skeleton=get_skeleton("hand21"), seed=0)
    return path


def test_the_node_publishes_body_and_hands(client, make_node, random_rtmpose_t_onnx, hand_model):  # noqa: F811
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image

    from pose_perception.config import Config, HandsConfig
    from pose_perception.msg import PersonArray, Skeleton
    from pose_perception.pipeline import PosePipeline
    from pose_perception.ros.qos import LATCHED_QOS

    # min_wrist_score 0: a random body model's wrists score low, and every hand must run here.
    make_node(hands__enabled=True, hands__model=str(hand_model), hands__min_wrist_score=0.0)
    poses = client.subscribe(PersonArray, "/poses")
    diagnostics = client.subscribe(DiagnosticArray, "/diagnostics")
    publisher = client.node.create_publisher(Image, "/image", 10)
    image = scene(0)
    publish_until(client, publisher, image_msg(image, 1_700_000_000_000_000_000), poses)
    skeleton = client.subscribe(Skeleton, "/poses/skeleton", LATCHED_QOS)
    wait_for(lambda: skeleton, 20, "the skeleton")

    msg = poses[0]
    assert msg.skeleton == "coco17_hands" and len(msg.people) == 1
    assert len(skeleton[0].keypoint_names) == 59 and skeleton[0].keypoint_names[17] == "left_hand_wrist"
    # What the same pipeline gives in this process (full-frame box, unsmoothed, as the node runs).
    config = Config()
    config.estimator = dataclasses.replace(config.estimator, model=str(random_rtmpose_t_onnx))
    config.detector = dataclasses.replace(config.detector, type="full_frame")
    config.output = dataclasses.replace(config.output, min_person_score=0.0)
    config.smoothing = dataclasses.replace(config.smoothing, enabled=False)
    config.hands = HandsConfig(enabled=True, model=str(hand_model), min_wrist_score=0.0)
    (expected,) = PosePipeline(config).process(image, 0.0)
    got = msg.people[0]
    np.testing.assert_allclose([[k.x, k.y] for k in got.keypoints], expected.keypoints, atol=1e-3)
    np.testing.assert_allclose([k.score for k in got.keypoints], expected.keypoint_scores, atol=1e-4)
    assert got.score == pytest.approx(float(np.mean(expected.keypoint_scores[:17])), rel=1e-4)

    values = wait_for(lambda: diagnostic_values(diagnostics).get("hands_ms_p50"), 30, "hands_ms")
    assert float(values) > 0
