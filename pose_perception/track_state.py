"""What the tracker keeps of each person (``Track``) and what it computes once per frame
(``FrameOverlaps``, ``Views``), apart from ``tracking.py``, which matches and keeps tracks alive.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from pose_perception.appearance import REGIONS
from pose_perception.people import UNTRACKED
from pose_perception.track_geometry import BoxKalman


@dataclass(frozen=True)
class FrameOverlaps:
    """This frame's boxes and their overlaps, computed once after the tracks' prediction: the
    tracks' (T, 4) predicted boxes and the (T + N, T + N) IoU of tracks then people, read by
    association, the look penalty and look trust alike."""

    tracks: np.ndarray
    iou: np.ndarray

    @property
    def tracks_tracks(self) -> np.ndarray:
        return self.iou[: len(self.tracks), : len(self.tracks)]

    @property
    def tracks_people(self) -> np.ndarray:
        return self.iou[: len(self.tracks), len(self.tracks) :]

    @property
    def people_people(self) -> np.ndarray:
        return self.iou[len(self.tracks) :, len(self.tracks) :]


@dataclass(frozen=True)
class Views:
    """What a frame shows of its people (only with the image): (N, REGIONS, 3) looks, (N,)
    foot lines, (N,) whether each stands clearly in front of every other detected person
    overlapping them, and (N, N) which detected people overlap (``appearance_max_overlap``)."""

    looks: np.ndarray
    feet: np.ndarray
    ahead: np.ndarray
    partners: np.ndarray


class TrackState(enum.Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"


@dataclass
class Track:
    """One tracked person; ``track_id`` is 0 until the track is confirmed."""

    kalman: BoxKalman
    keypoints: np.ndarray  # (K, 2) at the last match
    keypoint_scores: np.ndarray  # (K,)
    last_box: np.ndarray  # (4,) filtered box at the last match
    last_seen: float  # stamp of the last match
    score: float
    track_id: int = UNTRACKED
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1
    missed: int = 0  # consecutive unmatched updates
    look: np.ndarray | None = None  # (REGIONS, 3) colour memory (appearance.py); None: never seen
    pose_velocity: np.ndarray | None = None  # (2,) px/s of the confident keypoints' mean; None: unknown

    @property
    def box(self) -> np.ndarray:
        """Current (predicted or corrected) box."""
        return self.kalman.box

    @property
    def velocity(self) -> np.ndarray:
        return self.kalman.velocity


def look_of(track: Track) -> np.ndarray:
    """A track's look memory, all NaN (no evidence) when it has none yet."""
    return track.look if track.look is not None else np.full((REGIONS, 3), np.nan)
