"""Multi-person pose tracking: constant-velocity Kalman boxes + IoU/OKS Hungarian matching.

The design follows the SORT family (Bewley et al. 2016, "Simple Online and Realtime
Tracking"; ByteTrack's two-stage association, Zhang et al. 2022), written from the
standard equations: a Kalman filter on (cx, cy, w, h) and their velocities, driven by
the real time between stamps so dropped or skipped frames predict correctly. Poses add
a second cue: the OKS between a track's last keypoints (moved with the prediction) and
a detection's, which separates people whose boxes overlap at a crossing.

Ids: a track gets an id when it is confirmed (``min_hits`` matches in a row); ids start
at 1, are never reused within a tracker's life, and 0 (``people.UNTRACKED``) is what
tentative detections report. Unmatched confirmed tracks go *lost* and keep predicting,
so a person re-detected after an occlusion shorter than ``max_missing_s`` keeps its id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose_perception.people import UNTRACKED
from pose_perception.skeletons import COCO17

COCO_SIGMAS = np.asarray(COCO17.sigmas, np.float64)  # the built-in skeleton carries them


@dataclass
class TrackerConfig:
    """Tracker tuning; the defaults hold ids through 2 s occlusions at 30 fps with noisy boxes."""

    min_hits: int = 3  # consecutive matches before a track is confirmed and named
    max_missing_s: float = 3.0  # a lost track is removed after this long unmatched
    max_missing_frames: int | None = None  # optional: also remove after this many missed updates
    iou_weight: float = 0.5  # similarity = w·IoU + (1 − w)·OKS
    min_similarity: float = 0.2  # below this a track/detection pair never matches
    min_lost_similarity: float = 0.1  # looser gate for lost tracks, whose prediction has drifted
    min_oks: float = 0.2  # pose gate: a detection this unlike a track's pose never matches it
    keypoint_score_threshold: float = 0.3  # keypoints below this are left out of OKS
    min_detection_score: float = 0.0  # weaker detections never start a new track
    measurement_std: float = 0.05  # box measurement noise, fraction of box size
    acceleration_std: float = 0.5  # process noise: acceleration, fraction of box size per s²
    sigmas: tuple[float, ...] | None = None  # OKS sigmas; None = COCO-17 (needs K = 17)

    def validate(self) -> TrackerConfig:
        """Raise ValueError naming the bad field; return self for chaining."""
        checks = (
            (self.min_hits >= 1, f"min_hits must be >= 1, got {self.min_hits}"),
            (self.max_missing_s >= 0, f"max_missing_s must be >= 0, got {self.max_missing_s}"),
            (
                self.max_missing_frames is None or self.max_missing_frames >= 1,
                f"max_missing_frames must be None or >= 1, got {self.max_missing_frames}",
            ),
            (0.0 <= self.iou_weight <= 1.0, f"iou_weight must be in [0, 1], got {self.iou_weight}"),
            (
                0.0 <= self.min_similarity <= 1.0,
                f"min_similarity must be in [0, 1], got {self.min_similarity}",
            ),
            (
                0.0 <= self.min_lost_similarity <= 1.0,
                f"min_lost_similarity must be in [0, 1], got {self.min_lost_similarity}",
            ),
            (0.0 <= self.min_oks <= 1.0, f"min_oks must be in [0, 1], got {self.min_oks}"),
            (
                0.0 <= self.keypoint_score_threshold <= 1.0,
                f"keypoint_score_threshold must be in [0, 1], got {self.keypoint_score_threshold}",
            ),
            (self.measurement_std > 0, f"measurement_std must be > 0, got {self.measurement_std}"),
            (self.acceleration_std > 0, f"acceleration_std must be > 0, got {self.acceleration_std}"),
            (
                self.sigmas is None or all(s > 0 for s in self.sigmas),
                "sigmas must all be > 0",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(f"TrackerConfig: {message}")
        return self


class BoxKalman:
    """Constant-velocity Kalman filter on a box: state (cx, cy, w, h, vcx, vcy, vw, vh).

    Noise scales with the box size (as in DeepSORT), so near and far people are treated
    alike; process noise is the continuous white-acceleration model integrated over dt.
    """

    def __init__(self, box: np.ndarray, measurement_std: float, acceleration_std: float) -> None:
        self.measurement_std = measurement_std
        self.acceleration_std = acceleration_std
        z = box_to_cxcywh(box)
        self.x = np.concatenate([z, np.zeros(4)])
        scale = self._scale(z)
        self.P = np.diag(np.concatenate([(2 * measurement_std * scale) ** 2, (0.5 * scale) ** 2]))

    @staticmethod
    def _scale(z: np.ndarray) -> np.ndarray:
        """Per-component size: x and w scale with width, y and h with height."""
        w, h = max(float(z[2]), 1.0), max(float(z[3]), 1.0)
        return np.array([w, h, w, h])

    def predicted(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """(x, P) after ``dt`` seconds, without changing the filter."""
        dt = max(dt, 0.0)
        f = np.eye(8)
        f[:4, 4:] = dt * np.eye(4)
        q_acc = (self.acceleration_std * self._scale(self.x[:4])) ** 2
        q = np.zeros((8, 8))
        idx = np.arange(4)
        q[idx, idx] = q_acc * dt**3 / 3
        q[idx, idx + 4] = q[idx + 4, idx] = q_acc * dt**2 / 2
        q[idx + 4, idx + 4] = q_acc * dt
        x = f @ self.x
        x[2:4] = np.maximum(x[2:4], 1.0)  # a box never shrinks below a pixel
        return x, f @ self.P @ f.T + q

    def predict(self, dt: float) -> None:
        self.x, self.P = self.predicted(dt)

    def update(self, box: np.ndarray) -> None:
        """Standard Kalman correction with the measured box."""
        z = box_to_cxcywh(box)
        r = np.diag((self.measurement_std * self._scale(z)) ** 2)
        s = self.P[:4, :4] + r
        gain = np.linalg.solve(s, self.P[:4, :]).T  # P Hᵀ S⁻¹ (S symmetric)
        self.x = self.x + gain @ (z - self.x[:4])
        self.P = self.P - gain @ self.P[:4, :]
        self.P = 0.5 * (self.P + self.P.T)

    @property
    def box(self) -> np.ndarray:
        return cxcywh_to_box(self.x[:4])

    @property
    def position_variance(self) -> float:
        """Mean variance (px²) of the predicted centre, beyond the box-size-relative noise."""
        return float(0.5 * (self.P[0, 0] + self.P[1, 1]))

    @property
    def velocity(self) -> np.ndarray:
        """(vcx, vcy) in pixels per second."""
        return self.x[4:6].copy()


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

    @property
    def box(self) -> np.ndarray:
        """Current (predicted or corrected) box."""
        return self.kalman.box

    @property
    def velocity(self) -> np.ndarray:
        return self.kalman.velocity

    def moved_keypoints(self) -> np.ndarray:
        """Last keypoints carried along with the box since the last match (shift and scale)."""
        old, new = box_to_cxcywh(self.last_box), box_to_cxcywh(self.box)
        scale = new[2:] / np.maximum(old[2:], 1e-6)
        return (self.keypoints - old[:2]) * scale + new[:2]


class PoseTracker:
    """Online multi-person tracker; call ``update`` once per frame with that frame's people."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = (config or TrackerConfig()).validate()
        self._tracks: list[Track] = []
        self._next_id = 1
        self._stamp: float | None = None

    @property
    def tracks(self) -> tuple[Track, ...]:
        """Live tracks (tentative, confirmed and lost), as of the last update."""
        return tuple(self._tracks)

    def predicted_boxes(
        self, stamp: float | None = None, include_lost: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(track_ids (M,), boxes (M,4)) of confirmed tracks predicted to ``stamp``.

        For skip-frame detection: crop these instead of running the detector. ``stamp``
        None means the last update's stamp.
        """
        dt = 0.0 if stamp is None or self._stamp is None else stamp - self._stamp
        wanted = (TrackState.CONFIRMED, TrackState.LOST) if include_lost else (TrackState.CONFIRMED,)
        chosen = [t for t in self._tracks if t.state in wanted]
        boxes = [cxcywh_to_box(t.kalman.predicted(dt)[0][:4]) for t in chosen]
        return (
            np.array([t.track_id for t in chosen], np.int64),
            np.array(boxes, np.float64).reshape(-1, 4),
        )

    def reset(self) -> None:
        """Forget all tracks (ids keep counting up, so none is ever reused)."""
        self._tracks = []
        self._stamp = None

    def update(
        self,
        bboxes: np.ndarray,
        scores: np.ndarray,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        stamp: float,
    ) -> np.ndarray:
        """Track ids (N,) for this frame's detections; 0 for detections not (yet) confirmed.

        A stamp earlier than the previous one (a looping bag, a clock reset) starts afresh.
        """
        bboxes, scores, keypoints, keypoint_scores = _check_inputs(bboxes, scores, keypoints, keypoint_scores)
        if self._stamp is not None and stamp < self._stamp:
            self.reset()
        dt = 0.0 if self._stamp is None else stamp - self._stamp
        self._stamp = stamp
        for track in self._tracks:
            track.kalman.predict(dt)
        assigned = np.full(len(bboxes), -1, np.int64)  # detection → index into self._tracks
        self._associate(bboxes, keypoints, keypoint_scores, assigned)
        for det, ti in enumerate(assigned):
            if ti >= 0:
                self._apply_match(
                    self._tracks[ti], bboxes[det], scores[det], keypoints[det], keypoint_scores[det]
                )
        matched = {int(ti) for ti in assigned if ti >= 0}
        for i, track in enumerate(self._tracks):
            if i not in matched:
                track.missed += 1
                if track.state is TrackState.CONFIRMED:
                    track.state = TrackState.LOST
        new_tracks = [
            self._new_track(bboxes[d], scores[d], keypoints[d], keypoint_scores[d], stamp)
            for d in np.flatnonzero(assigned < 0)
            if scores[d] >= self.config.min_detection_score
        ]
        ids = np.array([self._tracks[ti].track_id if ti >= 0 else UNTRACKED for ti in assigned], np.int64)
        self._tracks = [t for t in self._tracks if self._alive(t, stamp)] + new_tracks
        return ids

    # -- association ----------------------------------------------------------------

    def _associate(
        self, boxes: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray, assigned: np.ndarray
    ) -> None:
        """Two stages (ByteTrack-like): named (confirmed and lost) tracks, then tentative ones.

        Named tracks are matched in one global assignment: splitting them into "seen last
        frame" and "lost" stages was measured to swap ids at crossings, where one person's
        missed detection lets the other's track grab the wrong box greedily.
        """
        if not len(boxes) or not self._tracks:
            return
        sim, oks = self._similarity(boxes, keypoints, keypoint_scores)
        cfg = self.config
        gated = np.where(np.isnan(oks) | (oks >= cfg.min_oks), sim, -1.0)
        named = [i for i, t in enumerate(self._tracks) if t.state is not TrackState.TENTATIVE]
        tentative = [i for i, t in enumerate(self._tracks) if t.state is TrackState.TENTATIVE]
        for group in (named, tentative):
            free = np.flatnonzero(assigned < 0)
            if not group or not len(free):
                continue
            lost = np.array([self._tracks[i].state is TrackState.LOST for i in group])
            gate = np.where(lost, cfg.min_lost_similarity, cfg.min_similarity)[:, None]
            sub = gated[np.ix_(np.array(group, np.int64), free)]
            rows, cols = linear_sum_assignment(-np.where(sub >= gate, sub, -1.0))
            for r, c in zip(rows, cols, strict=True):
                if sub[r, c] >= gate[r, 0]:
                    assigned[free[c]] = group[r]

    def _similarity(
        self, boxes: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(T, N) similarity (IoU of predicted boxes blended with OKS) and the OKS (NaN: no pose).

        The OKS tolerance grows with the track's position uncertainty, so a track
        predicted through an occlusion can still be recognised where it reappears.
        """
        pred = np.array([t.box for t in self._tracks])
        iou = box_iou(pred, boxes)
        nan = np.full_like(iou, np.nan)
        if self.config.iou_weight >= 1.0 or keypoints.shape[1] == 0:
            return iou, nan
        track_kps = np.array([t.moved_keypoints() for t in self._tracks])
        track_ok = np.array([t.keypoint_scores for t in self._tracks]) >= self.config.keypoint_score_threshold
        det_ok = keypoint_scores >= self.config.keypoint_score_threshold
        extra_var = np.array([t.kalman.position_variance for t in self._tracks])
        oks = object_keypoint_similarity(
            track_kps, track_ok, keypoints, det_ok, pred, self._sigmas(keypoints.shape[1]), extra_var
        )
        w = self.config.iou_weight
        sim = np.where(np.isnan(oks), iou, w * iou + (1.0 - w) * np.nan_to_num(oks))  # no pose: IoU only
        return sim, oks

    def _sigmas(self, num_keypoints: int) -> np.ndarray:
        if self.config.sigmas is not None:
            sigmas = np.asarray(self.config.sigmas, np.float64)
        elif num_keypoints == len(COCO_SIGMAS):
            sigmas = COCO_SIGMAS
        else:
            sigmas = np.full(num_keypoints, float(np.mean(COCO_SIGMAS)))  # unknown schema: average
        if len(sigmas) != num_keypoints:
            raise ValueError(f"TrackerConfig.sigmas has {len(sigmas)} entries for {num_keypoints} keypoints")
        return sigmas

    # -- track life -----------------------------------------------------------------

    def _apply_match(
        self, track: Track, box: np.ndarray, score: float, kps: np.ndarray, kp_scores: np.ndarray
    ) -> None:
        track.kalman.update(box)
        track.keypoints, track.keypoint_scores = kps.copy(), kp_scores.copy()
        track.last_box, track.last_seen, track.score = track.box, float(self._stamp or 0.0), float(score)
        track.hits += 1
        track.missed = 0
        if track.state is TrackState.LOST:
            track.state = TrackState.CONFIRMED
        elif track.state is TrackState.TENTATIVE and track.hits >= self.config.min_hits:
            self._confirm(track)

    def _confirm(self, track: Track) -> None:
        track.state = TrackState.CONFIRMED
        track.track_id = self._next_id
        self._next_id += 1

    def _new_track(
        self, box: np.ndarray, score: float, kps: np.ndarray, kp_scores: np.ndarray, stamp: float
    ) -> Track:
        cfg = self.config
        kalman = BoxKalman(box, cfg.measurement_std, cfg.acceleration_std)
        track = Track(kalman, kps.copy(), kp_scores.copy(), kalman.box, stamp, float(score))
        if cfg.min_hits <= 1:
            self._confirm(track)
        return track

    def _alive(self, track: Track, stamp: float) -> bool:
        """Tentative tracks die on their first miss; lost ones after the configured gap."""
        if track.missed == 0:
            return True
        if track.state is TrackState.TENTATIVE:
            return False
        cfg = self.config
        if cfg.max_missing_frames is not None and track.missed > cfg.max_missing_frames:
            return False
        return stamp - track.last_seen <= cfg.max_missing_s


# -- geometry ---------------------------------------------------------------------------


def box_to_cxcywh(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box)[:4])
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0), max(y2 - y1, 1.0)])


