"""Shared test helpers: the random model and the rclpy fixtures of the node tests
(the conformance fixtures are vendored: see seeded_weights.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


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


# ------------------------------------------------------------ RGB-D rig: unregistered depth

# The depth camera of the synthetic RGB-D rig, relative to the scene's (colour) camera:
# another resolution, a wider view with coarser pixels, an off-centre principal point,
# 5 cm to the right, 2.5 cm above and tilted 0.02 rad (1.1 degrees) further down.
RIG_DEPTH_SIZE = (512, 384)
RIG_FOCAL_SCALE = 0.62
RIG_PRINCIPAL_POINT = (250.3, 195.1)
RIG_RIGHT_M, RIG_UP_M, RIG_TILT_RAD = 0.05, 0.025, 0.02


@pytest.fixture(scope="session")
def render_rig_depth() -> Any:
    """``render(scene) -> RigDepth``: the scene rendered by the rig's depth camera (a real
    second rendering, not a warp of the colour camera's depth) and the extrinsic."""
    import dataclasses

    import numpy as np

    from pose_perception.camera import PinholeCamera
    from pose_perception.synthetic.camera import Camera
    from pose_perception.synthetic.raster import depth_to_mm, render_scene

    @dataclasses.dataclass(frozen=True)
    class SideCamera(Camera):
        """The synthetic camera moved along world X (left); the room's floor (Y = 0) and
        back wall (Z = const) are the same seen from there."""

        offset_x: float = 0.0

        @property
        def position(self) -> np.ndarray:
            return np.array([self.offset_x, self.elevation, 0.0])

    @dataclasses.dataclass(frozen=True)
    class RigDepth:
        depth: np.ndarray  # (H, W) float32 metres along the depth camera's axis; 0 = none
        camera: PinholeCamera
        rotation: np.ndarray  # p_color = rotation @ p_depth + translation
        translation: np.ndarray
        quaternion_xyzw: np.ndarray  # of rotation, computed independently of the code under test

        def depth_mm(self) -> np.ndarray:
            return depth_to_mm(self.depth)

    def render(scene: Any) -> RigDepth:
        colour = scene.camera
        f = colour.fx * RIG_FOCAL_SCALE
        cam = SideCamera(
            *RIG_DEPTH_SIZE,
            f,
            f,
            *RIG_PRINCIPAL_POINT,
            elevation=colour.elevation + RIG_UP_M,
            tilt=colour.tilt + RIG_TILT_RAD,
            offset_x=-RIG_RIGHT_M,
        )
        depth = render_scene(dataclasses.replace(scene, camera=cam)).depth
        # p_c = Rc (X - pc), p_d = Rd (X - pd)  =>  p_c = Rc Rd^T p_d + Rc (pd - pc)
        rotation = colour.rotation @ cam.rotation.T
        translation = colour.rotation @ (cam.position - colour.position)
        # Both frames differ by a tilt about their shared x axis (camera x = -world X).
        half = -RIG_TILT_RAD / 2.0
        quaternion = np.array([np.sin(half), 0.0, 0.0, np.cos(half)])
        return RigDepth(depth, cam.pinhole(), rotation, translation, quaternion)

    return render
