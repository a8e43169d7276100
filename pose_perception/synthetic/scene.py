"""Random scenes: people (shape, pose, clothes) on a ground plane in front of a camera.

Everything is drawn from a seed, so a scene repeats exactly. A scene is static except
for its people, who may walk (``Person.speed``) or sway: :func:`person_state` gives a
person's pose and place at time ``t`` (seconds), so frames of a clip move smoothly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from pose_perception.synthetic.body import (
    ANGLE_NAMES,
    JOINT_LIMITS,
    BodyShape,
    Pose,
    PosedBody,
    clip_angles,
    forward_kinematics,
    rot_y,
    sample_pose,
    sample_shape,
    walking_pose,
)
from pose_perception.synthetic.camera import Camera, sample_camera

Color = tuple[float, float, float]  # BGR, 0–1

SeedLike = int | Sequence[int] | np.random.Generator

# Skin tones (BGR, 0–1) from light to dark, roughly spanning the Fitzpatrick scale.
SKIN_TONES: tuple[Color, ...] = (
    (0.78, 0.84, 0.96), (0.66, 0.76, 0.92), (0.55, 0.68, 0.86), (0.45, 0.6, 0.8),
    (0.36, 0.5, 0.7), (0.27, 0.38, 0.56), (0.2, 0.28, 0.42), (0.14, 0.2, 0.3),
)  # fmt: skip
HAIR_COLOURS: tuple[Color, ...] = (
    (0.05, 0.05, 0.06), (0.08, 0.12, 0.2), (0.12, 0.22, 0.35), (0.3, 0.5, 0.7),
    (0.6, 0.6, 0.62), (0.1, 0.15, 0.45),
)  # fmt: skip
BACKGROUND_KINDS = ("room", "noise", "blobs", "shapes", "stripes")
_BACKGROUND_WEIGHTS = (0.4, 0.15, 0.15, 0.18, 0.12)


def _rgb(rng: np.random.Generator, lo: float = 0.05, hi: float = 0.95) -> Color:
    """A random colour: mostly saturated-ish, sometimes grey/black/white."""
    if rng.random() < 0.25:
        g = rng.uniform(lo, hi)
        return (g, g, g)
    c = rng.uniform(lo, hi, 3)
    return (float(c[0]), float(c[1]), float(c[2]))


def _jitter(rng: np.random.Generator, c: Color, amount: float) -> Color:
    out = np.clip(np.asarray(c) * rng.uniform(1 - amount, 1 + amount, 3), 0.0, 1.0)
    return (float(out[0]), float(out[1]), float(out[2]))


@dataclass(frozen=True)
class Appearance:
    """Clothes, skin and hair. ``materials`` maps body-part slots to (colour, pattern)."""

    skin: Color
    hair: Color
    hair_style: str  # none | short | long
    shirt: Color
    shirt_alt: Color  # second colour of a pattern
    pattern: str  # plain | stripes | checks
    pattern_period: float  # metres
    pants: Color
    shoes: Color
    sleeves: str  # long | short
    legs: str  # long | shorts
    bag: bool
    bag_colour: Color
    left_tint: float  # the left limbs' clothes are this much darker: a left/right cue

    def materials(self) -> dict[str, tuple[Color, str]]:
        skin = (self.skin, "plain")
        shirt = (self.shirt, self.pattern)
        m = {
            "skin": skin,
            "hair": (self.hair, "plain"),
            "eye": ((0.12, 0.1, 0.1), "plain"),
            "nose": (tuple(float(c) * 0.85 for c in self.skin), "plain"),
            "mouth": ((0.35, 0.3, 0.6), "plain"),
            "ear": (tuple(float(c) * 0.9 for c in self.skin), "plain"),
            "shirt": shirt,
            "pants": (self.pants, "plain"),
            "shoes": (self.shoes, "plain"),
            "bag": (self.bag_colour, "plain"),
        }
        for side in ("left", "right"):
            k = self.left_tint if side == "left" else 1.0
            sleeve = (tuple(float(c) * k for c in self.shirt), self.pattern)
            pants = (tuple(float(c) * k for c in self.pants), "plain")
            m[f"{side}_upper_arm"] = sleeve
            m[f"{side}_forearm"] = sleeve if self.sleeves == "long" else skin
            m[f"{side}_hand"] = skin
            m[f"{side}_thigh"] = pants
            m[f"{side}_shank"] = pants if self.legs == "long" else skin
        return m  # type: ignore[return-value]


def sample_appearance(rng: np.random.Generator) -> Appearance:
    skin = _jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 0.08)
    shirt = _rgb(rng)
    return Appearance(
        skin=skin,
        hair=_jitter(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 0.15),
        hair_style=str(rng.choice(["none", "short", "long"], p=[0.1, 0.6, 0.3])),
        shirt=shirt,
        shirt_alt=_rgb(rng),
        pattern=str(rng.choice(["plain", "stripes", "checks"], p=[0.6, 0.28, 0.12])),
        pattern_period=float(rng.uniform(0.04, 0.15)),
        pants=_rgb(rng, 0.03, 0.7),
        shoes=_rgb(rng, 0.02, 0.8),
        sleeves=str(rng.choice(["long", "short"], p=[0.55, 0.45])),
        legs=str(rng.choice(["long", "shorts"], p=[0.75, 0.25])),
        bag=bool(rng.random() < 0.15),
        bag_colour=_rgb(rng, 0.05, 0.6),
        left_tint=float(rng.uniform(0.72, 0.85)),
    )


@dataclass(frozen=True)
class Person:
    """A person at time 0: ground position (world x, z), facing ``yaw`` (0 = away from the
    camera, π = towards it), walking at ``speed`` m/s along the facing direction."""

    shape: BodyShape
    pose: Pose
    appearance: Appearance
    position: tuple[float, float]
    yaw: float
    lean: tuple[float, float] = (0.0, 0.0)
    speed: float = 0.0
    gait_phase: float = 0.0
    sway_phase: float = 0.0

    def posed(self, t: float = 0.0) -> PosedBody:
        return forward_kinematics(self.shape, pose_at(self, t), self.lean)


@dataclass(frozen=True)
class Box:
    """A box standing on the ground (furniture, a pillar): centre x/z, footprint, height."""

    center: tuple[float, float]
    size: tuple[float, float, float]  # width (x), height (y), depth (z) in metres
    yaw: float
    colour: Color
    base: float = 0.0  # bottom height (0 = on the ground)


@dataclass(frozen=True)
class Background:
    """Procedural background: ``kind`` in :data:`BACKGROUND_KINDS`; the depth image always
    comes from the floor plane and a wall at ``wall_distance`` (world z)."""

    kind: str
    seed: int
    wall_distance: float


@dataclass(frozen=True)
class Scene:
    camera: Camera
    people: tuple[Person, ...]
    boxes: tuple[Box, ...] = ()
    background: Background = field(default_factory=lambda: Background("room", 0, 8.0))
    light: tuple[float, float, float] = (0.3, 0.8, -0.5)  # world direction towards the light
    ambient: float = 0.45
    noise: float = 3.0  # sensor noise sigma (8-bit levels)
    blur: float = 0.6  # Gaussian sigma (px) of the final soft focus / anti-aliasing
    seed: int = 0


def pose_at(person: Person, t: float) -> Pose:
    """The person's pose at time ``t``: the gait advances with the distance walked; a
    standing person's arms, trunk and head sway slowly (smooth in ``t``)."""
    if person.speed > 0 or person.pose.kind == "walk":
        stride = 0.8 * person.shape.height  # one gait cycle (two steps) ≈ 0.8 × height
        phase = person.gait_phase + 2 * math.pi * person.speed * t / stride
        base = {k: person.pose[k] for k in ("head_yaw", "neck_flex")}
        base["head_yaw"] += 0.2 * math.sin(0.5 * t + person.sway_phase)
        return walking_pose(phase, 1.0 if person.speed > 0 else 0.9, base)
    if t == 0.0:
        return person.pose
    angles = dict(person.pose.angles)
    for i, name in enumerate(ANGLE_NAMES):
        if "shoulder" in name or "elbow" in name or name.startswith(("head", "spine", "neck")):
            lo, hi = JOINT_LIMITS[name]
            amp = 0.04 * (hi - lo)
            angles[name] = angles.get(name, 0.0) + amp * math.sin(0.9 * t + person.sway_phase + 1.7 * i)
    return Pose(clip_angles(angles), person.pose.kind)


