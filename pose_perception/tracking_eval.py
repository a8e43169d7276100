"""Standard tracking metrics (MOTA, IDF1, id switches) of a tracker on a walker sequence.

The counting is motmetrics' (the py-motmetrics implementation of the CLEAR-MOT and
identity metrics), not ours: a hand-written id-switch count is easy to get subtly wrong
and cannot be compared with other trackers' published figures. motmetrics is a ``dev``
extra, so it is imported only when scoring. This module needs nothing of the pipeline:
a tracker is any callable from one frame's ``Detections`` and its image (BGR, or None
when the run has no frames) to track ids (0 = untracked), which is also how the boxmot
trackers are plugged in for the side-by-side. Frames come from
``synthetic.frames.render_frames``; only the tracker call is timed, not the rendering.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pose_perception.synthetic.walkers import Detections
from pose_perception.synthetic.walkers import Sequence as WalkerSequence
from pose_perception.tracking import PoseTracker, TrackerConfig, box_iou

# One frame's detections and its image (H×W×3 uint8 BGR, or None) → ids (N,), 0 = none.
FrameTracker = Callable[[Detections, np.ndarray | None], np.ndarray]
# A run's images, aligned with its detections: a sequence, or a function of the frame index.
Frames = Sequence[np.ndarray] | Callable[[int], np.ndarray]
MATCH_IOU = 0.5  # a track's box counts for a person when their IoU is at least this


@dataclass(frozen=True)
class TrackingScores:
    """motmetrics' figures for one run, plus the tracker's own time per frame."""

    idf1: float
    mota: float
    id_switches: int
    ms_per_frame: float


def pose_tracker(config: TrackerConfig | None = None) -> FrameTracker:
    """Our ``PoseTracker`` as a ``FrameTracker`` (a fresh one per call: no state shared)."""
    tracker = PoseTracker(config)

    def track(det: Detections, image_bgr: np.ndarray | None = None) -> np.ndarray:
        return tracker.update(det.boxes, det.scores, det.keypoints, det.keypoint_scores, det.stamp, image_bgr)

    return track


def run_tracker(
    track: FrameTracker, detections: Sequence[Detections], frames: Frames | None = None
) -> tuple[list[np.ndarray], float]:
    """Each frame's ids and the mean milliseconds per frame spent in ``track`` (not in ``frames``)."""
    if isinstance(frames, Sequence) and len(frames) != len(detections):
        raise ValueError(f"run_tracker: {len(frames)} frames for {len(detections)} detections")
    ids, spent = [], 0.0
    for index, det in enumerate(detections):
        image = _frame_at(frames, index)
        start = time.perf_counter()
        ids.append(np.asarray(track(det, image), np.int64))
        spent += time.perf_counter() - start
    return ids, 1000.0 * spent / max(len(detections), 1)


def _frame_at(frames: Frames | None, index: int) -> np.ndarray | None:
    if frames is None:
        return None
    return frames(index) if callable(frames) else frames[index]


