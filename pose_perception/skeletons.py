"""Keypoint schemas: names, links, colours, OKS sigmas, left/right flip pairs and groups.

COCO-17 and Human3.6M-17 facts follow the MMPose dataset definitions (which follow
the COCO keypoint challenge and Human3.6M conventions). The larger official schemas
(``coco_wholebody``, ``hand21``, ``face106``, ``ap10k``) are data files in
``bundled/skeletons/`` with facts from MMPose's dataset metadata. Custom schemas load from YAML.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pose_perception.config_loader import read_yaml
from pose_perception.settings import shown

Color = tuple[int, int, int]  # RGB

_BLUE: Color = (51, 153, 255)
_LEFT: Color = (0, 255, 0)
_RIGHT: Color = (255, 128, 0)


@dataclass(frozen=True)
class Skeleton:
    """A keypoint schema. Links and flip pairs are index pairs into ``keypoint_names``."""

    name: str
    keypoint_names: tuple[str, ...]
    links: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    keypoint_colors: tuple[Color, ...] = ()
    link_colors: tuple[Color, ...] = ()
    sigmas: tuple[float, ...] | None = None  # OKS per-keypoint sigmas (COCO evaluation)
    # named index ranges (name, first, last; inclusive), e.g. whole-body's hands: a subscriber
    # slices a part without hard-coded indices
    groups: tuple[tuple[str, int, int], ...] = ()
    flip_indices: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        label, k = f"skeleton {shown(self.name)}", len(self.keypoint_names)
        if k == 0:
            raise ValueError(f"{label}: no keypoints")
        if len(set(self.keypoint_names)) != k:
            raise ValueError(f"{label}: duplicate keypoint names")
        for kind, pairs in (("link", self.links), ("flip pair", self.flip_pairs)):
            for a, b in pairs:
                if not (0 <= a < k and 0 <= b < k):
                    raise ValueError(f"{label}: {kind} ({a}, {b}) out of range 0..{k - 1}")
        for group, first, last in self.groups:
            if not 0 <= first <= last < k:
                raise ValueError(f"{label}: group {shown(group)} ({first}..{last}) out of range 0..{k - 1}")
        if self.sigmas is not None and len(self.sigmas) != k:
            raise ValueError(f"{label}: {len(self.sigmas)} sigmas for {k} keypoints")
        if self.sigmas is not None and not all(math.isfinite(v) and v > 0 for v in self.sigmas):
            raise ValueError(f"{label}: sigmas must be finite and > 0")
        if not self.keypoint_colors:
            object.__setattr__(self, "keypoint_colors", (_BLUE,) * k)
        if not self.link_colors:
            object.__setattr__(self, "link_colors", (_BLUE,) * len(self.links))
        if len(self.keypoint_colors) != k or len(self.link_colors) != len(self.links):
            raise ValueError(f"{label}: colour count does not match keypoints/links")
        indices = list(range(k))
        for a, b in self.flip_pairs:
            indices[a], indices[b] = b, a
        object.__setattr__(self, "flip_indices", tuple(indices))

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def group(self, name: str) -> range:
        """The keypoint indices of a named group (``left_hand`` ...)."""
        for group, first, last in self.groups:
            if group == name:
                return range(first, last + 1)
        raise KeyError(f"skeleton {shown(self.name)} has no group {shown(name)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (used for ONNX metadata and YAML)."""
        return {
            "name": self.name,
            "keypoints": list(self.keypoint_names),
            "links": [list(p) for p in self.links],
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "keypoint_colors": [list(c) for c in self.keypoint_colors],
            "link_colors": [list(c) for c in self.link_colors],
            "sigmas": None if self.sigmas is None else list(self.sigmas),
            "groups": [list(g) for g in self.groups],
        }

    def coco_category(self, category_id: int = 1) -> dict[str, Any]:
        """The COCO keypoint ``categories`` entry (1-based skeleton) for dataset files."""
        return {
            "id": category_id,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(self.keypoint_names),
            "skeleton": [[a + 1, b + 1] for a, b in self.links],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "skeleton") -> Skeleton:
        """Build from plain data; links/flip pairs may name keypoints or give indices. Any
        malformed entry is a one-line ``ValueError`` naming ``source`` (the data may be hostile)."""
        if not isinstance(data, dict) or "keypoints" not in data:
            raise ValueError(f"{source}: expected a mapping with a 'keypoints' list")
        try:
            return cls._from_plain(data)
        except (TypeError, ValueError, OverflowError) as err:  # OverflowError: int(inf)
            raise ValueError(f"{source}: {err}") from None

    @classmethod
    def _from_plain(cls, data: dict[str, Any]) -> Skeleton:
        names = tuple(_entries(data, "keypoints", str))

        def index(ref: Any) -> int:
            if isinstance(ref, int) and not isinstance(ref, bool):
                return ref
            if ref not in names:
                raise ValueError(f"unknown keypoint name {shown(ref)}")
            return names.index(ref)

        def pairs(key: str) -> tuple[tuple[int, int], ...]:
            entries = _entries(data, key, list)
            for pair in entries:
                if len(pair) != 2:
                    raise ValueError(f"{key} entry {shown(pair)} is not a pair")
            return tuple((index(a), index(b)) for a, b in entries)

        def colors(key: str) -> tuple[Color, ...]:
            return tuple(tuple(int(v) for v in c) for c in _entries(data, key, list))  # type: ignore[misc]

        sigmas = None if data.get("sigmas") is None else _entries(data, "sigmas", (int, float))
        groups = _entries(data, "groups", list)
        for group in groups:
            if len(group) != 3:
                raise ValueError(f"groups entry {shown(group)} is not [name, first, last]")
        return cls(
            name=str(data.get("name", "custom")),
            keypoint_names=names,
            links=pairs("links"),
            flip_pairs=pairs("flip_pairs") if "flip_pairs" in data else infer_flip_pairs(names),
            keypoint_colors=colors("keypoint_colors"),
            link_colors=colors("link_colors"),
            sigmas=None if sigmas is None else tuple(float(v) for v in sigmas),
            groups=tuple((str(name), int(first), int(last)) for name, first, last in groups),
        )


