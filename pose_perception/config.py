"""Typed configuration: dataclasses ← YAML (``config/rtmpose.yaml``) ← ROS parameters.

The YAML file is a ROS 2 parameter file (``/**: ros__parameters: ...``) so the very same
file configures the node; plain YAML with the same sections is accepted too. Unknown
keys and wrongly typed values fail at load time with the file and key in the message
(``config_loader``: the one loader, shared with the training configs).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from pose_perception.config_loader import from_dict, read_yaml
from pose_perception.depth import DepthConfig
from pose_perception.detection import DetectorConfig
from pose_perception.group_styles import parse_group_names
from pose_perception.runtime import BACKEND_NAMES, check_device
from pose_perception.settings import check_settings, setting, shown
from pose_perception.smoothing import OneEuroConfig
from pose_perception.tracking import TrackerConfig


@dataclass
class EstimatorConfig:
    """What ``PoseEstimator`` needs: the model and how to run it."""

    model: str = setting(
        "rtmpose-t",
        "registry name (body rtmpose-t/s/m/l[-384x288], whole-body rtmw-*, rtmpose-*-wholebody, one-stage "
        "rtmo-t/s/m/l; docs/models.md), .onnx or .pth path",
        read_only=True,
    )
    fallback_to_bundled: bool = setting(
        True,
        "if the registry model is neither cached nor downloadable, run the bundled pose model "
        "(logs a warning) instead of failing; none ships yet (docs/training.md)",
        read_only=True,
    )
    arch: str = setting("", "architecture of a .pth checkpoint, e.g. rtmpose-s", read_only=True)
    backend: str = setting("onnxruntime", "inference backend", choices=BACKEND_NAMES, read_only=True)
    device: str = setting("cpu", "cpu | cuda[:N] | tensorrt[:N] | auto", read_only=True)
    flip_test: bool = setting(
        False, "average with the mirrored crop: about +1 AP, 2x compute", read_only=True
    )
    skeleton: str = setting(
        "", "coco17 | h36m17 | path to a schema YAML; empty: from the model", read_only=True
    )
    threads: int = setting(0, "intra-op threads; 0 = runtime default", min=0, max=256, read_only=True)
    keypoint_threshold: float = setting(
        0.3,
        "keypoints below this score are not drawn (they are still published); SimCC scores are not "
        "probabilities and can exceed 1 (docs/ros.md, Scores)",
        min=0.0,
        max=1.0,
    )

    def validate(self) -> None:
        check_settings(self)
        try:
            check_device(self.backend, self.device)
        except ValueError as err:
            raise ValueError(f"device: {err}") from None
        if not self.model:
            raise ValueError("model must not be empty")


@dataclass
class InputConfig:
    """Where images come from (ROS node and bag mode)."""

    image_topic: str = setting(
        "image", "sensor_msgs/Image topic (remap it: -r image:=/camera/...)", read_only=True
    )
    transport: str = setting(
        "raw",
        "raw: sensor_msgs/Image on image_topic; compressed: CompressedImage on <image_topic>/compressed",
        choices=("raw", "compressed"),
        read_only=True,
    )
    camera_info_topic: str = setting(
        "camera_info",
        "sensor_msgs/CameraInfo for intrinsics (optional; a nominal camera otherwise)",
        read_only=True,
    )
    max_rate: float = setting(
        0.0, "process at most this many frames per second; 0 = every frame", min=0.0, max=1000.0
    )
    max_image_pixels: int = setting(
        4096 * 4096, "images with more pixels are rejected (guards memory)", min=1, max=1 << 28
    )
    depth_topic: str = setting(
        "depth",
        "sensor_msgs/Image depth (16UC1 mm or 32FC1 m), used with three_d.mode depth: registered "
        "to the colour camera, or any depth camera's with depth_camera_info_topic set (remap it: "
        "-r depth:=/camera/aligned_depth_to_color/image_raw)",
        read_only=True,
    )
    depth_camera_info_topic: str = setting(
        "",
        "three_d.mode depth: the depth camera's sensor_msgs/CameraInfo; set it for a depth image "
        "NOT registered to the colour camera (other size or frame): the depth is reprojected "
        "into the colour camera with both intrinsics and depth.extrinsic_*; empty = the depth is "
        "registered",
        read_only=True,
    )
    sync_slop_s: float = setting(
        0.02,
        "s; three_d.mode depth: image, depth and camera_info (and depth camera_info) stamps may "
        "differ by at most this",
        min=0.0,
        max=1.0,
        read_only=True,
    )
    sync_queue_size: int = setting(
        10,
        "three_d.mode depth: messages per input waiting for their partners",
        min=1,
        max=100,
        read_only=True,
    )


@dataclass
class OutputConfig:
    """What the node publishes, and how."""

    poses_topic: str = setting(
        "poses", "PersonArray topic; markers, image and skeleton go to <poses_topic>/...", read_only=True
    )
    frame_id: str = setting("", "header frame of the outputs; empty = the image's frame_id")
    min_person_score: float = setting(
        0.2,
        "people whose score (mean keypoint score, can exceed 1) is below this are not published",
        min=0.0,
        max=1.0,
    )
    publish_markers: bool = setting(True, "visualization_msgs/MarkerArray on <poses_topic>/markers")
    publish_image: bool = setting(False, "annotated image on <poses_topic>/image (costs a copy + encode)")
    publish_tf: bool = setting(True, "one TF frame per person: <tf_prefix><track_id>")
    publish_diagnostics: bool = setting(True, "timings and drop counts on /diagnostics, once per second")
    tf_prefix: str = setting("person_", "prefix of the per-person TF frame names")
    marker_lifetime: float = setting(
        0.5, "seconds RViz keeps a marker if no update comes (0 = forever)", min=0.0, max=3600.0
    )
    assumed_person_height: float = setting(
        1.7,
        "metres; places people at a distance from their box height while no depth exists",
        min=0.3,
        max=3.0,
    )
    assumed_hfov_deg: float = setting(
        60.0, "horizontal field of view used when no CameraInfo arrives", min=10.0, max=179.0
    )


THREE_D_MODES = ("off", "depth", "lifter", "fused")
DEPTH_MODES = ("depth", "fused")  # subscribe to depth + camera_info, synchronised
LIFTER_MODES = ("lifter", "fused")  # run the monocular lifter


@dataclass
class ThreeDConfig:
    """Where 3D keypoints come from (``Keypoint.position``, per-joint TF frames)."""

    mode: str = setting(
        "off",
        "off: 2D only; depth: lift keypoints with a registered depth image (input.depth_topic); "
        "lifter: monocular 2D-to-3D lifter (three_d.lifter_model) placed with the camera intrinsics; "
        "fused: depth for the joints it measures, the lifter fitted to them for the joints it misses",
        choices=THREE_D_MODES,
        read_only=True,
    )
    publish_joint_tf: bool = setting(
        True, "with measured 3D: one TF frame <tf_prefix><track_id>/<joint_name> per valid body joint"
    )
    joint_tf_groups: str = setting(
        "",
        "whole-body models: comma-separated keypoint groups whose joints get TF frames too, besides the "
        "body's: feet, face, left_hand, right_hand (e.g. left_hand,right_hand); empty: body only",
    )
    lifter_model: str = setting(
        "",
        "modes lifter, fused: lifter .onnx (pose_perception.lifting.export_lifter); empty = the bundled "
        "lifter-causal-synthetic.onnx (trained on synthetic motion only)",
        read_only=True,
    )
    body_height_m: float = setting(
        1.7,
        "m; modes lifter, fused: assumed standing height of every person; sets the lifted skeleton's "
        "size and so its distance from the camera",
        min=0.5,
        max=2.5,
    )
    lifter_max_age_s: float = setting(
        1.0,
        "s; modes lifter, fused: a track unseen for longer loses its 2D history and starts afresh",
        min=0.0,
        max=60.0,
        read_only=True,
    )

    def validate(self) -> None:
        check_settings(self)
        parse_group_names(self.joint_tf_groups, "joint_tf_groups")
        # Caught here, before any model loads; whether the file exists is checked when the
        # lifter is opened (only in modes lifter and fused).
        if self.lifter_model and not self.lifter_model.lower().endswith(".onnx"):
            raise ValueError(f"lifter_model must be an .onnx file (or empty), got {shown(self.lifter_model)}")


@dataclass
class HandsConfig:
    """The hand stage (``pose_perception.hand_stage``, docs/hands.md): a hand model on a box
    beyond each wrist of a body model's people, merged in as the left_hand / right_hand groups."""

    enabled: bool = setting(
        False,
        "run the hand model on a box beyond each wrist and publish body + left_hand + right_hand "
        "keypoints (coco17 + 2 x hand21 = 59); for body models only",
        read_only=True,
    )
    model: str = setting(
        "rtmpose-m-hand",
        "hand model (21 keypoints, hand21): registry name, .onnx or .pth path; runs on the "
        "estimator's backend, device and threads",
        read_only=True,
    )
    arch: str = setting("", "architecture of a .pth hand checkpoint, e.g. rtmpose-m-256x256", read_only=True)
    box_scale: float = setting(
        0.9, "side of the square hand box, in forearm lengths (elbow to wrist)", min=0.2, max=4.0
    )
    box_offset: float = setting(
        0.35, "hand box centre beyond the wrist along the forearm, in forearm lengths", min=0.0, max=2.0
    )
    min_wrist_score: float = setting(
        0.3,
        "a hand whose wrist or elbow scores below this is not estimated: its keypoints sit on the "
        "wrist with score 0",
        min=0.0,
        max=1.0,
    )

    def validate(self) -> None:
        check_settings(self)
        if self.enabled and not self.model:
            raise ValueError("model must not be empty when hands.enabled is true")


