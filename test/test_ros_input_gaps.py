"""Issue 14, item 19: images lost before the node (DDS without the shared-memory profile) show
up in /diagnostics as ``frames_missing_input``, counted from gaps in ``header.stamp``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ros_harness import NodeProcess, TestClient, diagnostic_values, wait_for

pytestmark = pytest.mark.ros

PERIOD_NS = 33_333_333  # a 30 Hz camera
T0 = 1_700_000_000_000_000_000


@pytest.fixture
def node(random_rtmpose_t_onnx: Path, rclpy_module: Any) -> Iterator[NodeProcess]:
    params = {"estimator.model": str(random_rtmpose_t_onnx), "detector.type": "full_frame"}
    process = NodeProcess(params)
    process.wait_ready()
    yield process
    assert process.stop() == 0, process.log


def _image(stamp_ns: int) -> Any:
    from sensor_msgs.msg import Image

    pixels = np.full((48, 64, 3), 120, np.uint8)
    msg = Image(height=48, width=64, encoding="bgr8", step=64 * 3)
    msg.data = pixels.tobytes()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg


def _send_and_wait(client: TestClient, publisher: Any, poses: list[Any], msg: Any) -> None:
    """One frame at a time, each answered before the next: nothing is lost on the way here,
    so the only gaps are the ones the test leaves in the stamps."""
    stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)

    def answered() -> bool:
        return any((p.header.stamp.sec, p.header.stamp.nanosec) == stamp for p in poses)

    deadline = time.monotonic() + 30
    while not answered() and time.monotonic() < deadline:
        publisher.publish(msg)  # a resend carries the same stamp: not a gap, not counted twice
        time.sleep(0.15)
    assert answered(), f"no answer to the frame stamped {stamp}"


def test_a_gap_in_the_stamps_is_counted_as_missing_input(client: TestClient, node: NodeProcess) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image

    from pose_perception.msg import PersonArray

    poses = client.subscribe(PersonArray, "/poses")
    diagnostics = client.subscribe(DiagnosticArray, "/diagnostics")
    publisher = client.node.create_publisher(Image, "/image", 10)
    wait_for(lambda: publisher.get_subscription_count() > 0, 20, "the node's image subscription")
    lost = {15, 16, 17, 25}
    for index in range(30):
        if index not in lost:
            _send_and_wait(client, publisher, poses, _image(T0 + index * PERIOD_NS))

    def counted() -> dict[str, str] | None:
        values = diagnostic_values(diagnostics)
        return values if int(values.get("frames_received", 0)) >= 26 else None

    values = wait_for(counted, 10, "diagnostics after the last frame")
    assert values["frames_missing_input"] == str(len(lost))
    assert float(values["input_period_ms"]) == pytest.approx(PERIOD_NS * 1e-6, abs=1.0)
