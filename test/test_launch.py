"""launch/rtmpose.launch.py, config/rtmpose.rviz and the ROS guide's parameter table.

launch, launch_ros and ament_index_python are not on PyPI, so no ROS install can exist
on the development machines. The launch file is therefore executed against minimal fake
``launch``, ``launch.actions``, ``launch.substitutions``, ``launch_ros.actions`` and
``ament_index_python.packages`` modules put into
``sys.modules``: they record their constructor arguments, and a fake launch context with
chosen argument values drives the OpaqueFunction. This stands in for a ROS install; where
the real launch_ros is importable, ``test_real_launch_description`` runs it for real.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from pose_perception.config import Config

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILE = REPO / "launch" / "rtmpose.launch.py"
RVIZ_FILE = REPO / "config" / "rtmpose.rviz"
PARAMS_FILE = REPO / "config" / "rtmpose.yaml"
DDS_FILE = REPO / "config" / "fastdds_shm.xml"
ROS_GUIDE = REPO / "docs" / "ros.md"

# The repository has the layout of share/pose_perception (config/, launch/).
SHARE = str(REPO)

EXPECTED_ARGUMENTS = {
    "image": "/camera/color/image_raw",
    "camera_info": "/camera/color/camera_info",
    "config": os.path.join(SHARE, "config", "rtmpose.yaml"),
    "model": "",
    "detector": "",
    "three_d": "",
    "depth": "/camera/aligned_depth_to_color/image_raw",
    "depth_camera_info": "",
    "namespace": "",
    "use_compressed": "false",
    "rviz": "false",
    "log_level": "info",
    "dds_profile": os.path.join(SHARE, "config", "fastdds_shm.xml"),
}


def load_file(path: Path, name: str) -> types.ModuleType:
    """Execute a Python file as module ``name`` (what launch does with a .launch.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ fake launch modules


class Recorder:
    """Records how it was constructed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


class FakeLaunchDescription(Recorder):
    @property
    def entities(self) -> list[Any]:
        return list(self.args[0])


class FakeDeclareLaunchArgument(Recorder):
    @property
    def name(self) -> str:
        return self.args[0]

    @property
    def default_value(self) -> str:
        return self.kwargs["default_value"]


class FakeOpaqueFunction(Recorder):
    def execute(self, context: Any) -> list[Any]:
        function = self.kwargs["function"]
        return function(context, *self.kwargs.get("args", ()), **self.kwargs.get("kwargs", {}))


class FakeSetEnvironmentVariable(Recorder):
    pass


class FakeRegisterEventHandler(Recorder):
    pass


class FakeOnProcessExit(Recorder):
    pass


class FakeLaunchConfiguration(Recorder):
    def perform(self, context: Any) -> str:
        return context.launch_configurations[self.args[0]]


class FakeNode(Recorder):
    pass


class FakeContext:
    def __init__(self, values: dict[str, str]) -> None:
        self.launch_configurations = dict(values)


@pytest.fixture
def fake_ros(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Install the fake modules; returns the packages get_package_share_directory was asked for."""
    lookups: list[str] = []

    def get_package_share_directory(package: str) -> str:
        lookups.append(package)
        if package != "pose_perception":
            raise LookupError(f"package {package!r} not found")
        return SHARE

    def module(name: str, **attributes: Any) -> types.ModuleType:
        mod = types.ModuleType(name)
        for key, value in attributes.items():
            setattr(mod, key, value)
        monkeypatch.setitem(sys.modules, name, mod)
        return mod

    launch = module("launch", LaunchDescription=FakeLaunchDescription)
    launch.actions = module(  # type: ignore[attr-defined]
        "launch.actions",
        DeclareLaunchArgument=FakeDeclareLaunchArgument,
        OpaqueFunction=FakeOpaqueFunction,
        SetEnvironmentVariable=FakeSetEnvironmentVariable,
        RegisterEventHandler=FakeRegisterEventHandler,
    )
    launch.event_handlers = module(  # type: ignore[attr-defined]
        "launch.event_handlers", OnProcessExit=FakeOnProcessExit
    )
    launch.substitutions = module(  # type: ignore[attr-defined]
        "launch.substitutions", LaunchConfiguration=FakeLaunchConfiguration
    )
    launch_ros = module("launch_ros")
    launch_ros.actions = module("launch_ros.actions", Node=FakeNode)  # type: ignore[attr-defined]
    ament = module("ament_index_python")
    ament.packages = module(  # type: ignore[attr-defined]
        "ament_index_python.packages", get_package_share_directory=get_package_share_directory
    )
    return lookups


@pytest.fixture
def launch_file(fake_ros: list[str]) -> types.ModuleType:
    return load_file(LAUNCH_FILE, "rtmpose_launch_under_test")


def describe(launch_file: types.ModuleType) -> FakeLaunchDescription:
    description = launch_file.generate_launch_description()
    assert isinstance(description, FakeLaunchDescription)
    return description


def declared(description: FakeLaunchDescription) -> dict[str, str]:
    return {e.name: e.default_value for e in description.entities if isinstance(e, FakeDeclareLaunchArgument)}


def run_launch(launch_file: types.ModuleType, **arguments: str) -> list[Any]:
    """The actions the OpaqueFunction returns for the defaults overridden by ``arguments``."""
    description = describe(launch_file)
    values = declared(description)
    unknown = set(arguments) - set(values)
    assert not unknown, f"not launch arguments: {unknown}"
    values.update(arguments)
    (opaque,) = [e for e in description.entities if isinstance(e, FakeOpaqueFunction)]
    return opaque.execute(FakeContext(values))


def nodes(actions: list[Any]) -> list[FakeNode]:
    return [a for a in actions if isinstance(a, FakeNode)]


def pose_node(actions: list[Any]) -> dict[str, Any]:
    (node,) = [n for n in nodes(actions) if n.kwargs["package"] == "pose_perception"]
    return node.kwargs


def overrides(actions: list[Any]) -> dict[str, Any]:
    """The parameter overrides dict (after the default parameter file)."""
    config, params = pose_node(actions)["parameters"]
    assert config == str(PARAMS_FILE)
    return params


# ------------------------------------------------------------------ the launch file


def test_launch_file_parses_as_python_3_10() -> None:
    """ROS 2 Humble runs launch files with Python 3.10."""
    ast.parse(LAUNCH_FILE.read_text(encoding="utf-8"), filename=str(LAUNCH_FILE), feature_version=(3, 10))


def test_declared_arguments_and_defaults(launch_file: types.ModuleType) -> None:
    assert declared(describe(launch_file)) == EXPECTED_ARGUMENTS
    for entity in describe(launch_file).entities:
        if isinstance(entity, FakeDeclareLaunchArgument):
            assert entity.kwargs.get("description"), f"{entity.name} has no description"


def test_package_lookup_is_lazy(fake_ros: list[str]) -> None:
    module = load_file(LAUNCH_FILE, "rtmpose_launch_lazy")
    assert fake_ros == []  # importing the file must not need an ament index
    module.generate_launch_description()
    assert fake_ros == ["pose_perception"]


def test_node_with_default_arguments(launch_file: types.ModuleType) -> None:
    actions = run_launch(launch_file)
    node = pose_node(actions)
    assert node["package"] == "pose_perception"
    assert node["executable"] == "rtmpose_node"
    assert node["name"] == "rtmpose_node"
    assert node["namespace"] == ""
    assert node["output"] == "screen"
    assert node["emulate_tty"] is True
    assert node["arguments"] == ["--ros-args", "--log-level", "info"]
    assert node["remappings"] == [
        ("image", "/camera/color/image_raw"),
        ("image/compressed", "/camera/color/image_raw/compressed"),
        ("camera_info", "/camera/color/camera_info"),
        ("depth", "/camera/aligned_depth_to_color/image_raw"),
    ]
    assert overrides(actions) == {"input.transport": "raw"}
    assert len(nodes(actions)) == 1  # no rviz2 by default


def test_dds_profile_is_exported_before_the_node(launch_file: types.ModuleType) -> None:
    actions = run_launch(launch_file)
    assert isinstance(actions[0], FakeSetEnvironmentVariable)
    assert actions[0].args == ("FASTRTPS_DEFAULT_PROFILES_FILE", str(DDS_FILE))
    assert DDS_FILE.is_file()
    assert isinstance(actions[1], FakeNode)


def test_empty_dds_profile_leaves_the_environment_alone(launch_file: types.ModuleType) -> None:
    actions = run_launch(launch_file, dds_profile="")
    assert not [a for a in actions if isinstance(a, FakeSetEnvironmentVariable)]


def test_missing_dds_profile_is_an_error(launch_file: types.ModuleType, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dds_profile"):
        run_launch(launch_file, dds_profile=str(tmp_path / "nope.xml"))


@pytest.mark.parametrize("model", ["", "rtmpose-m", "/models/my model.onnx", "1.0"])
@pytest.mark.parametrize("use_compressed", ["false", "true", "True", "0", "1"])
def test_parameter_overrides(launch_file: types.ModuleType, model: str, use_compressed: str) -> None:
    actions = run_launch(launch_file, model=model, use_compressed=use_compressed)
    compressed = use_compressed.lower() in ("true", "1")
    expected: dict[str, Any] = {"input.transport": "compressed" if compressed else "raw"}
    if model:
        expected["estimator.model"] = model  # a str: launch_ros keeps "1.0" a string
    assert overrides(actions) == expected


@pytest.mark.parametrize(
    ("detector", "expected"),
    [
        ("hog", {"detector.type": "hog"}),
        ("full_frame", {"detector.type": "full_frame"}),
        ("yolox-tiny", {"detector.type": "onnx", "detector.model": "yolox-tiny"}),
        ("/models/det.onnx", {"detector.type": "onnx", "detector.model": "/models/det.onnx"}),
    ],
)
def test_detector_argument(launch_file: types.ModuleType, detector: str, expected: dict[str, str]) -> None:
    actions = run_launch(launch_file, detector=detector)
    assert overrides(actions) == {"input.transport": "raw", **expected}


def test_custom_topics_namespace_and_log_level(launch_file: types.ModuleType) -> None:
    actions = run_launch(
        launch_file,
        image="/front/image_raw/",
        camera_info="/front/camera_info",
        depth="/front/depth_registered/image_raw",
        namespace="front",
        log_level="debug",
    )
    node = pose_node(actions)
    assert node["namespace"] == "front"
    assert node["arguments"] == ["--ros-args", "--log-level", "debug"]
    assert node["remappings"] == [
        ("image", "/front/image_raw"),
        ("image/compressed", "/front/image_raw/compressed"),
        ("camera_info", "/front/camera_info"),
        ("depth", "/front/depth_registered/image_raw"),
    ]


def test_empty_camera_info_is_not_remapped(launch_file: types.ModuleType) -> None:
    remapped = [src for src, _ in pose_node(run_launch(launch_file, camera_info=""))["remappings"]]
    assert remapped == ["image", "image/compressed", "depth"]


@pytest.mark.parametrize("three_d", ["", "off", "depth", "lifter", "fused"])
def test_three_d_argument(launch_file: types.ModuleType, three_d: str) -> None:
    expected: dict[str, Any] = {"input.transport": "raw"}
    if three_d:
        expected["three_d.mode"] = three_d  # empty: the config file's mode
    assert overrides(run_launch(launch_file, three_d=three_d)) == expected


def test_three_d_choices_are_the_configs_and_others_are_an_error(launch_file: types.ModuleType) -> None:
    from pose_perception.config import THREE_D_MODES

    assert launch_file.THREE_D_MODES == THREE_D_MODES
    with pytest.raises(ValueError, match=r"three_d.*stereo"):
        run_launch(launch_file, three_d="stereo")


def test_empty_depth_is_not_remapped(launch_file: types.ModuleType) -> None:
    remapped = [src for src, _ in pose_node(run_launch(launch_file, three_d="depth", depth=""))["remappings"]]
    assert remapped == ["image", "image/compressed", "camera_info"]


def test_unregistered_depth_arguments(launch_file: types.ModuleType) -> None:
    """RealSense without align_depth: its depth stream and the depth camera's CameraInfo; the
    overrides are valid parameters of the node, on top of the shipped parameter file."""
    from pose_perception.config import load_config
    from pose_perception.ros.params import config_values, updated_config

    actions = run_launch(
        launch_file,
        three_d="depth",
        depth="/camera/depth/image_rect_raw",
        depth_camera_info="/camera/depth/camera_info",
    )
    node = pose_node(actions)
    assert node["remappings"] == [
        ("image", "/camera/color/image_raw"),
        ("image/compressed", "/camera/color/image_raw/compressed"),
        ("camera_info", "/camera/color/camera_info"),
        ("depth", "/camera/depth/image_rect_raw"),
        ("depth_camera_info", "/camera/depth/camera_info"),
    ]
    params = overrides(actions)
    assert params == {
        "input.transport": "raw",
        "three_d.mode": "depth",
        "input.depth_camera_info_topic": "depth_camera_info",
    }
    config = updated_config(load_config(PARAMS_FILE), params)
    assert config.three_d.mode == "depth" and config.input.depth_camera_info_topic == "depth_camera_info"
    assert set(params) <= set(config_values(config))
    # Without depth_camera_info the depth is registered: the parameter keeps the file's "".
    assert "input.depth_camera_info_topic" not in overrides(run_launch(launch_file, three_d="depth"))


def test_log_level_is_checked_like_three_d(launch_file: types.ModuleType) -> None:
    """rclpy would stop the node with a traceback on an unknown level: refuse it here, in one line."""
    assert pose_node(run_launch(launch_file, log_level="DEBUG"))["arguments"][-1] == "DEBUG"
    with pytest.raises(ValueError, match=r"log_level.*debug, info, warn, error, fatal.*'loud'"):
        run_launch(launch_file, log_level="loud")


@dataclasses.dataclass
class FakeProcessExited:
    returncode: int
    process_name: str = "rtmpose_node-1"


def test_a_node_that_cannot_start_fails_the_launch(launch_file: types.ModuleType) -> None:
    """launch exits 0 whatever its nodes do unless an event handler raises (launch_service.run_async)."""
    actions = run_launch(launch_file)
    (handler,) = [a.args[0] for a in actions if isinstance(a, FakeRegisterEventHandler)]
    assert isinstance(handler, FakeOnProcessExit)
    (node,) = nodes(actions)
    assert handler.kwargs["target_action"] is node
    on_exit = handler.kwargs["on_exit"]
    assert on_exit(FakeProcessExited(0), None) is None  # a normal stop
    with pytest.raises(RuntimeError, match=r"rtmpose_node-1 exited with code 2"):
        on_exit(FakeProcessExited(2), None)


def test_custom_config_file(launch_file: types.ModuleType, tmp_path: Path) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text(PARAMS_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    params = pose_node(run_launch(launch_file, config=str(config)))["parameters"]
    assert params[0] == str(config)


def test_missing_config_file_is_an_error(launch_file: types.ModuleType, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config"):
        run_launch(launch_file, config=str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize("argument", ["use_compressed", "rviz"])
def test_bad_boolean_is_an_error(launch_file: types.ModuleType, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        run_launch(launch_file, **{argument: "maybe"})


def test_rviz_starts_only_when_asked(launch_file: types.ModuleType) -> None:
    assert [n.kwargs["package"] for n in nodes(run_launch(launch_file, rviz="false"))] == ["pose_perception"]
    actions = run_launch(launch_file, rviz="true")
    rviz = [n.kwargs for n in nodes(actions) if n.kwargs["package"] == "rviz2"]
    assert len(rviz) == 1
    assert rviz[0]["executable"] == "rviz2"
    assert rviz[0]["arguments"] == ["-d", str(RVIZ_FILE)]
    # The Image display shows /poses/image, which the node only publishes when asked.
    assert overrides(actions)["output.publish_image"] is True


def test_rviz_in_a_namespace_shows_the_namespaced_topics(launch_file: types.ModuleType) -> None:
    actions = run_launch(launch_file, rviz="true", namespace="/front/")
    assert pose_node(actions)["namespace"] == "/front"
    (rviz,) = [n.kwargs for n in nodes(actions) if n.kwargs["package"] == "rviz2"]
    path = Path(rviz["arguments"][1])
    try:
        assert path != RVIZ_FILE
        topics = rviz_topics(yaml.safe_load(path.read_text(encoding="utf-8")))
    finally:
        path.unlink()
    assert topics == {"Poses (image)": "/front/poses/image", "Poses (markers)": "/front/poses/markers"}


# ------------------------------------------------------------------ the model examples

EXAMPLES = {"wholebody.launch.py": "rtmw-l-onnx", "rtmo.launch.py": "rtmo-s"}


@pytest.mark.parametrize(("name", "model"), EXAMPLES.items())
def test_model_example_is_the_base_launch_with_its_model(fake_ros: list[str], name: str, model: str) -> None:
    """wholebody/rtmo.launch.py: every argument of rtmpose.launch.py, only the model's default differs."""
    path = REPO / "launch" / name
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))
    example = load_file(path, name.replace(".", "_"))
    assert fake_ros == []  # importing the file must not need an ament index
    assert declared(describe(example)) == {**EXPECTED_ARGUMENTS, "model": model}
    assert overrides(run_launch(example)) == {"input.transport": "raw", "estimator.model": model}
    assert overrides(run_launch(example, model="my.onnx"))["estimator.model"] == "my.onnx"
    assert pose_node(run_launch(example, namespace="front"))["namespace"] == "front"


def test_model_examples_name_registered_models() -> None:
    """The examples' default models are registry rows (added by issue 15's zoo work: until
    the registry has whole-body and RTMO rows there is nothing to check)."""
    from pose_perception.zoo.registry import REGISTRY

    if not {"rtmo-s"} & set(REGISTRY) or not any(e.arch.startswith("rtmw") for e in REGISTRY.values()):
        pytest.skip("the registry has no whole-body and RTMO rows yet")
    assert [m for m in EXAMPLES.values() if m not in REGISTRY] == []


# ------------------------------------------------------------------ RViz config


def rviz_topics(config: dict[str, Any]) -> dict[str, str]:
    return {
        d["Name"]: d["Topic"]["Value"]
        for d in config["Visualization Manager"]["Displays"]
        if isinstance(d.get("Topic"), dict)
    }


def test_rviz_config_displays() -> None:
    config = yaml.safe_load(RVIZ_FILE.read_text(encoding="utf-8"))
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "camera_color_optical_frame"
    classes = {d["Class"] for d in manager["Displays"]}
    assert {"rviz_default_plugins/Image", "rviz_default_plugins/MarkerArray"} <= classes
    assert "rviz_default_plugins/TF" in classes
    assert rviz_topics(config) == {"Poses (image)": "/poses/image", "Poses (markers)": "/poses/markers"}


# ------------------------------------------------------------------ docs and config drift


def config_sections() -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(Config)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(Config)]


def config_parameter_names() -> list[str]:
    return [f"{name}.{f.name}" for name, cls in config_sections() for f in dataclasses.fields(cls)]


@pytest.fixture(scope="module")
def param_table_script() -> types.ModuleType:
    return load_file(REPO / "scripts" / "param_table.py", "param_table_under_test")


def test_ros_guide_parameter_table_is_generated(param_table_script: types.ModuleType) -> None:
    guide = ROS_GUIDE.read_text(encoding="utf-8")
    assert param_table_script.table_in(guide) == param_table_script.param_table(), (
        "docs/ros.md's parameter table is stale: run python scripts/param_table.py --update docs/ros.md"
    )


def test_every_config_field_is_documented(param_table_script: types.ModuleType) -> None:
    table = param_table_script.table_in(ROS_GUIDE.read_text(encoding="utf-8"))
    documented = [line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]]
    assert documented == config_parameter_names()


def test_update_rewrites_only_the_table(param_table_script: types.ModuleType, tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    m = param_table_script
    doc.write_text(f"# Title\n\nbefore\n{m.BEGIN}\n| old |\n{m.END}\nafter\n", encoding="utf-8")
    m.main(["--update", str(doc)])
    assert (
        doc.read_text(encoding="utf-8") == f"# Title\n\nbefore\n{m.BEGIN}\n{m.param_table()}{m.END}\nafter\n"
    )


def test_params_file_keys_are_config_fields() -> None:
    data = yaml.safe_load(PARAMS_FILE.read_text(encoding="utf-8"))
    (node,) = data.values()
    params = node["ros__parameters"]
    known = dict(config_sections())
    for section, values in params.items():
        assert section in known, f"unknown section {section!r} in {PARAMS_FILE.name}"
        fields = {f.name for f in dataclasses.fields(known[section])}
        unknown = sorted(set(values) - fields)
        assert not unknown, f"{PARAMS_FILE.name}: {section}.{unknown} are not config fields"


# ------------------------------------------------------------------ a real ROS install


def _have_launch_ros() -> bool:
    try:
        return importlib.util.find_spec("launch_ros") is not None
    except (ImportError, ValueError):
        return False


@pytest.mark.ros
@pytest.mark.skipif(
    not _have_launch_ros(), reason="launch_ros is not installed (needs a ROS 2 install; not on PyPI)"
)
def test_real_launch_description() -> None:
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    from launch import LaunchContext, LaunchDescription
    from launch.utilities import perform_substitutions
    from launch_ros.actions import Node

    try:
        get_package_share_directory("pose_perception")
    except PackageNotFoundError:
        pytest.skip("pose_perception is not installed in the ament index (colcon build, then source it)")
    module = load_file(LAUNCH_FILE, "rtmpose_launch_real")
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    arguments = description.get_launch_arguments()
    assert [a.name for a in arguments] == list(EXPECTED_ARGUMENTS)
    context = LaunchContext()
    for argument in arguments:
        context.launch_configurations[argument.name] = perform_substitutions(context, argument.default_value)
    context.launch_configurations["model"] = "rtmpose-s"
    actions = module.launch_setup(context)
    (node,) = [a for a in actions if isinstance(a, Node)]
    assert node.node_package == "pose_perception"
    assert node.node_executable == "rtmpose_node"