@dataclass
class Config:
    estimator: EstimatorConfig = dataclasses.field(default_factory=EstimatorConfig)
    detector: DetectorConfig = dataclasses.field(default_factory=DetectorConfig)
    tracker: TrackerConfig = dataclasses.field(default_factory=TrackerConfig)
    smoothing: OneEuroConfig = dataclasses.field(default_factory=OneEuroConfig)
    input: InputConfig = dataclasses.field(default_factory=InputConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)
    three_d: ThreeDConfig = dataclasses.field(default_factory=ThreeDConfig)
    depth: DepthConfig = dataclasses.field(default_factory=DepthConfig)
    hands: HandsConfig = dataclasses.field(default_factory=HandsConfig)

    def validate(self) -> None:
        """Every section's checks; an error names the setting as ``section.key`` (every section's
        messages start with the key)."""
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            try:
                check_settings(section)
                if hasattr(section, "validate"):  # input and output have ranges only
                    section.validate()
            except ValueError as err:
                raise ValueError(f"{f.name}.{err}") from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Defaults, overridden by the YAML file if given (see ``config_loader`` for the rules); validated."""
    data = _unwrap_ros_parameters(read_yaml(path)) if path is not None else {}
    try:
        config = from_dict(Config, data)
        config.validate()
    except ValueError as err:
        raise ValueError(f"{path or 'default config'}: {err}") from None
    return config


def _unwrap_ros_parameters(data: dict[str, Any]) -> Any:
    """Accept ``<node or /**>: {ros__parameters: {...}}`` as well as the plain mapping."""
    if len(data) == 1:
        (inner,) = data.values()
        if isinstance(inner, dict) and "ros__parameters" in inner:
            return inner["ros__parameters"]
    return data
