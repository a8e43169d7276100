"""Re-entry: the looks of people who left, so one who comes back gets the old id.

When a named track ends (unseen longer than ``max_missing_s``), its appearance memory,
last box and the image edge it left by (if any) are kept for ``reentry_s``. A newly
confirmed track claims a departed id only when (1) its look is within
``reentry_max_distance`` of the departed one's, (2) the place agrees — back near the edge
the person left by, or, for someone hidden inside the view, near where they were last
seen allowing for walking speed — and (3) the match is unambiguous (no second departed
person about as close in look). A departed id is handed out once; ids of live tracks are
never in the gallery, so no one present can lose theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_perception.appearance import distances
from pose_perception.track_geometry import box_to_cxcywh

AMBIGUITY_RATIO = 0.5  # the best look must be this much closer than the runner-up
WALK_HEIGHTS_PER_S = 1.0  # how far (person heights per second) someone hidden may walk
SIZE_RATIO = 1.6  # a returning person's box height within this factor of the old one


@dataclass(frozen=True)
class Departed:
    """A named track that ended: what it looked like and where it was last seen."""

    track_id: int
    look: np.ndarray  # (REGIONS, 3), NaN where never seen
    box: np.ndarray  # (4,) last observed box
    stamp: float
    edge: str | None  # "left", "right", "top", "bottom" when it left the view that way


def exit_edge(box: np.ndarray, image_size: tuple[int, int] | None) -> str | None:
    """The image edge within one box width/height of the box centre, if any."""
    if image_size is None:
        return None
    width, height = image_size
    cx, cy, w, h = box_to_cxcywh(box)
    gaps = {"left": cx / w, "right": (width - cx) / w, "top": cy / h, "bottom": (height - cy) / h}
    edge, gap = min(gaps.items(), key=lambda kv: kv[1])
    return edge if gap < 1.0 else None


class ReentryGallery:
    """Departed tracks, forgotten ``keep_s`` after they were last seen."""

    def __init__(self) -> None:
        self._departed: list[Departed] = []

    def __len__(self) -> int:
        return len(self._departed)

    def add(self, departed: Departed) -> None:
        self._departed.append(departed)

    def forget_before(self, stamp: float) -> None:
        self._departed = [d for d in self._departed if d.stamp >= stamp]

    def clear(self) -> None:
        self._departed = []

    def claim(
        self,
        look: np.ndarray,
        box: np.ndarray,
        stamp: float,
        image_size: tuple[int, int] | None,
        max_distance: float,
    ) -> int | None:
        """The id of the departed person this newcomer is, removed from the gallery; else None."""
        if not self._departed:
            return None
        looks = distances(look[None], np.array([d.look for d in self._departed]))[0]
        places = np.array([self._plausible(d, box, stamp, image_size) for d in self._departed])
        near = np.where(places & ~np.isnan(looks), looks, np.inf)
        order = np.argsort(near)
        best = int(order[0])
        if not near[best] <= max_distance:
            return None
        if len(order) > 1 and near[best] > AMBIGUITY_RATIO * near[int(order[1])]:
            return None  # two departed people look about as much like the newcomer: no guess
        return self._departed.pop(best).track_id

    @staticmethod
    def _plausible(
        departed: Departed, box: np.ndarray, stamp: float, image_size: tuple[int, int] | None
    ) -> bool:
        """Back where it could be: near the edge it left by, or within walking reach."""
        old, new = box_to_cxcywh(departed.box), box_to_cxcywh(box)
        if not 1.0 / SIZE_RATIO <= new[3] / old[3] <= SIZE_RATIO:
            return False
        if departed.edge is not None:
            return exit_edge(box, image_size) == departed.edge
        reach = old[3] * (1.0 + WALK_HEIGHTS_PER_S * max(stamp - departed.stamp, 0.0))
        return bool(np.hypot(*(new[:2] - old[:2])) <= reach)
