"""boxmot's ByteTrack, OC-SORT and BoT-SORT as ``FrameTracker``s for bench/tracking_families.py.

Needs the bench environment of ``scripts/setup_boxmot_env.sh`` (``.venv-boxmot``: boxmot
25.0.0 installed ``--no-deps`` plus what these three trackers import, see
requirements/boxmot.txt); in the project's own venv ``available()`` is False and the
table simply has no boxmot rows.

Which motion+appearance tracker, and why BoT-SORT with a colour-histogram embedding:
every appearance tracker of boxmot 25 (BoT-SORT, DeepOCSORT, StrongSORT, BoostTrack,
HybridSORT) takes its appearance from a ReID CNN, and without ``reid_weights`` boxmot's
``ReID`` loads ``osnet_x0_25_msmt17.pt``, a download (no model hub is reachable here and
the issue asks for no weights). None of them computes an embedding without weights. What
boxmot does offer is the ``reid_model`` hook (any object with
``get_features(boxes_xyxy, image_bgr) -> (N, D)``), so BoT-SORT runs with its own
appearance association (IoU-gated cosine distance, ``appearance_thresh``, its embedding
memory) fed by ``ColourHistogram`` below: a weight-free hue × saturation histogram of the
box's central part, the same kind of cue our ``PoseTracker`` uses. BoT-SORT also uses the
frames for camera-motion compensation (its default ECC), which needs no weights either.
Caveat: the embedding is ours, not a trained ReID network; a real OSNet would separate
people better on real video, and on these synthetic frames (flat-coloured clothes on a
textured wall) a colour histogram is already a strong cue. Every other setting is boxmot's
default, as people run it. The hook's contract and the output layout (x1, y1, x2, y2, id,
conf, cls, det_ind per track row) are read from boxmot 25.0.0's BaseTracker; no boxmot
code is copied.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from pose_perception.synthetic.walkers import Detections
from pose_perception.tracking_eval import FrameTracker

PERSON = 0  # the one class id we hand boxmot
DET_INDEX, TRACK_ID = 7, 4  # columns of boxmot's numpy track rows
HUE_BINS, SAT_BINS = 16, 4
# The part of a box the histogram is taken from (fractions of width, height): the torso
# and legs, less the background at the sides and the head and feet.
CENTRE_X, CENTRE_Y = (0.25, 0.75), (0.15, 0.9)


def available() -> bool:
    """Whether boxmot is installed here (it is only in ``.venv-boxmot``)."""
    return importlib.util.find_spec("boxmot") is not None


class ColourHistogram:
    """Weight-free appearance for boxmot's ``reid_model`` hook: an HSV hue × saturation histogram."""

    def get_features(self, boxes_xyxy: np.ndarray, image_bgr: np.ndarray) -> np.ndarray:
        """One L1-normalised (HUE_BINS × SAT_BINS) histogram per box (N, D); boxmot L2-normalises."""
        return np.stack([self._histogram(image_bgr, box) for box in np.asarray(boxes_xyxy, np.float64)])

    @staticmethod
    def _histogram(image_bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
        x1, y1, x2, y2 = box[:4]
        w, h = x2 - x1, y2 - y1
        height, width = image_bgr.shape[:2]
        left, right = (int(np.clip(x1 + f * w, 0, width)) for f in CENTRE_X)
        top, bottom = (int(np.clip(y1 + f * h, 0, height)) for f in CENTRE_Y)
        crop = image_bgr[top:bottom, left:right]
        if crop.size == 0:  # a box wholly outside the image: no evidence, a flat histogram
            return np.full(HUE_BINS * SAT_BINS, 1.0 / (HUE_BINS * SAT_BINS), np.float32)
        hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)  # the crop only: a whole 720p frame costs ms
        hist = cv2.calcHist([hsv], [0, 1], None, [HUE_BINS, SAT_BINS], [0, 180, 0, 256]).ravel()
        return (hist / hist.sum()).astype(np.float32)


def as_frame_tracker(tracker: Any, needs_frame: bool) -> FrameTracker:
    """Wrap a boxmot tracker: our detection rows in, one id per row out (0 = no track).

    boxmot returns one row per confirmed track with the index of the detection it was
    matched to this frame (−1 for a track shown from prediction only); ids are mapped back
    to our rows by that index. boxmot's ids start at 1 in 25.0.0, but 0 is "no id" for us,
    so every id is shifted by one (a bijection: the metrics cannot change).
    """

    def track(det: Detections, image_bgr: np.ndarray | None) -> np.ndarray:
        if needs_frame and image_bgr is None:
            raise ValueError(f"{type(tracker).__name__} needs the frames: run the bench without --no-frames")
        rows = np.column_stack([det.boxes, det.scores, np.full(len(det.scores), PERSON)])
        out = tracker.update(rows.astype(np.float32).reshape(-1, 6), image_bgr)
        ids = np.zeros(len(det.scores), np.int64)
        matched = out[:, DET_INDEX] >= 0
        ids[out[matched, DET_INDEX].astype(np.int64)] = out[matched, TRACK_ID].astype(np.int64) + 1
        return ids

    return track


def _quiet_boxmot() -> None:
    """boxmot logs each tracker's settings at INFO on creation: once per seed and cell is noise."""
    logging.getLogger("boxmot").setLevel(logging.WARNING)


def bytetrack() -> FrameTracker:
    """boxmot's ByteTrack, defaults (boxes and scores only)."""
    from boxmot import ByteTrack

    _quiet_boxmot()
    return as_frame_tracker(ByteTrack(), needs_frame=False)


def ocsort() -> FrameTracker:
    """boxmot's OC-SORT, defaults (boxes and scores only)."""
    from boxmot import OcSort

    _quiet_boxmot()
    return as_frame_tracker(OcSort(), needs_frame=False)


def botsort_colour() -> FrameTracker:
    """boxmot's BoT-SORT: ECC camera-motion compensation and ``ColourHistogram`` appearance."""
    from boxmot import BotSort

    _quiet_boxmot()
    return as_frame_tracker(BotSort(reid_model=ColourHistogram()), needs_frame=True)


# Table name → factory of a fresh tracker; bench/tracking_families.py adds these when available().
BOXMOT_TRACKERS: dict[str, Callable[[], FrameTracker]] = {
    "boxmot ByteTrack": bytetrack,
    "boxmot OC-SORT": ocsort,
    "boxmot BoT-SORT+colour": botsort_colour,
}
