"""Launch rtmpose_node (and, with rviz:=true, RViz 2 showing its output).

    ros2 launch pose_perception rtmpose.launch.py image:=/camera/color/image_raw
    ros2 launch pose_perception rtmpose.launch.py model:=rtmpose-m rviz:=true
    ros2 launch pose_perception rtmpose.launch.py use_compressed:=true namespace:=front
    ros2 launch pose_perception rtmpose.launch.py three_d:=depth   # RealSense aligned depth
    ros2 launch pose_perception wholebody.launch.py   # the same with model rtmw-l-onnx (133 keypoints)
    ros2 launch pose_perception rtmo.launch.py        # the same with model rtmo-s (one-stage)

Arguments (``ros2 launch pose_perception rtmpose.launch.py --show-args``):
image, camera_info, config, model, detector, three_d, depth, depth_camera_info, namespace,
use_compressed, rviz, log_level, dds_profile. The node is built by an OpaqueFunction from
the resolved argument values, so optional overrides (model) are plain Python instead of
nested substitutions.
Written for ROS 2 Humble and Jazzy (Python 3.10+). Guide: docs/ros.md.
"""

import os
import tempfile

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler, SetEnvironmentVariable
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = "pose_perception"
# Read by Fast DDS (the default RMW of Humble and Jazzy); other RMWs ignore it.
DDS_PROFILE_VARIABLE = "FASTRTPS_DEFAULT_PROFILES_FILE"
RVIZ_POSES_TOPIC = "/poses"  # the absolute topics config/rtmpose.rviz displays

THREE_D_MODES = ("off", "depth", "lifter", "fused")  # three_d.mode's choices (pose_perception.config)
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")  # what --log-level accepts (any case)

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


def generate_launch_description(model=""):
    """The arguments and the node; ``model`` is the default of the ``model`` argument (the
    examples wholebody.launch.py and rtmo.launch.py pass theirs)."""
    share = get_package_share_directory(PACKAGE)
    arguments = [
        DeclareLaunchArgument(
            "image",
            default_value="/camera/color/image_raw",
            description="camera image topic (sensor_msgs/Image); the node's 'image' is remapped to it",
        ),
        DeclareLaunchArgument(
            "camera_info",
            default_value="/camera/color/camera_info",
            description="sensor_msgs/CameraInfo topic for the intrinsics (a nominal camera with "
            "output.assumed_hfov_deg is used until one arrives); empty = no remapping",
        ),
        DeclareLaunchArgument(
            "config",
            default_value=os.path.join(share, "config", "rtmpose.yaml"),
            description="ROS 2 parameter file (every parameter: docs/ros.md)",
        ),
        DeclareLaunchArgument(
            "model",
            default_value=model,
            description="override estimator.model (registry name, e.g. rtmpose-m, rtmw-x (whole-body), "
            "rtmo-s (one-stage, no detector); .onnx or .pth path); empty = the config file's",
        ),
        DeclareLaunchArgument(
            "detector",
            default_value="",
            description="person detector: a registry name (rtmdet-nano, yolox-tiny, ...) or .onnx path "
            "(sets detector.model), or hog / full_frame (sets detector.type); empty = the config file's",
        ),
        DeclareLaunchArgument(
            "three_d",
            default_value="",
            description="3D keypoints: off, depth (RGB-D: the 'depth' image + camera_info), lifter "
            "(monocular) or fused (depth, and the lifter for the joints depth misses); sets "
            "three_d.mode; empty = the config file's",
        ),
        DeclareLaunchArgument(
            "depth",
            default_value="/camera/aligned_depth_to_color/image_raw",
            description="depth image topic (sensor_msgs/Image, 16UC1 or 32FC1) for three_d:=depth; the "
            "node's 'depth' is remapped to it; empty = no remapping",
        ),
        DeclareLaunchArgument(
            "depth_camera_info",
            default_value="",
            description="the depth camera's sensor_msgs/CameraInfo topic, for a depth image NOT "
            "registered to the colour camera: it is reprojected with both intrinsics and "
            "depth.extrinsic_* (set them in the config file); empty = the depth is registered",
        ),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node's topics"),
        DeclareLaunchArgument(
            "use_compressed",
            default_value="false",
            description="subscribe to <image>/compressed (sensor_msgs/CompressedImage) instead of <image>; "
            "sets input.transport",
        ),
        DeclareLaunchArgument(
            "rviz",
            default_value="false",
            description="also start rviz2 with config/rtmpose.rviz (and turn on output.publish_image)",
        ),
        DeclareLaunchArgument(
            "log_level",
            default_value="info",
            description="ROS log level: debug, info, warn, error or fatal",
        ),
        DeclareLaunchArgument(
            "dds_profile",
            default_value=os.path.join(share, "config", "fastdds_shm.xml"),
            description=f"Fast DDS profile exported as {DDS_PROFILE_VARIABLE} (8 MiB shared memory for "
            "camera images; keeps DDS traffic on this machine); empty = leave the variable alone",
        ),
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=launch_setup)])


