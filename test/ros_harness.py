"""Multi-process ROS 2 test harness: the node under test runs in its own process (as in
production); the test talks to it over real DDS on loopback.

Rules from ../shared/notes/ros2-from-pypi.md: a unique ROS_DOMAIN_ID per run, traffic on
localhost only, wait for discovery before publishing, shut executors down before nodes.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def require_rclpy() -> Any:
    """rclpy, or a skip (a failure in CI, where the ROS tests must run)."""
    try:
        import rclpy
    except ImportError as err:
        if os.environ.get("CI"):
            pytest.fail(f"rclpy not importable in CI: {err}")
        pytest.skip(f"rclpy not importable: {err}")
    try:
        import pose_perception.msg  # noqa: F401
    except ImportError as err:
        if os.environ.get("CI"):
            pytest.fail(f"pose_perception messages not built in CI: {err}")
        pytest.skip(f"pose_perception messages not built (scripts/build_ros_interfaces.sh): {err}")
    return rclpy


def configure_ros_environment() -> int:
    """Pick a domain id for this test process (inherited by the nodes it starts)."""
    if "POSE_PERCEPTION_TEST_DOMAIN" not in os.environ:
        domain = random.Random(os.getpid() ^ time.time_ns()).randint(20, 99)
        os.environ["POSE_PERCEPTION_TEST_DOMAIN"] = str(domain)
    domain = int(os.environ["POSE_PERCEPTION_TEST_DOMAIN"])
    os.environ.update(
        ROS_DOMAIN_ID=str(domain),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        ROS_LOCALHOST_ONLY="1",
        FASTRTPS_DEFAULT_PROFILES_FILE=str(REPO_ROOT / "config" / "fastdds_shm.xml"),
        RCUTILS_LOGGING_BUFFERED_STREAM="0",
    )
    return domain


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def diagnostic_values(diagnostics: list[Any]) -> dict[str, str]:
    """The key/values of the newest /diagnostics message ({} before the first)."""
    return {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}


def throttled_at_most(span_s: float, throttle_s: float) -> int:
    """How many times a log throttled to one per ``throttle_s`` can appear within ``span_s``."""
    return 1 + int(span_s / throttle_s)


class NodeProcess:
    """``python -m pose_perception.ros.rtmpose_node`` with parameters, output captured."""

    def __init__(
        self,
        params: dict[str, Any],
        remaps: dict[str, str] | None = None,
        name: str = "",
        command: list[str] | None = None,
        params_file: Path = REPO_ROOT / "config" / "rtmpose.yaml",
        cwd: Path = REPO_ROOT,
    ) -> None:
        args = command or [sys.executable, "-m", "pose_perception.ros.rtmpose_node"]
        args = [*args, "--ros-args", "--params-file", str(params_file)]
        for key, value in params.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["-p", f"{key}:={text}"]
        for src, dst in (remaps or {}).items():
            args += ["-r", f"{src}:={dst}"]
        if name:
            args += ["-r", f"__node:={name}"]
        self.log_lines: list[str] = []
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO_ROOT,
            env=os.environ.copy(),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log_lines.append(line.rstrip())

    @property
    def log(self) -> str:
        return "\n".join(self.log_lines)

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"node exited with {self.process.returncode}:\n{self.log}")
            return any("ready:" in line for line in self.log_lines)

        wait_for(ready, timeout, "the node to report ready")

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_exit(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5.0)
        return code

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT (what ros2 launch sends) and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"node did not stop within {timeout} s of SIGINT:\n{self.log}") from None
        self._reader.join(5.0)
        return self.process.returncode


class TestClient:
    """An rclpy node spun in a background thread; collects what it subscribes to."""

    __test__ = False  # not a pytest class

    def __init__(self, rclpy: Any, name: str = "pose_perception_test_client") -> None:
        from rclpy.executors import SingleThreadedExecutor

        self.rclpy = rclpy
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=False)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        with contextlib.suppress(ExternalShutdownException):
            self.executor.spin()

    def subscribe(self, msg_type: Any, topic: str, qos: Any = 10) -> list[Any]:
        with self._lock:
            bucket = self.received.setdefault(topic, [])
        self.node.create_subscription(msg_type, topic, bucket.append, qos)
        return bucket

    def wait_for_publisher(self, topic: str, timeout: float = 20.0) -> None:
        wait_for(lambda: self.node.count_publishers(topic) > 0, timeout, f"a publisher on {topic}")

    def call(self, srv_type: Any, service: str, request: Any, timeout: float = 30.0) -> Any:
        client = self.node.create_client(srv_type, service)
        try:
            wait_for(client.service_is_ready, timeout, f"service {service}")
            future = client.call_async(request)
            wait_for(future.done, timeout, f"reply from {service}")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.rclpy.try_shutdown(context=self.context)
        self._thread.join(5.0)
        self.node.destroy_node()
