"""How each keypoint group is drawn: one table for RViz markers, the annotated image and the CLI.

Whole-body schemas (``coco_wholebody``) name their parts in ``Skeleton.groups``; hands and
face are dense and small, so they are drawn smaller and in one colour per group, which
keeps them readable next to the body. A keypoint outside every group counts as ``body``
(so body-only schemas such as ``coco17`` draw exactly as before: all body).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pose_perception.settings import shown
from pose_perception.skeletons import Color, Skeleton

BODY = "body"


@dataclass(frozen=True)
class GroupStyle:
    """``color`` (RGB) of the group's joints and limbs; None keeps the body's colours (the
    skeleton's own in the image, the track's in markers). ``scale``: joint size and limb
    width relative to the body's."""

    color: Color | None
    scale: float


# group name → style; the names are those of the bundled schemas' groups.
GROUP_STYLES: dict[str, GroupStyle] = {
    BODY: GroupStyle(None, 1.0),
    "feet": GroupStyle((255, 0, 255), 0.6),
    "face": GroupStyle((255, 255, 255), 0.3),
    "left_hand": GroupStyle((0, 255, 255), 0.4),
    "right_hand": GroupStyle((255, 255, 0), 0.4),
}
_UNLISTED = GroupStyle(None, 1.0)  # a custom schema's group not in the table: drawn as the body


def group_style(name: str) -> GroupStyle:
    return GROUP_STYLES.get(name, _UNLISTED)


@dataclass(frozen=True)
class SkeletonParts:
    """Each keypoint's and each link's group name, and the group names in drawing order
    (body first). A link belongs to the group of its second keypoint (ankle → toe: feet)."""

    keypoint_groups: tuple[str, ...]
    link_groups: tuple[str, ...]
    names: tuple[str, ...]


def skeleton_parts(skeleton: Skeleton) -> SkeletonParts:
    """Computed once per schema (every frame asks); a schema built with lists is unhashable."""
    try:
        return _cached_parts(skeleton)
    except TypeError:
        return _parts(skeleton)


@lru_cache(maxsize=16)
def _cached_parts(skeleton: Skeleton) -> SkeletonParts:
    return _parts(skeleton)


def _parts(skeleton: Skeleton) -> SkeletonParts:
    keypoint_groups = [BODY] * skeleton.num_keypoints
    for name, first, last in skeleton.groups:
        keypoint_groups[first : last + 1] = [name] * (last + 1 - first)
    names = [BODY] + [name for name, _, _ in skeleton.groups if name != BODY]
    return SkeletonParts(
        keypoint_groups=tuple(keypoint_groups),
        link_groups=tuple(keypoint_groups[b] for _, b in skeleton.links),
        names=tuple(names),
    )


def keypoint_colors(skeleton: Skeleton) -> tuple[Color, ...]:
    """Per keypoint: its group's colour, else the skeleton's own."""
    groups = skeleton_parts(skeleton).keypoint_groups
    return tuple(_color_of(g, own) for g, own in zip(groups, skeleton.keypoint_colors, strict=True))


def link_colors(skeleton: Skeleton) -> tuple[Color, ...]:
    """Per link: its group's colour, else the skeleton's own."""
    groups = skeleton_parts(skeleton).link_groups
    return tuple(_color_of(g, own) for g, own in zip(groups, skeleton.link_colors, strict=True))


def _color_of(group: str, own: Color) -> Color:
    color = group_style(group).color
    return own if color is None else color


def keypoint_scales(skeleton: Skeleton) -> tuple[float, ...]:
    return tuple(group_style(g).scale for g in skeleton_parts(skeleton).keypoint_groups)


def link_scales(skeleton: Skeleton) -> tuple[float, ...]:
    return tuple(group_style(g).scale for g in skeleton_parts(skeleton).link_groups)


def parse_group_names(text: str, setting_name: str) -> tuple[str, ...]:
    """A comma-separated list of group names from the table (``"left_hand, right_hand"``);
    empty text is no groups. An unknown name is a one-line error naming the setting."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        if name not in GROUP_STYLES:
            raise ValueError(f"{setting_name}: unknown group {shown(name)}; known: {', '.join(GROUP_STYLES)}")
    return names