def _entries(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> list[Any]:
    """``data[key]`` (missing or null: empty), which must be a list of ``kind`` values."""
    value = data.get(key)
    value = [] if value is None else value
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{key} must be a list of {_KIND_NAMES.get(kind, 'values')}, got {shown(value)}")
    return value


_KIND_NAMES: dict[Any, str] = {str: "strings", list: "lists", (int, float): "numbers"}


def infer_flip_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Pair ``left_*``/``right_*`` (also ``l_``/``r_`` prefixes) keypoints by name."""
    pairs = []
    for i, name in enumerate(names):
        for left, right in (("left_", "right_"), ("l_", "r_")):
            if name.startswith(left) and right + name[len(left) :] in names:
                pairs.append((i, names.index(right + name[len(left) :])))
    return tuple(pairs)


def load_skeleton(path: str | os.PathLike[str]) -> Skeleton:
    """Load a custom schema from YAML; errors name the file and the problem."""
    return Skeleton.from_dict(read_yaml(path, kind="skeleton"), source=str(path))


_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
_COCO_LINKS = (
    ("left_ankle", "left_knee", _LEFT), ("left_knee", "left_hip", _LEFT),
    ("right_ankle", "right_knee", _RIGHT), ("right_knee", "right_hip", _RIGHT),
    ("left_hip", "right_hip", _BLUE), ("left_shoulder", "left_hip", _BLUE),
    ("right_shoulder", "right_hip", _BLUE), ("left_shoulder", "right_shoulder", _BLUE),
    ("left_shoulder", "left_elbow", _LEFT), ("right_shoulder", "right_elbow", _RIGHT),
    ("left_elbow", "left_wrist", _LEFT), ("right_elbow", "right_wrist", _RIGHT),
    ("left_eye", "right_eye", _BLUE), ("nose", "left_eye", _BLUE),
    ("nose", "right_eye", _BLUE), ("left_eye", "left_ear", _BLUE),
    ("right_eye", "right_ear", _BLUE), ("left_ear", "left_shoulder", _BLUE),
    ("right_ear", "right_shoulder", _BLUE),
)  # fmt: skip


def _builtin(
    name: str,
    names: tuple[str, ...],
    links: tuple[tuple[str, str, Color], ...],
    sigmas: tuple[float, ...] | None = None,
) -> Skeleton:
    """A built-in schema from named links; joints coloured by body side."""
    return Skeleton(
        name=name,
        keypoint_names=names,
        links=tuple((names.index(a), names.index(b)) for a, b, _ in links),
        flip_pairs=infer_flip_pairs(names),
        keypoint_colors=tuple(
            _LEFT if n.startswith("left") else _RIGHT if n.startswith("right") else _BLUE for n in names
        ),
        link_colors=tuple(c for _, _, c in links),
        sigmas=sigmas,
    )


COCO17 = _builtin(
    "coco17",
    _COCO_NAMES,
    _COCO_LINKS,
    sigmas=(
        0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
        0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
    ),
)  # fmt: skip

_H36M_NAMES = (
    "root", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee",
    "left_foot", "spine", "thorax", "neck_base", "head", "left_shoulder",
    "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip
_H36M_LINKS = (
    ("root", "left_hip", _LEFT), ("left_hip", "left_knee", _LEFT),
    ("left_knee", "left_foot", _LEFT), ("root", "right_hip", _RIGHT),
    ("right_hip", "right_knee", _RIGHT), ("right_knee", "right_foot", _RIGHT),
    ("root", "spine", _BLUE), ("spine", "thorax", _BLUE),
    ("thorax", "neck_base", _BLUE), ("neck_base", "head", _BLUE),
    ("thorax", "left_shoulder", _LEFT), ("left_shoulder", "left_elbow", _LEFT),
    ("left_elbow", "left_wrist", _LEFT), ("thorax", "right_shoulder", _RIGHT),
    ("right_shoulder", "right_elbow", _RIGHT), ("right_elbow", "right_wrist", _RIGHT),
)  # fmt: skip

H36M17 = _builtin("h36m17", _H36M_NAMES, _H36M_LINKS)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (COCO17, H36M17)}

# Official schemas too large to write out here: name → data file in bundled/skeletons/.
BUNDLED_SKELETONS_DIR = Path(__file__).resolve().parent / "bundled" / "skeletons"
BUNDLED_SKELETONS: dict[str, Path] = {
    name: BUNDLED_SKELETONS_DIR / f"{name}.yaml" for name in ("coco_wholebody", "hand21", "face106", "ap10k")
}


@cache
def bundled_skeleton(name: str) -> Skeleton:
    """A bundled official schema, read once."""
    return load_skeleton(BUNDLED_SKELETONS[name])


HAND_GROUPS = ("left_hand", "right_hand")  # the hand stage's groups, in keypoint order


def with_hands(body: Skeleton, hand: Skeleton) -> Skeleton:
    """``body`` followed by two ``hand`` schemas, the groups ``left_hand`` and ``right_hand``:
    what the hand stage (:mod:`pose_perception.hand_stage`) publishes (coco17 + 2 x hand21 =
    59 keypoints). Hand names are prefixed with the group (``left_hand_wrist``), hand links
    and colours repeat per group with offset indices, flipping swaps the two groups joint by
    joint (and the body's pairs), OKS sigmas are concatenated (None unless both have them).
    The body keeps its groups, or becomes the group ``body``."""
    k_body, k_hand = body.num_keypoints, hand.num_keypoints
    starts = [k_body + n * k_hand for n in range(len(HAND_GROUPS))]

    def offset(pairs: tuple[tuple[int, int], ...], start: int) -> tuple[tuple[int, int], ...]:
        return tuple((a + start, b + start) for a, b in pairs)

    left, right = starts
    sigmas = None
    if body.sigmas is not None and hand.sigmas is not None:
        sigmas = body.sigmas + hand.sigmas * len(HAND_GROUPS)
    return Skeleton(
        name=f"{body.name}_hands",
        keypoint_names=body.keypoint_names
        + tuple(f"{group}_{name}" for group in HAND_GROUPS for name in hand.keypoint_names),
        links=body.links + tuple(link for start in starts for link in offset(hand.links, start)),
        flip_pairs=body.flip_pairs + tuple((left + i, right + hand.flip_indices[i]) for i in range(k_hand)),
        keypoint_colors=body.keypoint_colors + hand.keypoint_colors * len(HAND_GROUPS),
        link_colors=body.link_colors + hand.link_colors * len(HAND_GROUPS),
        sigmas=sigmas,
        groups=(body.groups or (("body", 0, k_body - 1),))
        + tuple((group, start, start + k_hand - 1) for group, start in zip(HAND_GROUPS, starts, strict=True)),
    )


BODY_WITH_HANDS = "coco17_hands"  # with_hands(coco17, hand21), also by name


def get_skeleton(name_or_path: str) -> Skeleton:
    """A built-in schema by name (``coco17``, ``h36m17``, ``coco_wholebody``, ``hand21``,
    ``face106``, ``ap10k``, ``coco17_hands``) or a YAML file path."""
    if name_or_path in SKELETONS:
        return SKELETONS[name_or_path]
    if name_or_path in BUNDLED_SKELETONS:
        return bundled_skeleton(name_or_path)
    if name_or_path == BODY_WITH_HANDS:
        return with_hands(COCO17, bundled_skeleton("hand21"))
    if name_or_path.endswith((".yaml", ".yml")):
        return load_skeleton(name_or_path)
    builtin = ", ".join([*SKELETONS, *BUNDLED_SKELETONS, BODY_WITH_HANDS])
    raise ValueError(f"unknown skeleton {shown(name_or_path)}; built-in: {builtin} or a .yaml path")