def person_state(person: Person, t: float) -> tuple[PosedBody, np.ndarray, np.ndarray]:
    """Posed body, body→world rotation and translation at time ``t``."""
    rotation = rot_y(person.yaw)
    heading = rotation @ np.array([0.0, 0.0, 1.0])
    x, z = person.position
    translation = np.array([x, 0.0, z]) + heading * person.speed * t
    return person.posed(t), rotation, translation


def _project_person(camera: Camera, person: Person) -> tuple[np.ndarray, np.ndarray]:
    body, rot, trans = person_state(person, 0.0)
    cam = camera.world_to_camera(body.keypoints @ rot.T + trans)
    return camera.project(cam), cam[:, 2]


def _inside(camera: Camera, uv: np.ndarray, z: np.ndarray) -> np.ndarray:
    return (
        (z > 0.1)
        & (uv[:, 0] >= 0)
        & (uv[:, 0] <= camera.width - 1)
        & (uv[:, 1] >= 0)
        & (uv[:, 1] <= camera.height - 1)
    )


def _sample_person(
    rng: np.random.Generator, camera: Camera, distance: float, u: float, kind: str | None
) -> Person:
    shape = sample_shape(rng)
    pose = sample_pose(rng, kind)
    x = -(u - camera.cx) * distance / camera.fx  # world x is the camera's left
    return Person(
        shape=shape,
        pose=pose,
        appearance=sample_appearance(rng),
        position=(float(x), float(distance)),
        yaw=float(rng.uniform(0, 2 * math.pi)),
        lean=(float(rng.normal(0, 0.04)), float(rng.normal(0, 0.04))),
        speed=float(rng.uniform(0.8, 1.5)) if pose.kind == "walk" else 0.0,
        gait_phase=float(rng.uniform(0, 2 * math.pi)),
        sway_phase=float(rng.uniform(0, 2 * math.pi)),
    )