def cxcywh_to_box(z: np.ndarray) -> np.ndarray:
    cx, cy, w, h = (float(v) for v in z[:4])
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (T,4) and (N,4) x1,y1,x2,y2 boxes → (T,N)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def object_keypoint_similarity(
    kps_a: np.ndarray,
    ok_a: np.ndarray,
    kps_b: np.ndarray,
    ok_b: np.ndarray,
    boxes_a: np.ndarray,
    sigmas: np.ndarray,
    extra_var: np.ndarray | None = None,
) -> np.ndarray:
    """(T, N) COCO OKS between pose sets, scaled by ``boxes_a`` area, over keypoints valid in both.

    Pairs sharing no valid keypoint get NaN (no evidence either way).
    """
    d2 = np.sum((kps_a[:, None] - kps_b[None]) ** 2, axis=-1)  # (T, N, K)
    wh = np.clip(boxes_a[:, 2:] - boxes_a[:, :2], 1.0, None)
    area = (wh[:, 0] * wh[:, 1])[:, None, None]
    var = area * (2.0 * sigmas) ** 2
    if extra_var is not None:  # (T,) px²: uncertainty of where pose A's points really are
        var = var + np.asarray(extra_var, np.float64)[:, None, None]
    e = np.exp(-d2 / (2.0 * var))
    valid = ok_a[:, None, :] & ok_b[None, :, :]
    count = valid.sum(-1)
    return np.where(count > 0, (e * valid).sum(-1) / np.maximum(count, 1), np.nan)


def _check_inputs(
    bboxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, keypoint_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """As float64 arrays with consistent shapes; empty frames may come as any empty array."""
    n = len(bboxes)
    k = np.shape(keypoints)[1] if n and np.ndim(keypoints) == 3 else 0
    b = np.asarray(bboxes, np.float64).reshape(n, -1)[:, :4] if n else np.zeros((0, 4))
    s = np.asarray(scores, np.float64).reshape(-1) if n else np.zeros(0)
    kp = np.asarray(keypoints, np.float64)[..., :2].reshape(n, k, 2) if n else np.zeros((0, 0, 2))
    ks = np.asarray(keypoint_scores, np.float64).reshape(n, k) if n else np.zeros((0, 0))
    if b.shape[1] != 4 or len(s) != n:
        raise ValueError(f"update: bboxes {np.shape(bboxes)} and scores {np.shape(scores)} disagree")
    return b, s, kp, ks
