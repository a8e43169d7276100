"""Stopping rtmpose_node the way ``ros2 launch`` and operators do: several SIGINT/SIGTERM
0-50 ms apart, at startup, while frames flow and during the shutdown itself. Every stop
exits 0 without a traceback or an ERROR line (issue 14, items 1-2)."""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from ros_harness import REPO_ROOT, NodeProcess, TestClient, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

# Tries per case, with random gaps (no timing asserted): 3 in the suite; the acceptance
# run uses 20 (POSE_PERCEPTION_SHUTDOWN_TRIES=20 pytest test/test_ros_shutdown.py).
TRIES = int(os.environ.get("POSE_PERCEPTION_SHUTDOWN_TRIES", "3"))


@pytest.fixture
def start_node(random_rtmpose_t_onnx: Any, rclpy_module: Any) -> Iterator[Any]:
    started: list[NodeProcess] = []

    def start(command: list[str] | None = None) -> NodeProcess:
        node = NodeProcess(
            {
                "estimator.model": str(random_rtmpose_t_onnx),
                "detector.type": "full_frame",
                "output.min_person_score": 0.0,
            },
            command=command,
        )
        started.append(node)
        return node

    yield start
    for node in started:
        if node.alive():
            node.process.kill()
            node.process.wait()


def send_signals(node: NodeProcess, rng: random.Random, count: int) -> None:
    for _ in range(count):
        node.process.send_signal(rng.choice((signal.SIGINT, signal.SIGTERM)))
        time.sleep(rng.uniform(0.0, 0.05))


def assert_clean_exit(node: NodeProcess) -> None:
    code = node.wait_exit(30)
    assert code == 0, f"exit code {code}:\n{node.log}"
    assert "Traceback" not in node.log, node.log
    assert "[ERROR]" not in node.log, node.log
    assert "terminate called" not in node.log, node.log


def node_in_graph(client: TestClient) -> bool:
    return "rtmpose_node" in client.node.get_node_names()


def test_signals_at_startup_stop_the_node_cleanly(client, start_node):
    """Signals once the node exists in the ROS graph, before (or while) it reports ready."""
    rng = random.Random(1)
    for _ in range(TRIES):
        node = start_node()
        wait_for(lambda n=node: node_in_graph(client) or not n.alive(), 60, "the node in the ROS graph")
        time.sleep(rng.uniform(0.0, 0.05))
        send_signals(node, rng, rng.randint(1, 3))
        assert_clean_exit(node)
        wait_for(lambda: not node_in_graph(client), 20, "the node to leave the graph")


def catches_sigterm(node: NodeProcess) -> bool:
    """Our entry point's first lines have run: it catches SIGTERM (Python itself does not)."""
    with open(f"/proc/{node.process.pid}/status", encoding="ascii") as status:
        caught = next(line.split()[1] for line in status if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")
def test_signals_from_the_first_moment_stop_the_launch_entry_point_cleanly(client, start_node):
    """What ``ros2 launch`` runs (lib/pose_perception/rtmpose_node): signals from its first
    line to 1.5 s later, while Python imports, rclpy initialises or the model loads. (Before
    its first line the interpreter is still starting: nothing of ours can run then.)"""
    rng = random.Random(2)
    entry_point = [sys.executable, str(REPO_ROOT / "scripts" / "ros" / "rtmpose_node")]
    for delay in (0.0, 0.3, 0.6, 1.0, 1.5):
        node = start_node(entry_point)
        wait_for(lambda n=node: not n.alive() or catches_sigterm(n), 30, "the entry point's first lines")
        time.sleep(delay + rng.uniform(0.0, 0.05))
        send_signals(node, rng, rng.randint(1, 3))
        assert_clean_exit(node)
        wait_for(lambda: not node_in_graph(client), 20, "the node to leave the graph")


class ImageStream:
    """Publishes a 640x480 image at ~30 Hz from a thread until stopped."""

    def __init__(self, client: TestClient) -> None:
        from sensor_msgs.msg import Image

        image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
        self.msg = Image(height=480, width=640, encoding="bgr8", step=640 * 3, data=image.tobytes())
        self.publisher = client.node.create_publisher(Image, "/image", 10)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.publisher.publish(self.msg)
            time.sleep(0.033)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


@pytest.fixture
def stream(client: TestClient) -> Iterator[ImageStream]:
    s = ImageStream(client)
    yield s
    s.close()


@pytest.mark.parametrize("case", ["one_sigint", "several", "during_shutdown"])
def test_signals_while_frames_flow_stop_the_node_cleanly(client, start_node, stream, case):
    """Stopping mid-frame: the worker must not publish on the shut-down context (item 2),
    and the later signals must not break the cleanup (item 1)."""
    from pose_perception.msg import PersonArray

    poses = client.subscribe(PersonArray, "/poses")
    rng = random.Random(case)
    for _ in range(TRIES):
        node = start_node()
        node.wait_ready()
        seen = len(poses)
        wait_for(lambda s=seen: len(poses) > s, 30, "the node's answer to the streamed images")
        time.sleep(rng.uniform(0.0, 0.1))
        if case == "one_sigint":
            node.process.send_signal(signal.SIGINT)
        elif case == "several":
            send_signals(node, rng, rng.randint(2, 4))
        else:
            node.process.send_signal(signal.SIGINT)
            time.sleep(rng.uniform(0.05, 0.3))  # the node is now joining its worker / destroying itself
            send_signals(node, rng, rng.randint(1, 3))
        assert_clean_exit(node)
        wait_for(lambda: not node_in_graph(client), 20, "the node to leave the graph")
