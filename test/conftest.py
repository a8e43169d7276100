"""Shared test helpers: where the official conformance fixtures live, the random model,
and the rclpy fixtures of the node tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def fixtures_dir() -> Path:
    """``$POSE_PERCEPTION_FIXTURES`` or ``../shared/fixtures`` beside the repository."""
    return Path(os.environ.get("POSE_PERCEPTION_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures"))


@pytest.fixture(scope="session")
def rtmpose_t_fixtures() -> Path:
    """The official MMPose rtmpose-t fixtures; missing is an error in CI, a skip elsewhere."""
    path = fixtures_dir() / "rtmpose-t"
    if not (path / "ref_t.npz").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"conformance fixtures missing at {path} (CI must have ../shared)")
        pytest.skip(f"conformance fixtures not found at {path}")
    return path


@pytest.fixture(scope="session")
def random_rtmpose_t_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight RTMPose-t ONNX (with our metadata), exported once per session."""
    pytest.importorskip("torch")
    from pose_perception.runtime.export import export_rtmpose

    path = tmp_path_factory.mktemp("models") / "rtmpose-t-random.onnx"
    export_rtmpose(arch="rtmpose-t", output=path, seed=0)
    return path


@pytest.fixture(scope="module")
def rclpy_module() -> Any:
    """rclpy with this run's loopback-only ROS environment (skips where rclpy is missing)."""
    from ros_harness import configure_ros_environment, require_rclpy

    rclpy = require_rclpy()
    configure_ros_environment()
    return rclpy


@pytest.fixture
def client(rclpy_module: Any) -> Iterator[Any]:
    """A TestClient node (subscriptions and publishers for the node under test)."""
    from ros_harness import TestClient

    c = TestClient(rclpy_module)
    yield c
    c.close()