def launch_setup(context, *args, **kwargs):
    """The actions for the resolved launch arguments (called by launch at run time)."""

    def value(name):
        return LaunchConfiguration(name).perform(context).strip()

    image = value("image").rstrip("/")
    config = value("config")
    model = value("model")
    detector = value("detector")
    three_d = value("three_d")
    namespace = value("namespace").rstrip("/")
    compressed = _flag(value("use_compressed"), "use_compressed")
    rviz = _flag(value("rviz"), "rviz")
    dds_profile = value("dds_profile")

    if not image:
        raise ValueError("launch argument 'image' must name a topic")
    if not os.path.isfile(config):
        raise FileNotFoundError(f"launch argument 'config': no such file {config!r}")
    if three_d and three_d not in THREE_D_MODES:
        raise ValueError(
            f"launch argument 'three_d' must be one of {', '.join(THREE_D_MODES)} (or empty), got {three_d!r}"
        )
    log_level = value("log_level")
    if log_level.lower() not in LOG_LEVELS:
        raise ValueError(
            f"launch argument 'log_level' must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
        )

    actions = []
    if dds_profile:
        if not os.path.isfile(dds_profile):
            raise FileNotFoundError(
                f"launch argument 'dds_profile': no such file {dds_profile!r} "
                "(dds_profile:='' keeps the DDS defaults)"
            )
        # Before the nodes: processes started afterwards inherit it.
        actions.append(SetEnvironmentVariable(DDS_PROFILE_VARIABLE, dds_profile))

    overrides = {"input.transport": "compressed" if compressed else "raw"}
    if model:
        # A Python str stays a string parameter ("1.0" too): launch_ros YAML-quotes it.
        overrides["estimator.model"] = model
    if detector in ("hog", "full_frame"):
        overrides["detector.type"] = detector
    elif detector:
        overrides["detector.type"] = "onnx"
        overrides["detector.model"] = detector
    if three_d:
        overrides["three_d.mode"] = three_d
    depth_camera_info = value("depth_camera_info")
    if depth_camera_info:
        overrides["input.depth_camera_info_topic"] = "depth_camera_info"  # remapped below
    if rviz:
        overrides["output.publish_image"] = True

    remappings = [("image", image), ("image/compressed", image + "/compressed")]
    camera_info = value("camera_info")
    if camera_info:
        remappings.append(("camera_info", camera_info))
    depth = value("depth")
    if depth:
        remappings.append(("depth", depth))
    if depth_camera_info:
        remappings.append(("depth_camera_info", depth_camera_info))

    node = Node(
        package=PACKAGE,
        executable="rtmpose_node",
        name="rtmpose_node",
        namespace=namespace,
        parameters=[config, overrides],
        remappings=remappings,
        arguments=["--ros-args", "--log-level", log_level],
        output="screen",
        emulate_tty=True,
    )
    actions.append(node)
    actions.append(RegisterEventHandler(OnProcessExit(target_action=node, on_exit=fail_launch_on_error)))
    if rviz:
        share = get_package_share_directory(PACKAGE)
        rviz_config = rviz_config_for(os.path.join(share, "config", "rtmpose.rviz"), namespace)
        actions.append(
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                arguments=["-d", rviz_config],
                output="screen",
            )
        )
    return actions


def fail_launch_on_error(event, context):
    """launch exits 0 whatever its nodes do, unless an event handler raises: a node that
    cannot start (exit 2, its reason logged) or crashed then ends ``ros2 launch`` with 1."""
    if event.returncode != 0:
        raise RuntimeError(f"{event.process_name} exited with code {event.returncode} (its log says why)")


def rviz_config_for(path, namespace):
    """``path``, or with a namespace a temporary copy whose /poses topics carry it."""
    namespace = namespace.strip("/")
    if not namespace:
        return path
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = text.replace(f"Value: {RVIZ_POSES_TOPIC}/", f"Value: /{namespace}{RVIZ_POSES_TOPIC}/")
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", prefix="rtmpose_", suffix=".rviz", delete=False
    ) as out:
        out.write(text)
    return out.name


def _flag(text, name):
    """A boolean launch argument, spelled the ways launch's IfCondition accepts (and yes/no)."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"launch argument {name!r} must be true or false, got {text!r}")