def sample_scene(
    seed: SeedLike = 0,
    image_size: tuple[int, int] = (640, 480),
    people: tuple[int, int] | int = (1, 3),
    person_height_px: tuple[float, float] = (140.0, 460.0),
    kinds: Sequence[str] | None = None,
) -> Scene:
    """A random scene with ``people`` (count or inclusive range) persons.

    The first person's standing height spans ``person_height_px`` (uniform) and sets
    the camera tilt so that they are in view; the others stand beside, behind (often
    partly hidden) or in front of them, at least 0.6 m apart on the ground. Every person
    keeps at least 4 COCO keypoints inside the image. ``kinds`` restricts pose kinds.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    width, height = image_size
    lo, hi = (people, people) if isinstance(people, int) else people
    count = int(rng.integers(lo, hi + 1))
    camera = sample_camera(rng, width, height)

    def kind() -> str | None:
        return None if kinds is None else str(rng.choice(list(kinds)))

    persons: list[Person] = []
    if count > 0:
        for _ in range(20):
            target = rng.uniform(*person_height_px)
            k = kind()
            h_guess = 1.72
            distance = camera.fy * h_guess / target
            first = _sample_person(rng, camera, distance, rng.uniform(0.3, 0.7) * width, k)
            mid = 0.5 * first.shape.height if first.pose.kind not in ("crouch", "sit", "bend") else 0.3
            offset = math.atan(rng.uniform(-0.12, 0.12) * height / camera.fy)
            tilt = math.atan2(camera.elevation - mid, distance) + offset
            camera = replace(camera, tilt=float(np.clip(tilt, -0.35, 0.75)))
            uv, z = _project_person(camera, first)
            if _inside(camera, uv, z).sum() >= 12:
                persons.append(first)
                break
    d0 = persons[0].position[1] if persons else 4.0
    for _ in range(count - 1 if persons else 0):
        for _ in range(15):
            relation = rng.random()
            ref = persons[int(rng.integers(len(persons)))]
            ref_u = float(_project_person(camera, ref)[0][:, 0].mean())
            if relation < 0.3:  # behind someone, overlapping
                dist = ref.position[1] + rng.uniform(0.7, 3.0)
                u = ref_u + rng.normal(0, 0.12) * camera.fx * 0.5 / ref.position[1]
            elif relation < 0.45:  # in front of someone
                dist = ref.position[1] - rng.uniform(0.7, 1.5)
                u = ref_u + rng.normal(0, 0.2) * camera.fx * 0.5 / max(dist, 0.5)
            else:
                dist = d0 * rng.uniform(0.7, 1.6)
                u = rng.uniform(0.08, 0.92) * width
            if dist < 1.2:
                continue
            p = _sample_person(rng, camera, float(dist), float(u), kind())
            gap = min(math.dist(p.position, q.position) for q in persons) if persons else 9.0
            uv, z = _project_person(camera, p)
            if gap >= 0.6 and _inside(camera, uv, z).sum() >= 4:
                persons.append(p)
                break
    boxes: list[Box] = []
    for p in persons:  # sitting people get a stool
        if p.pose.kind == "sit":
            body = p.posed()
            seat = float(body.joint("pelvis")[1] - 0.075 * p.shape.height)
            back = rot_y(p.yaw) @ np.array([0.0, 0.0, -0.05])
            boxes.append(
                Box(
                    (p.position[0] + back[0], p.position[1] + back[2]),
                    (0.4, max(seat, 0.1), 0.4),
                    p.yaw,
                    _rgb(rng, 0.1, 0.7),
                )
            )
    if persons and rng.random() < 0.3:  # an occluder between the camera and someone
        p = persons[int(rng.integers(len(persons)))]
        z_box = float(p.position[1] - rng.uniform(0.6, 1.5))
        if z_box > 1.0:
            size = (rng.uniform(0.4, 1.4), rng.uniform(0.4, 1.2), rng.uniform(0.3, 0.8))
            boxes.append(
                Box(
                    (p.position[0] + rng.normal(0, 0.35), z_box),
                    (float(size[0]), float(size[1]), float(size[2])),
                    float(rng.uniform(-0.6, 0.6)),
                    _rgb(rng, 0.1, 0.8),
                )
            )
    far = max((p.position[1] for p in persons), default=4.0)
    background = Background(
        str(rng.choice(BACKGROUND_KINDS, p=_BACKGROUND_WEIGHTS)),
        int(rng.integers(2**31)),
        float(far + rng.uniform(1.0, 6.0)),
    )
    az, el = rng.uniform(0, 2 * math.pi), rng.uniform(0.35, 1.4)
    light = (math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az))
    return Scene(
        camera=camera,
        people=tuple(persons),
        boxes=tuple(boxes),
        background=background,
        light=(float(light[0]), float(light[1]), float(light[2])),
        ambient=float(rng.uniform(0.3, 0.6)),
        noise=float(rng.uniform(0.0, 6.0)),
        blur=float(rng.uniform(0.4, 1.1)),
        seed=int(rng.integers(2**31)),
    )
