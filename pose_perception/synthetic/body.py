"""An articulated 3D body with COCO-17 joints: proportions, joint limits, poses, solid parts.

Body frame (metres, right-handed): X to the person's **left**, Y **up**, Z **forward** (the
way the person faces); the origin is on the ground below the pelvis. The skeleton has the
COCO-17 keypoints plus hidden helper joints (pelvis, spine, neck, head, hands, toes).

Segment lengths are fractions of the standing height H after Drillis, Contini & Bluestein
(1964), as tabulated in D. A. Winter, *Biomechanics and Motor Control of Human Movement*
(fig. 4.1): upper arm 0.186 H, forearm 0.146 H, hand 0.108 H, thigh 0.245 H, shank
0.246 H, ankle height 0.039 H, foot length 0.152 H, shoulder width 0.259 H, hip width
0.191 H; heights above the ground: hip (trochanter) 0.530 H, shoulder 0.818 H, chin
0.870 H, eyes 0.936 H. Girths and head sizes are rounded adult averages.

A pose is a set of joint angles (radians) clipped to :data:`JOINT_LIMITS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pose_perception.skeletons import COCO17

COCO_KEYPOINTS: tuple[str, ...] = COCO17.keypoint_names
COCO_SKELETON: tuple[tuple[int, int], ...] = COCO17.links  # 0-based index pairs
HELPER_JOINTS = (
    "pelvis", "spine_mid", "neck", "head_center", "head_top",
    "left_hand", "right_hand", "left_toe", "right_toe",
)  # fmt: skip
JOINT_NAMES: tuple[str, ...] = COCO_KEYPOINTS + HELPER_JOINTS

# Drillis & Contini fractions of the standing height H (see the module docstring).
UPPER_ARM = 0.186
FOREARM = 0.146
HAND = 0.108
THIGH = 0.245
SHANK = 0.246
ANKLE_HEIGHT = 0.039
FOOT_LENGTH = 0.152
SHOULDER_WIDTH = 0.259  # biacromial breadth (outer); joint centres sit ~0.02 H inside
HIP_WIDTH = 0.191  # bitrochanteric breadth (outer); hip joint centres ~0.11 H apart
HIP_HEIGHT = 0.530
SHOULDER_HEIGHT = 0.818
EYE_HEIGHT = 0.936

_SPINE = 0.15  # pelvis → mid-spine and mid-spine → neck base (0.53 H + 0.30 H = 0.83 H)
_HEAD = np.array([0.046, 0.066, 0.056])  # head semi-axes (left, up, forward) / H

SIDES = ("left", "right")
_SIDE_SIGN = {"left": 1.0, "right": -1.0}

# Joint angle limits (radians). Conventions: flexion moves a limb forward (knee and elbow
# flexion bend the joint), abduction moves it sideways away from the body, rotation is
# about the bone (positive = external), spine_side > 0 leans to the left, head_yaw > 0
# turns the face to the left, pelvis_pitch > 0 tips the pelvis (and trunk) forward.
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "pelvis_pitch": (-0.2, 1.1),
    "spine_flex": (-0.4, 1.2),
    "spine_side": (-0.4, 0.4),
    "spine_twist": (-0.7, 0.7),
    "neck_flex": (-0.6, 0.7),
    "head_yaw": (-1.3, 1.3),
    "head_roll": (-0.4, 0.4),
}
for _s in SIDES:
    JOINT_LIMITS.update(
        {
            f"{_s}_shoulder_flex": (-0.9, 3.1),
            f"{_s}_shoulder_abd": (-0.3, 2.9),
            f"{_s}_shoulder_rot": (-0.9, 1.0),
            f"{_s}_elbow": (0.0, 2.6),
            f"{_s}_hip_flex": (-0.5, 2.3),
            f"{_s}_hip_abd": (-0.3, 0.9),
            f"{_s}_hip_rot": (-0.6, 0.6),
            f"{_s}_knee": (0.0, 2.5),
        }
    )
ANGLE_NAMES: tuple[str, ...] = tuple(JOINT_LIMITS)

PoseKind = Literal["stand", "walk", "arms", "crouch", "bend", "sit", "random"]
POSE_KINDS: tuple[str, ...] = ("stand", "walk", "arms", "crouch", "bend", "sit", "random")
_KIND_WEIGHTS = (0.18, 0.3, 0.16, 0.1, 0.1, 0.06, 0.1)

# A joint counts as visible when the surface seen at its pixel is at most this far (× H)
# in front of it: the flesh around the joint itself. Face points lie on the surface.
VISIBILITY_TOLERANCE = np.array(
    [0.02, 0.02, 0.02, 0.025, 0.025, 0.075, 0.075, 0.05, 0.05, 0.04, 0.04, 0.1, 0.1, 0.06, 0.06, 0.05, 0.05]
)


def rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class BodyShape:
    """Standing height (m) and build factors (1 = average) that scale girths and widths."""

    height: float = 1.75
    girth: float = 1.0  # limb and trunk radii
    shoulders: float = 1.0  # shoulder width
    hips: float = 1.0  # pelvis width


def sample_shape(rng: np.random.Generator) -> BodyShape:
    """An adult: height 1.50–1.95 m (≈ normal around 1.72 m), varied build."""
    height = float(np.clip(rng.normal(1.72, 0.09), 1.5, 1.95))
    girth = float(np.clip(rng.normal(1.05, 0.12), 0.85, 1.35))
    broad = rng.uniform(-1.0, 1.0)  # shoulder-vs-hip build
    return BodyShape(
        height, girth, float(1.0 + 0.07 * broad + rng.normal(0, 0.02)), float(1.0 - 0.07 * broad)
    )


@dataclass(frozen=True)
class Pose:
    """Joint angles (radians, names from :data:`JOINT_LIMITS`; missing ones are 0)."""

    angles: Mapping[str, float] = field(default_factory=dict)
    kind: str = "stand"

    def __getitem__(self, name: str) -> float:
        return float(self.angles.get(name, 0.0))

    def clipped(self) -> Pose:
        return Pose(clip_angles(self.angles), self.kind)


def clip_angles(angles: Mapping[str, float]) -> dict[str, float]:
    """Angles clipped into :data:`JOINT_LIMITS` (unknown names raise ``KeyError``)."""
    out = {}
    for name, value in angles.items():
        lo, hi = JOINT_LIMITS[name]
        out[name] = float(min(max(value, lo), hi))
    return out


def walking_pose(phase: float, stride: float = 1.0, base: Mapping[str, float] | None = None) -> Pose:
    """A gait-cycle pose; ``phase`` (radians) advances 2π per stride (two steps).

    The left hip flexes as ``sin(phase)``; the knee bends most early in its swing; arms
    swing opposite to the legs. ``base`` adds trunk/head angles (e.g. a turned head).
    """
    a: dict[str, float] = dict(base or {})
    for side, off in (("left", 0.0), ("right", math.pi)):
        p = phase + off
        a[f"{side}_hip_flex"] = 0.1 + 0.38 * stride * math.sin(p)
        a[f"{side}_knee"] = 0.08 + 0.95 * stride * max(0.0, math.cos(p + 0.4)) ** 2
        a[f"{side}_hip_abd"] = a.get(f"{side}_hip_abd", 0.03)
        a[f"{side}_shoulder_flex"] = -0.35 * stride * math.sin(p) + 0.05
        a[f"{side}_shoulder_abd"] = a.get(f"{side}_shoulder_abd", 0.1)
        a[f"{side}_elbow"] = 0.3 + 0.25 * stride * max(0.0, -math.sin(p))
    a["spine_twist"] = a.get("spine_twist", 0.0) + 0.08 * stride * math.sin(phase)
    a["spine_flex"] = a.get("spine_flex", 0.0) + 0.05
    return Pose(clip_angles(a), "walk")


def sample_pose(rng: np.random.Generator, kind: str | None = None) -> Pose:
    """A random pose of ``kind`` (one of :data:`POSE_KINDS`; random when ``None``)."""
    if kind is None:
        kind = str(rng.choice(POSE_KINDS, p=_KIND_WEIGHTS))
    u = rng.uniform
    a: dict[str, float] = {
        "spine_flex": u(-0.05, 0.15),
        "spine_side": u(-0.08, 0.08),
        "spine_twist": u(-0.25, 0.25),
        "neck_flex": u(-0.2, 0.35),
        "head_yaw": float(np.clip(rng.normal(0, 0.45), -1.3, 1.3)),
        "head_roll": u(-0.15, 0.15),
    }
    for s in SIDES:  # relaxed arms and straight legs; kinds override below
        a |= {
            f"{s}_shoulder_flex": u(-0.25, 0.35),
            f"{s}_shoulder_abd": u(0.05, 0.35),
            f"{s}_shoulder_rot": u(-0.4, 0.5),
            f"{s}_elbow": u(0.0, 0.6),
            f"{s}_hip_flex": u(-0.1, 0.15),
            f"{s}_hip_abd": u(0.0, 0.15),
            f"{s}_hip_rot": u(-0.3, 0.3),
            f"{s}_knee": u(0.0, 0.15),
        }
    if kind == "walk":
        return walking_pose(u(0, 2 * math.pi), u(0.5, 1.05), {k: a[k] for k in ("head_yaw", "neck_flex")})
    if kind == "stand":
        for s in SIDES:
            if rng.random() < 0.35:  # hand on hip / gesturing / holding something
                a[f"{s}_shoulder_flex"] = u(-0.3, 1.4)
                a[f"{s}_shoulder_abd"] = u(0.1, 0.9)
                a[f"{s}_elbow"] = u(0.6, 2.2)
        if rng.random() < 0.4:  # weight on one leg / stepping out
            s = str(rng.choice(SIDES))
            a[f"{s}_hip_flex"] = u(0.1, 0.5)
            a[f"{s}_knee"] = u(0.1, 0.6)
            a[f"{s}_hip_abd"] = u(0.0, 0.35)
    elif kind == "arms":
        for s in SIDES if rng.random() < 0.6 else (str(rng.choice(SIDES)),):
            if rng.random() < 0.5:
                a[f"{s}_shoulder_flex"] = u(1.0, 3.0)
                a[f"{s}_shoulder_abd"] = u(0.0, 0.5)
            else:
                a[f"{s}_shoulder_flex"] = u(-0.3, 0.8)
                a[f"{s}_shoulder_abd"] = u(1.0, 2.8)
            a[f"{s}_shoulder_rot"] = u(-0.5, 1.0)
            a[f"{s}_elbow"] = u(0.0, 2.2)
    elif kind == "crouch":
        a["pelvis_pitch"] = u(0.2, 0.7)
        a["spine_flex"] = u(0.0, 0.5)
        a["neck_flex"] = u(-0.5, 0.1)
        for s in SIDES:
            knee = u(1.4, 2.4)
            a[f"{s}_knee"] = knee
            a[f"{s}_hip_flex"] = 0.85 * knee + u(-0.15, 0.15)
            a[f"{s}_hip_abd"] = u(0.05, 0.45)
            a[f"{s}_shoulder_flex"] = u(0.2, 1.4)
            a[f"{s}_elbow"] = u(0.2, 1.8)
    elif kind == "bend":
        pitch = u(0.3, 1.0)
        a["pelvis_pitch"] = pitch
        a["spine_flex"] = u(0.1, 0.7)
        a["neck_flex"] = u(-0.6, -0.1)
        for s in SIDES:
            a[f"{s}_hip_flex"] = pitch + u(-0.15, 0.05)
            a[f"{s}_knee"] = u(0.0, 0.4)
            a[f"{s}_shoulder_flex"] = u(0.3, 1.8)
            a[f"{s}_elbow"] = u(0.0, 1.0)
    elif kind == "sit":
        a["spine_flex"] = u(-0.1, 0.3)
        for s in SIDES:
            a[f"{s}_hip_flex"] = u(1.3, 1.75)
            a[f"{s}_knee"] = u(1.2, 1.9)
            a[f"{s}_hip_abd"] = u(0.0, 0.35)
            a[f"{s}_shoulder_flex"] = u(-0.1, 1.0)
            a[f"{s}_elbow"] = u(0.3, 2.0)
    elif kind == "random":  # anything within the limits, loosely
        for name in ANGLE_NAMES:
            lo, hi = JOINT_LIMITS[name]
            if "hip" in name or "knee" in name or name == "pelvis_pitch":
                lo, hi = lo * 0.5, hi * 0.5
            a[name] = u(lo, hi)
    else:
        raise ValueError(f"unknown pose kind {kind!r}; expected one of {POSE_KINDS}")
    return Pose(clip_angles(a), kind)


@dataclass(frozen=True)
class PosedBody:
    """A posed skeleton in the body frame (ground at Y = 0).

    ``joints`` is (len(JOINT_NAMES), 3); ``frames`` maps a segment name (pelvis,
    spine_mid, chest, head, left/right_upper_arm, …) to its 3×3 orientation.
    """

    shape: BodyShape
    pose: Pose
    joints: np.ndarray
    frames: dict[str, np.ndarray]

    def joint(self, name: str) -> np.ndarray:
        return self.joints[JOINT_NAMES.index(name)]

    @property
    def keypoints(self) -> np.ndarray:
        """COCO-17 joints (17, 3)."""
        return self.joints[: len(COCO_KEYPOINTS)]


def forward_kinematics(shape: BodyShape, pose: Pose, lean: tuple[float, float] = (0.0, 0.0)) -> PosedBody:
    """Joint positions for ``pose``; ``lean`` = (pitch forward, roll left) of the whole body."""
    h = shape.height
    p = pose.clipped()
    root = rot_x(lean[0]) @ rot_z(-lean[1])
    r_pelvis = root @ rot_x(p["pelvis_pitch"])
    half = rot_x(p["spine_flex"] / 2) @ rot_z(-p["spine_side"] / 2) @ rot_y(p["spine_twist"] / 2)
    r_mid = r_pelvis @ half
    r_chest = r_mid @ half
    r_head = r_chest @ rot_x(p["neck_flex"]) @ rot_y(p["head_yaw"]) @ rot_z(-p["head_roll"])
    pelvis = np.zeros(3)
    spine_mid = pelvis + r_mid @ np.array([0.0, _SPINE * h, 0.0])
    neck = spine_mid + r_chest @ np.array([0.0, _SPINE * h, 0.0])
    head = neck + r_head @ np.array([0.0, 0.104 * h, 0.012 * h])
    j: dict[str, np.ndarray] = {"pelvis": pelvis, "spine_mid": spine_mid, "neck": neck, "head_center": head}
    j["head_top"] = head + r_head @ np.array([0.0, _HEAD[1] * h, 0.0])
    j["nose"] = head + r_head @ (np.array([0.0, -0.012, 0.071]) * h)
    frames = {"pelvis": r_pelvis, "spine_mid": r_mid, "chest": r_chest, "head": r_head}
    up = np.array([0.0, -1.0, 0.0])
    for side in SIDES:
        s = _SIDE_SIGN[side]
        j[f"{side}_eye"] = head + r_head @ (np.array([s * 0.018, 0.005, 0.0555]) * h)
        j[f"{side}_ear"] = head + r_head @ (np.array([s * 0.054, -0.003, -0.004]) * h)
        shoulder = neck + r_chest @ (np.array([s * 0.113 * shape.shoulders, -0.022, -0.01]) * h)
        r_ua = (
            r_chest
            @ rot_z(s * p[f"{side}_shoulder_abd"])
            @ rot_x(-p[f"{side}_shoulder_flex"])
            @ rot_y(s * p[f"{side}_shoulder_rot"])
        )
        elbow = shoulder + r_ua @ up * (UPPER_ARM * h)
        r_fa = r_ua @ rot_x(-p[f"{side}_elbow"])
        wrist = elbow + r_fa @ up * (FOREARM * h)
        hip = pelvis + r_pelvis @ np.array([s * 0.055 * shape.hips * h, 0.0, 0.0])
        r_th = (
            r_pelvis
            @ rot_z(s * p[f"{side}_hip_abd"])
            @ rot_x(-p[f"{side}_hip_flex"])
            @ rot_y(s * p[f"{side}_hip_rot"])
        )
        knee = hip + r_th @ up * (THIGH * h)
        r_sh = r_th @ rot_x(p[f"{side}_knee"])
        ankle = knee + r_sh @ up * (SHANK * h)
        fwd = r_th @ np.array([0.0, 0.0, 1.0])  # the foot points where the thigh faces, flat
        fwd = np.array([fwd[0], 0.0, fwd[2]])
        fwd = fwd / max(float(np.linalg.norm(fwd)), 1e-6)
        j |= {f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": wrist}
        j |= {f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle}
        j[f"{side}_hand"] = wrist + r_fa @ up * (0.08 * h)
        j[f"{side}_toe"] = ankle + fwd * (0.115 * h) + np.array([0.0, -0.022 * h, 0.0])
        frames |= {f"{side}_upper_arm": r_ua, f"{side}_forearm": r_fa}
        frames |= {f"{side}_thigh": r_th, f"{side}_shank": r_sh}
    joints = np.array([j[n] for n in JOINT_NAMES])
    sole = min(j["left_ankle"][1], j["right_ankle"][1]) - ANKLE_HEIGHT * h
    joints[:, 1] -= sole  # stand on the ground
    return PosedBody(shape, p, joints, frames)


# Solid parts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cone:
    """A rounded cone: spheres of radii ``ra``, ``rb`` at ``a``, ``b`` and their tangent hull."""

    a: np.ndarray
    b: np.ndarray
    ra: float
    rb: float
    material: str


@dataclass(frozen=True)
class Ellipsoid:
    center: np.ndarray
    axes: np.ndarray  # 3×3, columns = the ellipsoid's axes
    radii: np.ndarray  # (3,) semi-axes along those columns
    material: str


Part = Cone | Ellipsoid


def body_parts(body: PosedBody, hair: str = "short", bag: bool = False) -> list[Part]:
    """The solid parts of a posed body (body frame), tagged with material slots.

    Slots: skin, hair, eye, nose, mouth, ear, shirt, pants, shoes, bag, and per side
    ``{side}_upper_arm``, ``{side}_forearm``, ``{side}_hand``, ``{side}_thigh``,
    ``{side}_shank`` (clothing or skin, chosen by the appearance).
    """
    h = body.shape.height
    g = body.shape.girth
    f = body.frames
    j = {n: body.joints[i] for i, n in enumerate(JOINT_NAMES)}
    head, r_head = j["head_center"], f["head"]
    parts: list[Part] = [
        Ellipsoid(
            j["pelvis"] + f["pelvis"] @ (np.array([0.0, 0.025, -0.005]) * h),
            f["pelvis"],
            np.array([0.1 * body.shape.hips * g, 0.08, 0.062 * g]) * h,
            "pants",
        ),
        Ellipsoid(
            j["spine_mid"] + f["spine_mid"] @ (np.array([0.0, -0.01, 0.0]) * h),
            f["spine_mid"],
            np.array([0.092 * g, 0.105, 0.06 * g]) * h,
            "shirt",
        ),
        Ellipsoid(
            j["neck"] + f["chest"] @ (np.array([0.0, -0.105, -0.003]) * h),
            f["chest"],
            np.array([0.104 * g * body.shape.shoulders, 0.115, 0.066 * g]) * h,
            "shirt",
        ),
        Cone(j["left_shoulder"], j["right_shoulder"], 0.04 * g * h, 0.04 * g * h, "shirt"),
        Cone(j["neck"], head + r_head @ (np.array([0.0, -0.04, -0.01]) * h), 0.03 * h, 0.028 * h, "skin"),
        Ellipsoid(head, r_head, _HEAD * h, "skin"),
        Cone(
            head + r_head @ (np.array([0.0, 0.004, 0.048]) * h),
            head + r_head @ (np.array([0.0, -0.012, 0.062]) * h),
            0.007 * h,
            0.009 * h,
            "nose",
        ),
        Ellipsoid(
            head + r_head @ (np.array([0.0, -0.034, 0.046]) * h),
            r_head,
            np.array([0.014, 0.0045, 0.006]) * h,
            "mouth",
        ),
    ]
    if hair != "none":
        parts.append(
            Ellipsoid(head + r_head @ (np.array([0.0, 0.012, -0.012]) * h), r_head, _HEAD * 1.06 * h, "hair")
        )
    if hair == "long":
        parts.append(
            Ellipsoid(
                head + r_head @ (np.array([0.0, -0.06, -0.035]) * h),
                r_head,
                np.array([0.05, 0.085, 0.028]) * h,
                "hair",
            )
        )
    if bag:
        parts.append(
            Ellipsoid(
                j["neck"] + f["chest"] @ (np.array([0.0, -0.14, -0.1 * g]) * h),
                f["chest"],
                np.array([0.08, 0.1, 0.045]) * h,
                "bag",
            )
        )
    for side in SIDES:
        s = _SIDE_SIGN[side]
        parts.append(
            Ellipsoid(
                head + r_head @ (np.array([s * 0.018, 0.005, 0.049]) * h),
                r_head,
                np.full(3, 0.0075 * h),
                "eye",
            )
        )
        parts.append(
            Ellipsoid(
                head + r_head @ (np.array([s * 0.046, -0.003, -0.004]) * h),
                r_head,
                np.array([0.008, 0.016, 0.011]) * h,
                "ear",
            )
        )
        sh, el, wr = j[f"{side}_shoulder"], j[f"{side}_elbow"], j[f"{side}_wrist"]
        hip, kn, an = j[f"{side}_hip"], j[f"{side}_knee"], j[f"{side}_ankle"]
        heel = an + np.array([0.0, -0.015 * h, 0.0]) - 0.2 * (j[f"{side}_toe"] - an)
        parts += [
            Cone(sh, el, 0.036 * g * h, 0.029 * g * h, f"{side}_upper_arm"),
            Cone(el, wr, 0.028 * g * h, 0.02 * g * h, f"{side}_forearm"),
            Cone(wr, j[f"{side}_hand"], 0.021 * h, 0.017 * h, f"{side}_hand"),
            Cone(hip, kn, 0.058 * g * h, 0.04 * g * h, f"{side}_thigh"),
            Cone(kn, an, 0.038 * g * h, 0.025 * g * h, f"{side}_shank"),
            Cone(heel, j[f"{side}_toe"], 0.024 * h, 0.018 * h, "shoes"),
        ]
    return parts


def limb_angle(body: PosedBody, a: str, b: str, c: str) -> float:
    """Bend (radians, 0 = straight) at joint ``b`` between segments a→b and b→c."""
    u = body.joint(b) - body.joint(a)
    v = body.joint(c) - body.joint(b)
    cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
    return math.acos(min(1.0, max(-1.0, cos)))