def score(
    sequence: WalkerSequence,
    detections: Sequence[Detections],
    ids: Sequence[np.ndarray],
    ms_per_frame: float,
    by_identity: bool = True,
) -> TrackingScores:
    """MOTA, IDF1 and id switches of per-frame track ``ids`` (for ``detections``' rows).

    The ground truth is every person in view in each frame, detected or not: a missed
    detection is a miss for the tracker too, as in the MOT benchmarks.

    ``by_identity``: a detection may only be paired with the person it was made from
    (synthetic detections know), still needing IoU ≥ ``MATCH_IOU``. Pairing by IoU alone
    (False, the MOT benchmarks' way when the truth is unknown) lets box noise cross the
    pairing of two people whose boxes overlap by more than half: motmetrics then counts
    switches of a tracker whose every id is right (seen at the start of clips that begin
    mid-crossing). Both ways score every tracker on the same footing.
    """
    import motmetrics as mm  # dev extra

    if len(detections) != len(sequence.frames) or len(ids) != len(detections):
        raise ValueError("score: need one detections entry and one ids array per sequence frame")
    acc = mm.MOTAccumulator(auto_id=True)
    for frame, det, frame_ids in zip(sequence.frames, detections, ids, strict=True):
        tracked = frame_ids > 0
        gt_boxes = frame.boxes[frame.visible]
        hyp_boxes = det.boxes[tracked]
        dist = _iou_distances(gt_boxes, hyp_boxes)
        if by_identity:
            same = frame.gt_ids[frame.visible][:, None] == det.gt_ids[tracked][None, :]
            dist = np.where(same, dist, np.nan)
        acc.update(frame.gt_ids[frame.visible].tolist(), frame_ids[tracked].tolist(), dist)
    summary = mm.metrics.create().compute(acc, metrics=["idf1", "mota", "num_switches"], name="run")
    row = summary.loc["run"]
    return TrackingScores(float(row["idf1"]), float(row["mota"]), int(row["num_switches"]), ms_per_frame)


def evaluate(
    sequence: WalkerSequence,
    detections: Sequence[Detections],
    track: FrameTracker,
    frames: Frames | None = None,
) -> TrackingScores:
    """Run ``track`` over ``detections`` of ``sequence`` (with ``frames``' images) and score it."""
    ids, ms = run_tracker(track, detections, frames)
    return score(sequence, detections, ids, ms)


def _iou_distances(gt_boxes: np.ndarray, hyp_boxes: np.ndarray) -> np.ndarray:
    """1 − IoU, NaN (no match possible) below ``MATCH_IOU``: motmetrics' convention.

    Not ``mm.distances.iou_matrix``: motmetrics 1.4.0 calls ``np.asfarray``, gone in NumPy 2.
    """
    iou = box_iou(gt_boxes.reshape(-1, 4), hyp_boxes.reshape(-1, 4))
    return np.where(iou >= MATCH_IOU, 1.0 - iou, np.nan)


@dataclass(frozen=True)
class ReentryOutcome:
    """How a tracker named people who came back, and whether any id went to someone else."""

    returns: int  # people who were out of view (or hidden) and came back
    kept: int  # of those, named by the id they had before leaving
    wrong: int  # (id, person) pairs beyond an id's first person: an id given to someone else


def reentry_outcome(
    sequence: WalkerSequence, detections: Sequence[Detections], ids: Sequence[np.ndarray]
) -> ReentryOutcome:
    """Count re-entries that kept their id and ids that ever named a second person.

    A return is a stretch of frames a person is not visible, with visible frames on both
    sides; the id before is the last one the tracker gave that person, the id after the
    first one (0s, not yet confirmed, are skipped).
    """
    owner: dict[int, int] = {}
    wrong: set[tuple[int, int]] = set()
    named: dict[int, list[tuple[int, int]]] = {}  # gt id → (frame, track id) where named
    for index, (det, frame_ids) in enumerate(zip(detections, ids, strict=True)):
        for gt, tid in zip(det.gt_ids.tolist(), frame_ids.tolist(), strict=True):
            if tid == 0:
                continue
            if owner.setdefault(tid, gt) != gt:
                wrong.add((tid, gt))
            named.setdefault(gt, []).append((index, tid))
    returns = kept = 0
    visible = np.array([f.visible for f in sequence.frames])  # (T, M), rows in walker order
    for column, gt in enumerate(sequence.frames[0].gt_ids.tolist()):
        seen = visible[:, column]
        for start in np.flatnonzero(seen[:-1] & ~seen[1:]) + 1:  # first frame out of view
            back = start + int(np.argmax(seen[start:])) if seen[start:].any() else None
            if back is None:
                continue
            before = [tid for i, tid in named.get(gt, []) if i < start]
            after = [tid for i, tid in named.get(gt, []) if i >= back]
            if before and after:
                returns += 1
                kept += int(before[-1] == after[0])
    return ReentryOutcome(returns, kept, len(wrong))
