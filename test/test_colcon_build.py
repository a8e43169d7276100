"""The package builds like a ROS workspace builds it: ``colcon build`` (ament_cmake:
messages + installed Python sources + lib/pose_perception/rtmpose_node + share/), and
the installed node starts from the install space, not from this source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ros_harness import NodeProcess, configure_ros_environment, require_rclpy

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


def _colcon() -> str:
    found = (
        os.environ.get("COLCON") or shutil.which("colcon") or str(REPO / ".venv-colcon" / "bin" / "colcon")
    )
    if not Path(found).exists():
        if os.environ.get("CI"):
            pytest.fail("colcon missing in CI (scripts/setup_env.sh installs it into .venv-colcon)")
        pytest.skip("colcon not installed (scripts/setup_env.sh installs it into .venv-colcon)")
    return found


@pytest.fixture(scope="module")
def install_space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_rclpy()
    colcon = _colcon()
    workspace = tmp_path_factory.mktemp("ws")
    (workspace / "src").mkdir()
    (workspace / "src" / "pose_perception").symlink_to(REPO)
    env = dict(os.environ, CMAKE_PREFIX_PATH=str(VENV), AMENT_PREFIX_PATH=str(VENV))
    result = subprocess.run(
        [colcon, "build", "--packages-select", "pose_perception", "--cmake-args",
         f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF"],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workspace / "install" / "pose_perception"


def test_install_space_layout(install_space: Path) -> None:
    site = (
        install_space / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )
    package = site / "pose_perception"
    assert (package / "msg" / "_person_array.py").is_file()  # generated messages
    assert (package / "ros" / "rtmpose_node.py").is_file()  # our sources beside them
    assert "extend_path" in (package / "__init__.py").read_text()  # ours, not the generated one
    assert (package / "training" / "__init__.py").is_file()
    assert os.access(install_space / "lib" / "pose_perception" / "rtmpose_node", os.X_OK)  # for launch_ros
    share = install_space / "share" / "pose_perception"
    for name in (
        "launch/rtmpose.launch.py",
        "config/rtmpose.yaml",
        "config/fastdds_shm.xml",
        "msg/Person.msg",
    ):
        assert (share / name).is_file(), name
    index = install_space / "share" / "ament_index" / "resource_index" / "packages" / "pose_perception"
    assert index.is_file()


def test_installed_node_runs_from_the_install_space(install_space: Path, random_rtmpose_t_onnx: Path) -> None:
    configure_ros_environment()
    site = (
        install_space / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )
    env_backup = dict(os.environ)
    os.environ["PYTHONPATH"] = str(site)
    os.environ["LD_LIBRARY_PATH"] = f"{install_space / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}"
    os.environ["AMENT_PREFIX_PATH"] = f"{install_space}:{VENV}"
    try:
        node = NodeProcess(
            {"estimator.model": str(random_rtmpose_t_onnx), "detector.type": "full_frame"},
            command=[sys.executable, str(install_space / "lib" / "pose_perception" / "rtmpose_node")],
            params_file=install_space / "share" / "pose_perception" / "config" / "rtmpose.yaml",
            cwd=install_space,
        )
        node.wait_ready()
        code = node.stop()
        imported = subprocess.run(
            [sys.executable, "-c", "import pose_perception.ros.rtmpose_node as m, pose_perception.msg as g; "
             "print(m.__file__); print(g.__file__)"],
            cwd=install_space, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    assert code == 0, node.log
    assert all(path.startswith(str(site)) for path in imported), imported


def test_the_venv_does_not_list_pose_perception_in_its_ament_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/build_ros_interfaces.sh builds the messages into the venv without registering
    the package there: the venv has no lib/pose_perception/ executables, so a venv ahead of
    a colcon install on AMENT_PREFIX_PATH broke ``ros2 launch`` ("libexec directory ...
    does not exist"). Bag mode still finds the .msg files in the venv's share/."""
    require_rclpy()  # the messages are built into this venv
    index = VENV / "share" / "ament_index" / "resource_index"
    assert index.is_dir()  # the wheels' own packages are registered there
    assert sorted(str(p.relative_to(index)) for p in index.glob("*/pose_perception")) == []
    assert (VENV / "share" / "pose_perception" / "msg" / "PersonArray.msg").is_file()
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    monkeypatch.setenv("AMENT_PREFIX_PATH", str(VENV))  # only the venv
    with pytest.raises(PackageNotFoundError):
        get_package_share_directory("pose_perception")
