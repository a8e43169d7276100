"""People -> ROS messages, written once for both message libraries.

The node publishes rclpy messages; bag mode writes ``rosbags`` messages. Both are built
here through a ``MessageFactory`` so /poses, markers and TF are identical in both.
Nothing here imports rclpy: the rclpy factory imports message modules lazily.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config
from pose_perception.depth import person_position
from pose_perception.group_styles import BODY, group_style, parse_group_names, skeleton_parts
from pose_perception.people import SOURCE_NONE, UNTRACKED, Joints3D, Person
from pose_perception.skeletons import Skeleton
from pose_perception.sync import stamp_to_ns

# visualization_msgs/Marker constants (facts from the message definition).
MARKER_LINE_LIST = 5
MARKER_SPHERE_LIST = 7
MARKER_TEXT_VIEW_FACING = 9
MARKER_ADD = 0
MARKER_DELETE = 2

_NUMPY_DTYPES = {
    "bool": np.bool_,
    "byte": np.uint8,
    "char": np.uint8,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "float32": np.float32,
    "float64": np.float64,
}


class MessageFactory:
    """``make("pkg/msg/Type", **fields)`` for one message library."""

    def __init__(
        self, resolve: Callable[[str], Any], fill_defaults: Callable[[str, dict], dict] | None = None
    ):
        self._resolve = resolve
        self._fill_defaults = fill_defaults
        self._classes: dict[str, Any] = {}

    def cls(self, name: str) -> Any:
        if name not in self._classes:
            self._classes[name] = self._resolve(name)
        return self._classes[name]

    def make(self, type_name: str, /, **fields: Any) -> Any:
        if self._fill_defaults is not None:
            fields = self._fill_defaults(type_name, fields)
        return self.cls(type_name)(**fields)

    @classmethod
    def rclpy(cls) -> MessageFactory:
        """Message classes of the ROS install / wheels (rclpy-generated)."""

        def resolve(name: str) -> Any:
            package, kind, type_name = name.split("/")
            return getattr(importlib.import_module(f"{package}.{kind}"), type_name)

        return cls(resolve)

    @classmethod
    def rosbags(cls, typestore: Any) -> MessageFactory:
        """Classes of a ``rosbags`` typestore; they have no field defaults, so fill them."""

        def fill(name: str, fields: dict) -> dict:
            _, field_defs = typestore.fielddefs[name]
            full = dict(fields)
            for field_name, field_type in field_defs:
                if field_name not in full:
                    full[field_name] = _rosbags_default(typestore, field_type)
            return full

        return cls(lambda name: typestore.types[name], fill)


def _rosbags_default(typestore: Any, field_type: tuple) -> Any:
    kind, detail = field_type
    kind = int(kind)
    if kind == 1:  # BASE: (type, max string length)
        base = detail[0]
        return "" if base == "string" else (False if base == "bool" else _NUMPY_DTYPES[base](0).item())
    if kind == 2:  # NAME: nested message
        return _rosbags_default_message(typestore, detail)
    element, length = detail
    if int(element[0]) == 1:  # array/sequence of primitives: numpy
        count = length if kind == 3 else 0
        return np.zeros(count, _NUMPY_DTYPES.get(element[1][0], np.uint8))
    return [_rosbags_default(typestore, element) for _ in range(length if kind == 3 else 0)]


def _rosbags_default_message(typestore: Any, name: str) -> Any:
    _, field_defs = typestore.fielddefs[name]
    return typestore.types[name](**{n: _rosbags_default(typestore, t) for n, t in field_defs})


# ------------------------------------------------------------------------ basic parts


def stamp_to_time(factory: MessageFactory, stamp_ns: int) -> Any:
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return factory.make("builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec)


def header(factory: MessageFactory, stamp_ns: int, frame_id: str) -> Any:
    return factory.make("std_msgs/msg/Header", stamp=stamp_to_time(factory, stamp_ns), frame_id=frame_id)


def time_to_ns(time_msg: Any) -> int:
    """A ``builtin_interfaces/Time`` (e.g. ``header.stamp``) as int nanoseconds."""
    return stamp_to_ns(time_msg.sec, time_msg.nanosec)


def _point(factory: MessageFactory, xyz: Sequence[float]) -> Any:
    return factory.make("geometry_msgs/msg/Point", x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def _color(factory: MessageFactory, rgba: Sequence[float]) -> Any:
    return factory.make("std_msgs/msg/ColorRGBA", r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])


# ------------------------------------------------------------------------ /poses


def person_array(
    factory: MessageFactory,
    header_msg: Any,
    people: Sequence[Person],
    skeleton: Skeleton,
    image_size: tuple[int, int],
) -> Any:
    """``pose_perception/PersonArray`` for one image (``image_size`` = width, height)."""
    return factory.make(
        "pose_perception/msg/PersonArray",
        header=header_msg,
        skeleton=skeleton.name,
        image_width=int(image_size[0]),
        image_height=int(image_size[1]),
        people=[_person(factory, p) for p in people],
    )


def _person(factory: MessageFactory, person: Person) -> Any:
    joints = person.joints_3d
    measured = measured_joints(person)  # valid and finite: a published position is never NaN
    keypoints = []
    for k in range(person.num_keypoints):
        valid = bool(joints is not None and measured is not None and measured[k])
        position = joints.positions[k] if joints is not None and valid else (0.0, 0.0, 0.0)
        keypoints.append(
            factory.make(
                "pose_perception/msg/Keypoint",
                x=float(person.keypoints[k, 0]),
                y=float(person.keypoints[k, 1]),
                score=float(person.keypoint_scores[k]),
                position=_point(factory, position),
                has_position=valid,
                position_source=int(joints.source[k]) if joints is not None and valid else SOURCE_NONE,
                position_confidence=float(joints.confidence[k]) if joints is not None and valid else 0.0,
            )
        )
    return factory.make(
        "pose_perception/msg/Person",
        track_id=int(person.track_id),
        bbox=np.asarray(person.bbox[:4], np.float32),
        score=float(person.score),
        keypoints=keypoints,
    )


def skeleton_message(factory: MessageFactory, skeleton: Skeleton) -> Any:
    links = np.asarray(skeleton.links, np.uint16).reshape(-1, 2)
    return factory.make(
        "pose_perception/msg/Skeleton",
        name=skeleton.name,
        keypoint_names=list(skeleton.keypoint_names),
        link_start=np.ascontiguousarray(links[:, 0]),
        link_end=np.ascontiguousarray(links[:, 1]),
        group_names=[name for name, _, _ in skeleton.groups],
        group_start=np.array([first for _, first, _ in skeleton.groups], np.uint16),
        group_end=np.array([last + 1 for _, _, last in skeleton.groups], np.uint16),  # exclusive
    )


def groups_from_message(msg: Any) -> dict[str, range]:
    """A ``Skeleton`` message's groups as ``name → keypoint index range`` (subscribers slice
    ``Person.keypoints`` with them); empty when the schema has none."""
    bounds = zip(msg.group_names, msg.group_start, msg.group_end, strict=True)
    return {str(name): range(int(start), int(end)) for name, start, end in bounds}


def people_from_message(msg: Any) -> list[Person]:
    """The inverse of :func:`person_array` (tests, bag readers, downstream tools)."""
    people = []
    for p in msg.people:
        kps = np.array([[k.x, k.y] for k in p.keypoints], np.float32).reshape(-1, 2)
        scores = np.array([k.score for k in p.keypoints], np.float32)
        valid = np.array([k.has_position for k in p.keypoints], bool)
        xyz = np.array([[k.position.x, k.position.y, k.position.z] for k in p.keypoints], np.float32)
        xyz[~valid] = np.nan  # Joints3D's convention for a joint without a position
        source = np.array([getattr(k, "position_source", SOURCE_NONE) for k in p.keypoints], np.uint8)
        confidence = np.array([getattr(k, "position_confidence", 0.0) for k in p.keypoints], np.float32)
        people.append(
            Person(
                track_id=int(p.track_id),
                bbox=np.asarray(p.bbox, np.float32),
                score=float(p.score),
                keypoints=kps,
                keypoint_scores=scores,
                joints_3d=Joints3D(xyz.reshape(-1, 3), valid, source, confidence) if valid.any() else None,
            )
        )
    return people


# ------------------------------------------------------------------------ 3D placement


def measured_joints(person: Person) -> np.ndarray | None:
    """(K,) bool: joints with a measured, finite 3D position; None when the person has none."""
    if person.joints_3d is None:
        return None
    valid = person.joints_3d.has_position()
    return valid if valid.any() else None


def person_points_3d(
    person: Person, camera: PinholeCamera, person_height_m: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """(K,3) finite joint positions for markers/TF, and which of them are measured.

    Measured 3D (depth, lifter): the mask is the valid joints; the other joints, which
    must not be drawn or published as positions, are placed on the plane through the
    measured joints' mean depth so the array never holds NaN. Without measured 3D the mask
    is None and the 2D pose is placed on a plane at the distance a ``person_height_m``
    person with this box height would have.
    """
    valid = measured_joints(person)
    keypoints = np.nan_to_num(np.asarray(person.keypoints, np.float64).reshape(-1, 2))
    if valid is not None and person.joints_3d is not None:
        points = np.asarray(person.joints_3d.positions, np.float64).reshape(-1, 3).copy()
        depth = float(points[valid, 2].mean())
        points[~valid] = camera.backproject(keypoints[~valid], depth)
        return points, valid
    box_height = float(person.bbox[3] - person.bbox[1])
    depth = camera.distance_from_height(box_height, person_height_m)
    return camera.backproject(keypoints, depth), None


def person_anchor(
    points: np.ndarray,
    person: Person,
    threshold: float,
    measured: np.ndarray | None = None,
    keypoint_names: Sequence[str] | None = None,
) -> np.ndarray:
    """One point per person for its TF frame.

    Measured (``measured`` mask from :func:`person_points_3d`): the centre of the valid
    torso joints (:func:`pose_perception.depth.person_position`; the mean of the valid
    joints without torso or ``keypoint_names``). Otherwise the mean of its confident joints.
    """
    if measured is not None and measured.any():
        names = list(keypoint_names) if keypoint_names is not None else [""] * len(points)
        position, ok = person_position(points, measured, names)
        if ok:
            return np.asarray(position, np.float64)
    confident = person.keypoint_scores >= threshold
    chosen = points[confident] if confident.any() else points
    return np.asarray(chosen.mean(axis=0), np.float64)


# ------------------------------------------------------------------------ markers


def track_color(track_id: int) -> tuple[float, float, float, float]:
    """A stable, well-separated colour per track id (golden-ratio hue steps)."""
    hue = (track_id * 0.618033988749895) % 1.0
    r, g, b = _hsv_to_rgb(hue, 0.85, 0.95)
    return (r, g, b, 1.0)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6.0) % 6
    f = h * 6.0 - math.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


@dataclasses.dataclass
class MarkerSettings:
    keypoint_threshold: float = 0.3
    lifetime_s: float = 0.5
    person_height_m: float = 1.7
    joint_diameter_m: float = 0.05
    limb_width_m: float = 0.02
    joint_tf: bool = True  # per-joint TF frames for measured body joints
    joint_tf_groups: tuple[str, ...] = ()  # and for these groups' joints (left_hand, face, ...)

    @classmethod
    def from_config(cls, config: Config) -> MarkerSettings:
        """What markers and TF take from the config (node and bag mode alike)."""
        return cls(
            keypoint_threshold=config.estimator.keypoint_threshold,
            lifetime_s=config.output.marker_lifetime,
            person_height_m=config.output.assumed_person_height,
            joint_tf=config.three_d.publish_joint_tf,
            joint_tf_groups=parse_group_names(config.three_d.joint_tf_groups, "three_d.joint_tf_groups"),
        )


class MarkerTracker:
    """Builds each frame's MarkerArray and deletes the markers of people who vanished.

    Markers are keyed by namespace ``person_<id>`` (and ``person_<id>/<group>`` for a
    whole-body schema's hands, face, feet); RViz would otherwise keep a vanished person's
    skeleton until its lifetime ends (forever with lifetime 0).
    """

    PARTS = ("joints", "limbs", "label")

    def __init__(self, factory: MessageFactory, settings: MarkerSettings) -> None:
        self.factory = factory
        self.settings = settings
        self._shown: set[str] = set()

    def update(
        self, header_msg: Any, people: Sequence[Person], skeleton: Skeleton, camera: PinholeCamera
    ) -> Any:
        markers = []
        shown: set[str] = set()
        for index, person in enumerate(people):
            person_markers = self._person_markers(
                header_msg, marker_namespace(person, index), person, skeleton, camera
            )
            shown.update(m.ns for m in person_markers)
            markers.extend(person_markers)
        for namespace in sorted(self._shown - shown):
            markers.extend(self._delete(header_msg, namespace))
        self._shown = shown
        return self.factory.make("visualization_msgs/msg/MarkerArray", markers=markers)

    def _person_markers(
        self, header_msg: Any, namespace: str, person: Person, skeleton: Skeleton, camera: PinholeCamera
    ) -> list[Any]:
        """The body's joints, limbs (track colour) and label in ``namespace``; each other group's
        joints and limbs in ``<namespace>/<group>``, smaller and in its colour (``GROUP_STYLES``)."""
        s = self.settings
        points, measured = person_points_3d(person, camera, s.person_height_m)
        shown = person.keypoint_scores >= s.keypoint_threshold
        if measured is not None:
            shown = shown & measured  # never a joint without a measured position
        track = track_color(person.track_id if person.track_id != UNTRACKED else 0)
        parts = skeleton_parts(skeleton)
        markers = []
        for group in parts.names:
            style = group_style(group)
            color = track if style.color is None else (*(c / 255.0 for c in style.color), 1.0)
            joints = [
                _point(self.factory, points[k])
                for k in np.flatnonzero(shown)
                if parts.keypoint_groups[k] == group
            ]
            limbs = []
            for (a, b), link_group in zip(skeleton.links, parts.link_groups, strict=True):
                if link_group == group and shown[a] and shown[b]:
                    limbs += [_point(self.factory, points[a]), _point(self.factory, points[b])]
            ns = namespace if group == BODY else group_namespace(namespace, group)
            joint_size, limb_width = s.joint_diameter_m * style.scale, s.limb_width_m * style.scale
            markers += [
                self._marker(header_msg, ns, 0, MARKER_SPHERE_LIST, (joint_size,) * 3, color, joints),
                self._marker(header_msg, ns, 1, MARKER_LINE_LIST, (limb_width, 0.0, 0.0), color, limbs),
            ]
            if group == BODY:
                markers.append(self._label(header_msg, namespace, person, skeleton, points, measured, track))
        return markers

    def _label(
        self,
        header_msg: Any,
        namespace: str,
        person: Person,
        skeleton: Skeleton,
        points: np.ndarray,
        measured: np.ndarray | None,
        color: Sequence[float],
    ) -> Any:
        s = self.settings
        anchor = person_anchor(points, person, s.keypoint_threshold, measured, skeleton.keypoint_names)
        label_at = anchor - np.array([0.0, 0.25, 0.0])
        return self._marker(
            header_msg,
            namespace,
            2,
            MARKER_TEXT_VIEW_FACING,
            (0.0, 0.0, 0.1),
            color,
            [],
            person.label,
            label_at,
        )

    def _marker(
        self,
        header_msg: Any,
        namespace: str,
        marker_id: int,
        marker_type: int,
        scale: Sequence[float],
        color: Sequence[float],
        points: list[Any],
        text: str = "",
        position: Iterable[float] = (0.0, 0.0, 0.0),
    ) -> Any:
        f = self.factory
        pose = f.make(
            "geometry_msgs/msg/Pose",
            position=_point(f, list(position)),
            orientation=f.make("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0),
        )
        sec, nanosec = divmod(round(self.settings.lifetime_s * 1e9), 1_000_000_000)
        return f.make(
            "visualization_msgs/msg/Marker",
            header=header_msg,
            ns=namespace,
            id=marker_id,
            type=marker_type,
            action=MARKER_ADD,
            pose=pose,
            scale=f.make(
                "geometry_msgs/msg/Vector3", x=float(scale[0]), y=float(scale[1]), z=float(scale[2])
            ),
            color=_color(f, color),
            lifetime=f.make("builtin_interfaces/msg/Duration", sec=sec, nanosec=nanosec),
            points=points,
            text=text,
        )

    def _delete(self, header_msg: Any, namespace: str) -> list[Any]:
        return [
            self.factory.make(
                "visualization_msgs/msg/Marker", header=header_msg, ns=namespace, id=i, action=MARKER_DELETE
            )
            for i in range(len(self.PARTS))
        ]


def marker_namespace(person: Person, index: int) -> str:
    return f"person_{person.track_id}" if person.track_id != UNTRACKED else f"untracked_{index}"


def group_namespace(person_namespace: str, group: str) -> str:
    """Marker namespace of a person's non-body group, e.g. ``person_3/left_hand`` (RViz lists
    it apart, so a group can be switched off)."""
    return f"{person_namespace}/{group}"


# ------------------------------------------------------------------------ TF


def person_frame_name(prefix: str, person: Person, index: int) -> str:
    """TF child frame of a person: ``<prefix><track_id>`` (``<prefix>untracked_<i>`` untracked)."""
    return f"{prefix}{person.track_id}" if person.track_id != UNTRACKED else f"{prefix}untracked_{index}"


def joint_frame_name(person_frame: str, joint_name: str) -> str:
    """TF child frame of one joint: ``<person frame>/<joint_name>``, e.g. ``person_3/left_wrist``."""
    return f"{person_frame}/{joint_name}"


def person_transforms(
    factory: MessageFactory,
    header_msg: Any,
    people: Sequence[Person],
    camera: PinholeCamera,
    prefix: str,
    settings: MarkerSettings,
    skeleton: Skeleton | None = None,
) -> list[Any]:
    """``TransformStamped``s, children of the header frame, identity rotation (its axes).

    One per person (:func:`person_frame_name`): at the torso centre when its 3D is
    measured, else at the mean of its placed confident joints. With measured 3D, a
    ``skeleton`` and ``settings.joint_tf``, also one per valid body joint
    (:func:`joint_frame_name`) at its measured position, and per valid joint of
    ``settings.joint_tf_groups`` (whole-body hands, face, feet: off by default, they are many).
    """
    names = skeleton.keypoint_names if skeleton is not None else None
    transforms = []
    for index, person in enumerate(people):
        points, measured = person_points_3d(person, camera, settings.person_height_m)
        anchor = person_anchor(points, person, settings.keypoint_threshold, measured, names)
        frame = person_frame_name(prefix, person, index)
        transforms.append(_transform(factory, header_msg, frame, anchor))
        if measured is not None and skeleton is not None and settings.joint_tf:
            for k in np.flatnonzero(measured & joint_tf_mask(skeleton, settings.joint_tf_groups)):
                joint = joint_frame_name(frame, skeleton.keypoint_names[k])
                transforms.append(_transform(factory, header_msg, joint, points[k]))
    return transforms


def joint_tf_mask(skeleton: Skeleton, extra_groups: Sequence[str]) -> np.ndarray:
    """(K,) bool: the joints that get TF frames: the body's (every joint of a schema without
    groups) and those of ``extra_groups``."""
    wanted = {BODY, *extra_groups}
    return np.array([g in wanted for g in skeleton_parts(skeleton).keypoint_groups], bool)


def _transform(factory: MessageFactory, header_msg: Any, child: str, xyz: np.ndarray) -> Any:
    return factory.make(
        "geometry_msgs/msg/TransformStamped",
        header=header_msg,
        child_frame_id=child,
        transform=factory.make(
            "geometry_msgs/msg/Transform",
            translation=factory.make(
                "geometry_msgs/msg/Vector3", x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2])
            ),
            rotation=factory.make("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0),
        ),
    )
