"""Multi-person pose tracking: constant-velocity Kalman boxes + IoU/OKS Hungarian matching.

The design follows the SORT family (Bewley et al. 2016, "Simple Online and Realtime
Tracking"; DeepSORT's matching cascade, Wojke et al. 2017; OC-SORT's observation-centric
recovery, Cao et al. 2023), written from the standard equations: a Kalman filter on
(cx, cy, w, h) and their velocities, driven by the real time between stamps so dropped
or skipped frames predict correctly. Poses add a second cue: the OKS between a track's
last keypoints (moved with the prediction) and a detection's, which separates people
whose boxes overlap at a crossing.

Ids: a track gets an id when it is confirmed (``min_hits`` matches); ids start at 1, are
never reused within a tracker's life, and 0 (``people.UNTRACKED``) is what tentative
detections report, and a person withheld for a frame as ambiguous (``_withhold_ambiguous``:
as like a just-missed neighbour's track as like their own). Unmatched confirmed tracks go
*lost* and keep predicting, so a person re-detected after an occlusion shorter than
``max_missing_s`` keeps its id: near the predicted box, or (having stopped or turned back
unseen) near the last one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose_perception.appearance import blend, describe, distances, has_look
from pose_perception.look_trust import foot_lines, in_front_of_overlapping, pairs_accounted_for
from pose_perception.people import UNTRACKED
from pose_perception.pose_motion import pose_velocities, predict_poses
from pose_perception.reentry import Departed, ReentryGallery, exit_edge
from pose_perception.track_geometry import (
    COCO_SIGMAS,
    BoxKalman,
    box_iou,
    carry_keypoints,
    correct_all,
    cxcywh_to_box,
    object_keypoint_similarity,
    oks_sigmas,
    predict_all,
)
from pose_perception.track_geometry import box_containment as box_containment  # re-exported
from pose_perception.track_state import FrameOverlaps, Track, TrackState, Views, look_of
from pose_perception.tracker_config import TrackerConfig as TrackerConfig  # re-exported


class PoseTracker:
    """Online multi-person tracker; call ``update`` once per frame with that frame's people."""

    def __init__(
        self, config: TrackerConfig | None = None, sigmas: Sequence[float] | np.ndarray | None = None
    ) -> None:
        """``sigmas``: per-keypoint OKS sigmas of the skeleton (None: COCO-17's when K = 17,
        else their mean for every keypoint)."""
        self.config = (config or TrackerConfig()).validate()
        if sigmas is not None and not all(s > 0 for s in sigmas):
            raise ValueError("PoseTracker: sigmas must all be > 0")
        self.sigmas = None if sigmas is None else np.asarray(sigmas, np.float64)
        self._tracks: list[Track] = []
        self._next_id = 1
        self._stamp: float | None = None
        self._gallery = ReentryGallery()
        self._image_size: tuple[int, int] | None = None  # (width, height) of the last frame

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
        """Forget all tracks and departed looks (ids keep counting up, so none is ever reused)."""
        self._tracks = []
        self._stamp = None
        self._gallery.clear()

    def update(
        self,
        bboxes: np.ndarray,
        scores: np.ndarray,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        stamp: float,
        image_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        """Track ids (N,) for this frame's detections; 0 for those not (yet) confirmed or withheld.

        With ``image_bgr`` (the frame, H×W×3), what people look like helps to tell them
        apart and to give a returning person the old id; without it, boxes and poses only.
        A stamp earlier than the previous one (a looping bag, a clock reset) starts afresh.
        """
        bboxes, scores, keypoints, keypoint_scores = _check_inputs(bboxes, scores, keypoints, keypoint_scores)
        if self._stamp is not None and stamp < self._stamp:
            self.reset()
        dt = 0.0 if self._stamp is None else stamp - self._stamp
        self._stamp = stamp
        # Unseen for longer than max_missing_s is gone, also across a gap without frames (a
        # paused camera): whoever stands there now must not inherit the old id.
        self._retire([not self._timed_out(t, stamp) for t in self._tracks])
        self._gallery.forget_before(stamp - self.config.reentry_s)
        predict_all([track.kalman for track in self._tracks], dt)
        track_boxes = np.array([t.box for t in self._tracks]).reshape(-1, 4)
        everyone = np.concatenate([track_boxes, bboxes])
        frame = FrameOverlaps(track_boxes, box_iou(everyone, everyone))
        views = None
        if image_bgr is not None:
            self._image_size = (image_bgr.shape[1], image_bgr.shape[0])
            views = self._views(image_bgr, bboxes, keypoints, keypoint_scores, frame)
        assigned = np.full(len(bboxes), -1, np.int64)  # detection → index into self._tracks
        ranked = self._associate(bboxes, keypoints, keypoint_scores, assigned, frame, views)
        withheld = self._withhold_ambiguous(ranked, assigned, stamp)
        matches = [(det, self._tracks[ti]) for det, ti in enumerate(assigned) if ti >= 0]
        correct_all([track.kalman for _, track in matches], bboxes[[det for det, _ in matches]])
        if matches:
            self._update_pose_velocities(matches, keypoints, keypoint_scores)
        for det, track in matches:
            self._apply_match(track, scores[det], keypoints[det], keypoint_scores[det])
        matched = {int(ti) for ti in assigned if ti >= 0}
        for i, track in enumerate(self._tracks):
            if i not in matched:
                track.missed += 1
                if track.state is TrackState.CONFIRMED:
                    track.state = TrackState.LOST
        min_score = self.config.min_detection_score
        starts = [
            int(d) for d in np.flatnonzero(assigned < 0) if scores[d] >= min_score and d not in withheld
        ]
        new_tracks = [
            self._new_track(bboxes[d], scores[d], keypoints[d], keypoint_scores[d], stamp) for d in starts
        ]
        owners = {d: self._tracks[ti] for d, ti in enumerate(assigned) if ti >= 0}
        owners.update(zip(starts, new_tracks, strict=True))
        if views is not None:
            self._remember_looks(bboxes, views, assigned, owners, frame)
        for track in [self._tracks[ti] for ti in assigned if ti >= 0] + new_tracks:
            if track.state is TrackState.TENTATIVE and track.hits >= self.config.min_hits:
                self._confirm(track)
        ids = np.array([self._tracks[ti].track_id if ti >= 0 else UNTRACKED for ti in assigned], np.int64)
        self._retire([self._alive(t, stamp) for t in self._tracks])
        self._tracks += new_tracks
        return ids

    # -- association ----------------------------------------------------------------

    def _associate(
        self,
        boxes: np.ndarray,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        assigned: np.ndarray,
        frame: FrameOverlaps,
        views: Views | None = None,
    ) -> np.ndarray:
        """Fresh tracks first, then stale ones; each group by prediction, then by last observation.

        Fresh tracks (tentative, confirmed, and lost but not yet stale, see ``_is_stale``)
        share one global assignment: splitting them by state was measured to swap ids at
        crossings and at start-up, where a track whose person was missed grabs an overlapping
        person's box greedily while that person's own track (lost a frame, or still
        tentative) waits its turn. Stale tracks come after them, as in DeepSORT's matching
        cascade (Wojke et al. 2017): their prediction has spread so wide that it would
        outscore a fresh track on that track's own person. A group's named tracks left over
        get a second chance against where they were last seen (OC-SORT's observation-centric
        recovery, Cao et al. 2023): a person who turned back or stopped while unseen is
        there, not where the constant-velocity prediction has carried the track. With the
        frame, ``_look_penalty`` re-ranks the pairs that pass the gates (it never opens one);
        it is computed only in frames where some person or track has two candidates, since
        otherwise it could change nothing. Returns the (T, N) predicted similarity less the
        penalty (where a person has two candidates), −inf where gated out.
        """
        if not len(boxes) or not self._tracks:
            return np.full((len(self._tracks), len(boxes)), -np.inf)
        cfg = self.config
        sigmas = self._sigmas(keypoints.shape[1]) if keypoints.shape[1] else COCO_SIGMAS
        lost = np.array([t.state is TrackState.LOST for t in self._tracks])
        stale = self._stale(lost, frame.tracks, sigmas)
        fresh_rows, stale_rows = np.flatnonzero(~stale).tolist(), np.flatnonzero(stale).tolist()
        predicted = self._gated(*self._similarity(self._tracks, boxes, keypoints, keypoint_scores, frame))
        gate = np.where(lost, cfg.min_lost_similarity, cfg.min_similarity)
        penalty = functools.cache(lambda: self._look_penalty(views, boxes, predicted, frame))
        for rows in (fresh_rows, stale_rows):
            self._assign(rows, predicted, gate, assigned, penalty)
            self._recover(rows, boxes, keypoints, keypoint_scores, assigned, penalty)
        passes = predicted >= gate[:, None]
        ranked = predicted - penalty() if (passes.sum(axis=0) > 1).any() else predicted
        return np.where(passes, ranked, -np.inf)

    def _withhold_ambiguous(self, ranked: np.ndarray, assigned: np.ndarray, stamp: float) -> set[int]:
        """Unassign (and return) the people about as like a rival as like the track that took them.

        A rival is a named track left unmatched now but seen within ``ambiguity_window_s``:
        its person was probably just missed by the detector. Where two people overlap and
        one is missed, the other may suit both tracks; the wrong guess swaps ids for good
        once the track learns the other person's pose and motion. Reporting the person
        untracked for a frame, and letting no track learn from them, costs one frame.
        """
        cfg = self.config
        if cfg.ambiguity_margin == 0.0:
            return set()
        taken = set(assigned.tolist())
        rivals = [
            i
            for i, t in enumerate(self._tracks)
            if i not in taken and t.track_id != UNTRACKED and stamp - t.last_seen <= cfg.ambiguity_window_s
        ]
        if not rivals:
            return set()
        dets = np.flatnonzero(assigned >= 0)
        own, rival = ranked[assigned[dets], dets], ranked[rivals][:, dets].max(axis=0, initial=-np.inf)
        named = np.array([self._tracks[ti].track_id != UNTRACKED for ti in assigned[dets]], bool)
        withheld = dets[named & np.isfinite(own) & (rival >= own - cfg.ambiguity_margin)]  # −inf: gated out
        assigned[withheld] = -1
        return set(withheld.tolist())

    def _look_penalty(
        self, views: Views | None, boxes: np.ndarray, similarity: np.ndarray, frame: FrameOverlaps
    ) -> np.ndarray:
        """(T, N) w × colour distance (capped at 1) of each track's memory to each person.

        Weighted per track by how unlike its overlapping neighbours it looks: two people
        dressed alike get no appearance term at all, rather than a confident wrong one.
        Only views ``_believed`` count.
        """
        cfg = self.config
        penalty = np.zeros((len(self._tracks), len(boxes)))
        if views is None or cfg.appearance_weight == 0.0:
            return penalty
        memory = np.array([look_of(t) for t in self._tracks])
        both = np.minimum(
            distances(memory, np.concatenate([views.looks, memory])) / cfg.appearance_distance_scale, 1.0
        )
        far, apart = both[:, : len(boxes)], both[:, len(boxes) :]  # to each person; to each other track
        neighbours = (frame.tracks_tracks > 0.0) & ~np.eye(len(self._tracks), dtype=bool)
        distinct = np.where(neighbours & ~np.isnan(apart), apart, 1.0).min(axis=1, initial=1.0)
        weight = (
            cfg.appearance_weight
            * distinct[:, None]
            * self._believed(boxes, views, similarity, frame)[None, :]
        )
        return np.where(np.isnan(far), 0.0, weight * far)  # no shared region: no penalty

    def _views(
        self,
        image_bgr: np.ndarray,
        boxes: np.ndarray,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        frame: FrameOverlaps,
    ) -> Views:
        """Each person's look and foot line in this frame, and who stands in front of every
        other detected person overlapping them (``look_trust``): the part of "seen whole"
        that association and look memory share."""
        threshold = self.config.keypoint_score_threshold
        looks = describe(image_bgr, keypoints, keypoint_scores, threshold)
        feet = foot_lines(boxes, keypoints, keypoint_scores, threshold)
        partners = (frame.people_people > self.config.appearance_max_overlap) & ~np.eye(
            len(boxes), dtype=bool
        )
        return Views(looks, feet, in_front_of_overlapping(boxes, feet, feet, partners), partners)

    def _believed(
        self, boxes: np.ndarray, views: Views, similarity: np.ndarray, frame: FrameOverlaps
    ) -> np.ndarray:
        """(N,) whose view the look penalty believes (``look_trust``): a person seen whole, every
        other person and every named track (undetected people included) overlapping them
        clearly behind (their own track, the one most like them, does not count); or one of a
        pair of detected people whom no other tracked person overlaps, both views believed."""
        named = [i for i, t in enumerate(self._tracks) if t.track_id != UNTRACKED]
        if not named:
            return views.ahead
        max_overlap = self.config.appearance_max_overlap
        near = frame.tracks_people[named].transpose() > max_overlap  # (N, named)
        similar = similarity[named]
        own = similar.argmax(axis=0)  # each person's own track, the one most like them
        claimed = np.zeros(len(named), bool)
        claimed[own[similar.max(axis=0) > -1.0]] = True  # −1: gated out, no one's
        others = near.copy()
        others[np.arange(len(boxes)), own] = False
        whole = views.ahead & in_front_of_overlapping(boxes, views.feet, frame.tracks[named, 3], others)
        return whole | pairs_accounted_for(views.partners, near, claimed)

    def _remember_looks(
        self,
        boxes: np.ndarray,
        views: Views,
        assigned: np.ndarray,
        owners: dict[int, Track],
        frame: FrameOverlaps,
    ) -> None:
        """Update look memories from views seen whole: everyone else whose box overlaps,
        detected or a named track now missed, clearly behind (``look_trust``)."""
        unmatched = set(range(len(self._tracks))) - set(assigned.tolist())
        hidden = [i for i in sorted(unmatched) if self._tracks[i].track_id != UNTRACKED]
        max_overlap = self.config.appearance_max_overlap
        overlapping = frame.tracks_people[hidden].transpose() > max_overlap
        whole = views.ahead & in_front_of_overlapping(boxes, views.feet, frame.tracks[hidden, 3], overlapping)
        whole &= ~np.isnan(views.looks).all(axis=(1, 2))  # nothing of them seen: nothing to learn
        learners = [(det, track) for det, track in owners.items() if whole[det]]
        if not learners:
            return
        memory = np.array([look_of(track) for _, track in learners])  # all NaN: blend starts afresh
        looks = blend(memory, views.looks[[det for det, _ in learners]], self.config.appearance_rate)
        for (_, track), look in zip(learners, looks, strict=True):
            track.look = look

    def _stale(self, lost: np.ndarray, track_boxes: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
        """(T,) lost, and predicted less precisely than OKS tolerates a keypoint: matched last.

        Past that point (about 0.4 s unseen with the default noise, whatever the box size)
        the widened OKS kernel scores the prediction's spread more than the pose's likeness.
        """
        wh = np.maximum(track_boxes[:, 2:] - track_boxes[:, :2], 1.0)
        kernel = 4.0 * float(sigmas @ sigmas) / len(sigmas)  # mean of (2σ)², the OKS kernel per unit area
        keypoint_var = wh[:, 0] * wh[:, 1] * kernel
        spread = np.array([t.kalman.position_variance for t in self._tracks])
        return lost & (spread > self.config.stale_spread * keypoint_var)

    def _recover(
        self,
        rows: list[int],
        boxes: np.ndarray,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        assigned: np.ndarray,
        penalty: Callable[[], np.ndarray],
    ) -> None:
        """Match still-unmatched named tracks of ``rows`` by their last observed box and pose."""
        taken = set(assigned.tolist())
        missing = [i for i in rows if self._tracks[i].state is not TrackState.TENTATIVE and i not in taken]
        if not missing or not (assigned < 0).any():
            return
        tracks = [self._tracks[i] for i in missing]
        full = np.full((len(self._tracks), len(boxes)), -1.0)
        full[missing] = self._gated(*self._similarity(tracks, boxes, keypoints, keypoint_scores))
        gate = np.full(len(self._tracks), self.config.min_similarity)
        self._assign(missing, full, gate, assigned, penalty)

    def _gated(self, sim: np.ndarray, oks: np.ndarray) -> np.ndarray:
        """Similarity with pairs failing the pose gate set to −1 (never matched)."""
        return np.where(np.isnan(oks) | (oks >= self.config.min_oks), sim, -1.0)

    @staticmethod
    def _assign(
        rows: list[int],
        sim: np.ndarray,
        gate: np.ndarray,
        assigned: np.ndarray,
        penalty: Callable[[], np.ndarray],
    ) -> None:
        """Hungarian assignment of tracks ``rows`` to still-free detections; ``gate`` is per track.

        ``sim`` decides which pairs may match; ``sim − penalty()`` which of those do. Where no
        track and no person has two such pairs, every pair matches whatever the penalty (all
        are worth more than the −2 of no pair), and it is not computed.
        """
        free = np.flatnonzero(assigned < 0)
        if not rows or not len(free):
            return
        index = np.array(rows, np.int64)
        sub = sim[index][:, free]
        ok = sub >= gate[index, None]
        contested = (ok.sum(axis=0) > 1).any() or (ok.sum(axis=1) > 1).any()
        ranked = sub - penalty()[index][:, free] if contested else sub
        r_idx, c_idx = linear_sum_assignment(-np.where(ok, ranked, -2.0))
        for r, c in zip(r_idx, c_idx, strict=True):
            if ok[r, c]:
                assigned[free[c]] = rows[r]

    def _similarity(
        self,
        tracks: list[Track],
        boxes: np.ndarray,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        frame: FrameOverlaps | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(T, N) similarity (IoU blended with OKS) and the OKS (NaN: no pose).

        With this ``frame``'s overlaps (``tracks`` then being all tracks, in order), tracks
        are taken where predicted now, their boxes and IoUs read from it; without, where
        last matched. The predicted OKS tolerance grows with the track's position
        uncertainty, so a track predicted through an occlusion can still be recognised
        where it reappears.
        """
        if frame is None:
            pred = np.array([t.last_box for t in tracks])
            track_kps = np.array([t.keypoints for t in tracks])
            extra_var = np.zeros(len(tracks))
            iou = box_iou(pred, boxes)
        else:
            pred, iou = frame.tracks, frame.tracks_people
            kps, last = np.array([t.keypoints for t in tracks]), np.array([t.last_box for t in tracks])
            since = float(self._stamp or 0.0) - np.array([t.last_seen for t in tracks])
            velocities = [t.pose_velocity for t in tracks]
            unknown = any(v is None for v in velocities)  # those move with their box
            carried = carry_keypoints(kps, last, pred) if unknown else None
            track_kps = predict_poses(kps, velocities, last, pred, since, carried)
            extra_var = np.array([t.kalman.position_variance for t in tracks])
        if self.config.iou_weight >= 1.0 or keypoints.shape[1] == 0:
            return iou, np.full_like(iou, np.nan)
        track_ok = np.array([t.keypoint_scores for t in tracks]) >= self.config.keypoint_score_threshold
        det_ok = keypoint_scores >= self.config.keypoint_score_threshold
        oks = object_keypoint_similarity(
            track_kps, track_ok, keypoints, det_ok, pred, self._sigmas(keypoints.shape[1]), extra_var
        )
        w = self.config.iou_weight
        sim = np.where(np.isnan(oks), iou, w * iou + (1.0 - w) * oks)  # no pose: IoU only
        return sim, oks

    def _sigmas(self, num_keypoints: int) -> np.ndarray:
        sigmas = oks_sigmas(num_keypoints, self.sigmas)
        if len(sigmas) != num_keypoints:
            raise ValueError(f"PoseTracker: {len(sigmas)} sigmas for {num_keypoints} keypoints")
        return sigmas

    # -- track life -----------------------------------------------------------------

    def _update_pose_velocities(
        self, matches: list[tuple[int, Track]], keypoints: np.ndarray, keypoint_scores: np.ndarray
    ) -> None:
        """Each matched track's keypoint velocity (``pose_motion``), all in one call."""
        dets, tracks = [d for d, _ in matches], [t for _, t in matches]
        last = np.array([t.keypoint_scores for t in tracks])
        ok = np.stack([last, keypoint_scores[dets]]) >= self.config.keypoint_score_threshold
        dts = float(self._stamp or 0.0) - np.array([t.last_seen for t in tracks])
        last_kps = np.array([t.keypoints for t in tracks])
        olds = [t.pose_velocity for t in tracks]
        for track, v in zip(tracks, pose_velocities(olds, last_kps, keypoints[dets], ok, dts), strict=True):
            track.pose_velocity = v

    def _apply_match(self, track: Track, score: float, kps: np.ndarray, kp_scores: np.ndarray) -> None:
        """Bookkeeping of a matched track whose filter ``correct_all`` has just corrected."""
        track.keypoints, track.keypoint_scores = kps.copy(), kp_scores.copy()
        track.last_box, track.last_seen, track.score = track.box, float(self._stamp or 0.0), float(score)
        track.hits += 1
        track.missed = 0
        if track.state is TrackState.LOST:
            track.state = TrackState.CONFIRMED

    def _confirm(self, track: Track) -> None:
        """Name a track: a departed person's id when it is them coming back, else a new one."""
        track.state = TrackState.CONFIRMED
        back = None
        if track.look is not None and self.config.reentry_s > 0:
            stamp = float(self._stamp or 0.0)
            max_distance = self.config.reentry_max_distance
            back = self._gallery.claim(track.look, track.last_box, stamp, self._image_size, max_distance)
        if back is not None:
            track.track_id = back
            return
        track.track_id = self._next_id
        self._next_id += 1

    def _retire(self, keep: list[bool]) -> None:
        """Drop the tracks not to ``keep``; named ones with a look go to the re-entry gallery."""
        if all(keep):
            return
        for track, alive in zip(self._tracks, keep, strict=True):
            if not alive and track.track_id != UNTRACKED and has_look(track.look):
                edge = exit_edge(track.last_box, self._image_size)
                look = look_of(track)
                self._gallery.add(Departed(track.track_id, look, track.last_box, track.last_seen, edge))
        self._tracks = [t for t, alive in zip(self._tracks, keep, strict=True) if alive]

    def _new_track(
        self, box: np.ndarray, score: float, kps: np.ndarray, kp_scores: np.ndarray, stamp: float
    ) -> Track:
        cfg = self.config
        kalman = BoxKalman(box, cfg.measurement_std, cfg.acceleration_std, cfg.size_velocity_tau_s or None)
        return Track(kalman, kps.copy(), kp_scores.copy(), kalman.box, stamp, float(score))

    def _alive(self, track: Track, stamp: float) -> bool:
        """Tentative tracks die after ``tentative_max_missed`` misses; lost ones after the gap."""
        if track.missed == 0:
            return True
        cfg = self.config
        if track.state is TrackState.TENTATIVE:
            return track.missed <= cfg.tentative_max_missed
        if cfg.max_missing_frames and track.missed > cfg.max_missing_frames:
            return False
        return not self._timed_out(track, stamp)

    def _timed_out(self, track: Track, stamp: float) -> bool:
        """Unseen for longer than ``max_missing_s`` at ``stamp``: the track is over."""
        return stamp - track.last_seen > self.config.max_missing_s


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
