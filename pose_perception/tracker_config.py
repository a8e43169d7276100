"""The tracker's settings (the ``tracker`` config section and ROS parameters), apart from the
tracker itself so the one file holds the tuning and its documentation; ``tracking``
re-exports ``TrackerConfig``."""

from __future__ import annotations

from dataclasses import dataclass

from pose_perception.settings import check_settings, setting


@dataclass
class TrackerConfig:
    """Tracker tuning (the ``tracker`` config section / ROS parameters); the defaults hold
    ids through 2 s occlusions at 30 fps with noisy boxes (test/test_tracking.py)."""

    min_hits: int = setting(3, "matches before a track is confirmed and gets an id", min=1, max=100)
    tentative_max_missed: int = setting(
        1, "a track not yet confirmed survives this many missed frames in a row (a blink inside a group)",
        min=0, max=100,
    )  # fmt: skip
    max_missing_s: float = setting(
        3.0,
        "s; a lost track is removed after this long unmatched (occlusions shorter keep the id)",
        min=0.0,
        max=600.0,
    )
    max_missing_frames: int = setting(
        0, "also remove a lost track after this many missed frames; 0 = no frame limit", min=0, max=100000
    )
    iou_weight: float = setting(
        0.0, "similarity = w*IoU + (1-w)*OKS (pose similarity); IoU alone for people without keypoints",
        min=0.0, max=1.0,
    )  # fmt: skip
    min_similarity: float = setting(
        0.2, "a track and a person less similar than this never match", min=0.0, max=1.0
    )
    min_lost_similarity: float = setting(
        0.1, "looser gate for lost tracks, whose prediction has drifted", min=0.0, max=1.0
    )
    min_oks: float = setting(
        0.3, "pose gate: a person this unlike a track's pose never matches it", min=0.0, max=1.0
    )
    ambiguity_margin: float = setting(
        0.15, "a person within this of as similar to a rival (a named track missed now, seen within "
        "ambiguity_window_s) as to their match is reported untracked (0) for the frame; 0 = off",
        min=0.0, max=1.0,
    )  # fmt: skip
    ambiguity_window_s: float = setting(
        0.2, "s; a track missed now is a rival for ambiguity_margin when seen this recently",
        min=0.0, max=600.0,
    )  # fmt: skip
    stale_spread: float = setting(
        1.0,
        "lost tracks whose position variance exceeds this x the OKS variance are matched last",
        min=1e-3,
        max=100.0,
    )
    keypoint_score_threshold: float = setting(
        0.3, "keypoints below this score (can exceed 1) are left out of the pose similarity", min=0.0, max=1.0
    )
    min_detection_score: float = setting(
        0.0, "people whose score (can exceed 1) is below this never start a new track", min=0.0, max=1.0
    )
    measurement_std: float = setting(
        0.05, "box measurement noise, fraction of the box size", min=1e-4, max=10.0
    )
    acceleration_std: float = setting(
        0.5, "process noise: acceleration, fraction of the box size per s^2", min=1e-4, max=100.0
    )
    size_velocity_tau_s: float = setting(
        1.0, "s; box-size rates fade with this time constant (no stride swing extrapolated); 0 = never",
        min=0.0, max=600.0,
    )  # fmt: skip
    appearance_weight: float = setting(
        0.5, "with the frame: similarity - w x colour distance, for tracks unlike their neighbours; 0 = off",
        min=0.0, max=1.0,
    )  # fmt: skip
    appearance_distance_scale: float = setting(
        0.2, "colour distance (0-1) at which two looks count as fully different", min=0.01, max=1.0
    )
    appearance_rate: float = setting(
        0.1, "how fast a track's look memory follows new confident, unoccluded views", min=0.0, max=1.0
    )
    appearance_max_overlap: float = setting(
        0.1, "views overlapping another person's (IoU) more are believed only when clearly in front",
        min=0.0, max=1.0,
    )  # fmt: skip
    reentry_s: float = setting(
        12.0, "s; a departed person's look is kept this long to give the id back on re-entry; 0 = off",
        min=0.0, max=3600.0,
    )  # fmt: skip
    reentry_max_distance: float = setting(
        0.08, "a newcomer whose look is closer than this to a departed person's may take that id",
        min=0.0, max=1.0,
    )  # fmt: skip

    def validate(self) -> TrackerConfig:
        """Raise ValueError naming the bad field; return self for chaining."""
        try:
            check_settings(self)
        except ValueError as err:
            raise ValueError(f"TrackerConfig: {err}") from None
        return self
