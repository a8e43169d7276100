"""``PosePipeline``: frame (+ stamp) in, tracked and smoothed people out.

The one object the ROS node, the CLI and the bag mode share, so they cannot drift apart.
Per frame (the RTMPose paper's real-time recipe):

1. **Boxes**: the person detector runs every ``detector.interval`` frames (followed
   people it misses keep their pose-derived box); in between,
   each person's box comes from the previous frame's confident keypoints (their extent
   times ``detector.box_padding``), moved by the tracker's velocity. The detector runs
   early when someone was lost, scored below ``detector.redetect_score``, or nobody is
   being followed. Boxes can also be given by the caller (external detector).
2. **Pose**: all crops of the frame in one batched backend call. A one-stage model (RTMO)
   does steps 1 and 2 at once on the whole image, without a person detector
   (:mod:`~pose_perception.person_source`).
3. **Filter**: people below ``output.min_person_score`` are dropped, then pose NMS drops
   the weaker of two people whose poses overlap (two boxes drifted onto one person).
4. **Track**: ``PoseTracker`` assigns stable ids (0 until a track is confirmed).
5. **Smooth**: One-Euro filter per tracked person, driven by the stamps.
6. **3D** (``three_d.mode``): depth, the monocular lifter or both, from the depth image
   and camera the caller hands over (:class:`~pose_perception.three_d.ThreeDStage`).

A person's published ``bbox`` is the box its pose was estimated in (the detector's, the
caller's, or the pose-derived one). The tracker and the next frame's crop use the padded
extent of the confident keypoints of *this* frame instead, so they see boxes of the same
kind on detector and in-between frames; a person with fewer than ``MIN_BOX_KEYPOINTS``
confident keypoints keeps its input box there too.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose_perception.camera import PinholeCamera
from pose_perception.config import Config
from pose_perception.detection import PersonDetector, build_detector
from pose_perception.estimator import validate_boxes, validate_image
from pose_perception.hand_stage import build_hand_stage
from pose_perception.lifting.temporal import TemporalLifter
from pose_perception.onestage import OneStageEstimator
from pose_perception.people import UNTRACKED, Person
from pose_perception.person_source import (
    FrameBoxes,
    PoseModel,
    check_person_model,
    model_skeleton,
    one_stage_people,
    open_pose_model,
)
from pose_perception.skeletons import Skeleton
from pose_perception.smoothing import KeypointSmoother
from pose_perception.three_d import DepthFrame, DepthRejection, ThreeDStage
from pose_perception.tracking import (
    PoseTracker,
    box_containment,
    box_iou,
    object_keypoint_similarity,
    oks_sigmas,
)

log = logging.getLogger(__name__)

MIN_BOX_KEYPOINTS = 4  # confident keypoints needed before a box is derived from a pose
MIN_CLAIM = 0.5  # (containment + IoU) / 2 at which a detection is a followed person's


class PosePipeline:
    """Detector (every N frames) → batched RTMPose → pose NMS → tracker → smoother → 3D.

    ``estimator``, ``detector`` and ``lifter`` may be given (shared models, tests, a
    custom detector with a ``detect(image) -> (boxes, scores)`` method); by default they
    are built from ``config`` (the lifter only in ``three_d.mode`` lifter and fused;
    :class:`~pose_perception.three_d.LifterUnavailable` when it cannot be opened). Not
    thread-safe: one caller processes frames in order.

    ``estimator`` may be a :class:`~pose_perception.onestage.OneStageEstimator` (or config
    ``estimator.model`` an RTMO model): people then come from it, with no detector (of the
    ``detector.*`` settings only ``max_people`` applies) and no caller boxes (``process(boxes=)``
    is an error).
    A hand, face or animal model needs ``detector.type`` full_frame or a ``detector`` given here.
    """

    def __init__(
        self,
        config: Config,
        estimator: PoseModel | None = None,
        detector: PersonDetector | None = None,
        lifter: TemporalLifter | None = None,
    ) -> None:
        config.validate()
        self._config = config
        est = config.estimator
        self.estimator = estimator if estimator is not None else open_pose_model(est)
        self._skeleton = skeleton = model_skeleton(self.estimator, est)
        self.detector = self._person_detector(config, detector)
        self._sigmas = oks_sigmas(skeleton.num_keypoints, skeleton.sigmas)
        self.hands = build_hand_stage(config, skeleton)  # None unless hands.enabled
        published = self.skeleton  # the body's, or body + left_hand + right_hand
        self.tracker = PoseTracker(config.tracker, oks_sigmas(published.num_keypoints, published.sigmas))
        self.three_d = ThreeDStage(config, published, lifter)
        # Milliseconds per stage of the last process() call, for diagnostics and benchmarks.
        self.timings: dict[str, float] = {}
        self.detector_runs = 0
        self.last_box_source = ""
        self._since_detection = 0
        self._warned_box_cap = False
        self.reset()

    def _person_detector(self, config: Config, detector: PersonDetector | None) -> PersonDetector | None:
        """The detector given, else the configured one; none for a one-stage model."""
        if self.one_stage:
            log.warning(
                "one-stage pose model (RTMO): no person detector; "
                "the detector.* settings other than max_people are unused"
            )
            return None
        if detector is not None:
            return detector
        check_person_model(self._skeleton, config.detector.type)
        return build_detector(config.detector, config.estimator.device, config.estimator.threads or None)

    # -- configuration ------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        """Apply a changed config at run time (thresholds, intervals, tracker and smoother
        tuning). Models and devices are fixed at construction (read-only parameters)."""
        config.validate()
        old, self._config = self._config, config
        if self.detector is not None and hasattr(self.detector, "filter"):
            self.detector.filter = config.detector.filter()
        if config.detector.interval != old.detector.interval:
            self._detect_next = True
        self.tracker.config = config.tracker
        self.three_d.config = config
        if self.hands is not None:
            self.hands.config = config.hands
        if config.smoothing != old.smoothing:
            self.smoother = KeypointSmoother(config.smoothing)  # filters hold their config

    @property
    def one_stage(self) -> bool:
        """Whether people come from a one-stage model (RTMO) instead of boxes + a top-down model."""
        return isinstance(self.estimator, OneStageEstimator)

    @property
    def skeleton(self) -> Skeleton:
        """The published schema: the pose model's, or with the hand stage body + both hands."""
        return self._skeleton if self.hands is None else self.hands.skeleton

    @property
    def camera(self) -> PinholeCamera | None:
        """The camera the last frame's 3D was placed with: the one markers and TF must use."""
        return self.three_d.camera

    @property
    def last_depth_rejection(self) -> DepthRejection | None:
        """Why the last frame's depth gave no 3D (None: it did, or there was none)."""
        return self.three_d.last_rejection

    def reset(self) -> None:
        """Forget everyone (tracks, smoothing, pose-derived boxes, the lifter's history); ids
        keep counting up."""
        self.tracker.reset()
        self.three_d.reset()
        self.smoother = KeypointSmoother(self._config.smoothing)
        self._previous: list[Person] = []  # unsmoothed people of the last frame
        self._previous_boxes = np.zeros((0, 4), np.float32)  # their pose-derived boxes
        self._previous_seen = np.zeros(0, bool)  # ... and whether the last detector run saw them
        self._stamp: float | None = None
        self._detect_next = True

    # -- per frame ----------------------------------------------------------------------

    def process(
        self,
        image_bgr: np.ndarray,
        stamp: float,
        boxes: np.ndarray | None = None,
        box_scores: np.ndarray | None = None,
        *,
        depth: DepthFrame | None = None,
        camera: PinholeCamera | None = None,
    ) -> list[Person]:
        """People in ``image_bgr`` (HxWx3 uint8 BGR) taken at ``stamp`` (seconds).

        ``boxes`` (N,4 x1,y1,x2,y2), optional: person boxes from an external detector;
        the configured detector and the pose-derived boxes are then not used. ``depth``
        (depth modes) and ``camera`` (the colour camera's intrinsics and distortion; None:
        the nominal camera of ``output.assumed_hfov_deg``) feed the 3D stage.
        """
        image_bgr = validate_image(image_bgr)
        if self._stamp is not None and stamp < self._stamp:
            self.reset()  # a looping bag or a clock reset: the past no longer applies
        started = t_boxes = time.perf_counter()
        if isinstance(self.estimator, OneStageEstimator):  # = self.one_stage, narrowed for mypy
            frame_boxes, keypoints, keypoint_scores = one_stage_people(
                self.estimator, image_bgr, boxes, self._config.detector.max_people
            )
        else:
            frame_boxes = self._frame_boxes(image_bgr, stamp, boxes, box_scores)
            t_boxes = time.perf_counter()
            keypoints, keypoint_scores = self._estimate(image_bgr, frame_boxes.boxes)
        t_pose = time.perf_counter()
        people, pose_boxes, kept = self._select(frame_boxes, keypoints, keypoint_scores, image_bgr.shape)
        if self.hands is not None:  # hand stage: body boxes, scores and NMS stay the body model's
            people = self.hands.add_hands(image_bgr, people)
        k = self.skeleton.num_keypoints
        ids = self.tracker.update(
            pose_boxes,
            np.array([p.score for p in people]),
            np.array([p.keypoints for p in people]).reshape(len(people), k, 2),
            np.array([p.keypoint_scores for p in people]).reshape(len(people), k),
            stamp,
            image_bgr=image_bgr,
        )
        for person, track_id in zip(people, ids.tolist(), strict=True):
            person.track_id = int(track_id)
        t_track = time.perf_counter()
        smoothed = self._smoothed(people, stamp)
        t_smooth = time.perf_counter()
        height, width = image_bgr.shape[:2]
        published = self.three_d.process(smoothed, (width, height), stamp, depth, camera)
        t_done = time.perf_counter()

        self._plan_next(frame_boxes, people)
        self._previous, self._previous_boxes, self._stamp = people, pose_boxes, stamp
        self._previous_seen = frame_boxes.seen[kept]
        self.last_box_source = frame_boxes.source
        hand_timings = self.hands.timings if self.hands is not None else {}
        box_stage = "detect_ms" if frame_boxes.source == "detector" else "boxes_ms"
        self.timings = {
            **({} if self.one_stage else {box_stage: (t_boxes - started) * 1e3}),
            "pose_ms": (t_pose - t_boxes) * 1e3,
            **hand_timings,
            "track_ms": (t_track - t_pose) * 1e3 - hand_timings.get("hands_ms", 0.0),
            "smooth_ms": (t_smooth - t_track) * 1e3,
            **self.three_d.timings,
            "pipeline_ms": (t_done - started) * 1e3,
        }
        return published

    def _frame_boxes(
        self, image: np.ndarray, stamp: float, boxes: np.ndarray | None, box_scores: np.ndarray | None
    ) -> FrameBoxes:
        if boxes is not None:
            checked = validate_boxes(boxes)
            scores = (
                np.ones(len(checked), np.float32)
                if box_scores is None
                else np.asarray(box_scores, np.float32)
            )
            if scores.shape != (len(checked),):
                raise ValueError(f"box_scores has shape {scores.shape}, expected ({len(checked)},)")
            checked, scores = self._cap_external(checked, scores)
            return FrameBoxes(checked, scores, "external", np.ones(len(checked), bool))
        if self._detect_next or not self._previous:
            assert self.detector is not None  # a top-down pipeline always has one
            found, scores = self.detector.detect(image)
            self.detector_runs += 1
            self._since_detection = 0
            found = np.asarray(found, np.float32).reshape(-1, 4)
            detected = FrameBoxes(
                found, np.asarray(scores, np.float32), "detector", np.ones(len(found), bool)
            )
            return self._add_missed_people(detected, self._boxes_from_poses(image.shape, stamp))
        self._since_detection += 1
        return self._boxes_from_poses(image.shape, stamp)

    def _cap_external(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """At most ``detector.max_people`` caller boxes, as for the detector's: the best
        scores (the first ones on a tie), in the caller's order; a warning the first time."""
        limit = self._config.detector.max_people
        if len(boxes) <= limit:
            return boxes, scores
        if not self._warned_box_cap:
            self._warned_box_cap = True
            log.warning(
                "%d person boxes given for one frame; using the %d best-scoring "
                "(detector.max_people; warned once)", len(boxes), limit,
            )  # fmt: skip
        kept = np.sort(np.argsort(-scores, kind="stable")[:limit])
        return boxes[kept], scores[kept]

    @staticmethod
    def _add_missed_people(detected: FrameBoxes, followed: FrameBoxes) -> FrameBoxes:
        """Detector boxes plus the followed people no detection claims: one missed
        detection must not drop a person until the next detector frame. Someone who
        really left scores low in the pose stage and is dropped there; someone the
        detector misses twice in a row is dropped here (so a box that drifted onto the
        background cannot be carried forever).

        Claims are one-to-one (an optimal assignment), so a detection of one person in a
        crowd cannot hide that its neighbour was missed. A detection claims a followed box
        it contains and overlaps: mean of containment and IoU at least ``MIN_CLAIM`` (a
        loose detector box, or the full frame, still claims the one person inside it).
        """
        if not len(followed.boxes):
            return detected
        missed = followed.seen.copy()
        if len(detected.boxes):
            claim = 0.5 * (
                box_containment(followed.boxes, detected.boxes) + box_iou(followed.boxes, detected.boxes)
            )
            rows, cols = linear_sum_assignment(-claim)
            missed[rows[claim[rows, cols] >= MIN_CLAIM]] = False
        return FrameBoxes(
            np.concatenate([detected.boxes, followed.boxes[missed]]),
            np.concatenate([detected.scores, followed.scores[missed]]),
            "detector",
            np.concatenate([detected.seen, np.zeros(int(missed.sum()), bool)]),
        )

    def _boxes_from_poses(self, shape: tuple[int, ...], stamp: float) -> FrameBoxes:
        """Last frame's people, each box moved by its track's velocity to ``stamp``."""
        dt = 0.0 if self._stamp is None else stamp - self._stamp
        velocity = {t.track_id: t.velocity for t in self.tracker.tracks if t.track_id != UNTRACKED}
        height, width = shape[:2]
        boxes = []
        for person, box in zip(self._previous, self._previous_boxes, strict=True):
            shift = velocity.get(person.track_id, np.zeros(2)) * dt
            boxes.append(np.asarray(box, np.float64) + np.tile(shift, 2))
        out = np.array(boxes, np.float32).reshape(-1, 4)
        out = np.clip(out, 0, [width, height, width, height]).astype(np.float32)
        keep = np.minimum(out[:, 2] - out[:, 0], out[:, 3] - out[:, 1]) >= 1.0
        scores = np.array([p.score for p in self._previous], np.float32)
        return FrameBoxes(out[keep], scores[keep], "poses", self._previous_seen[keep])

    def _estimate(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(boxes) == 0:
            k = self.skeleton.num_keypoints
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        assert not isinstance(self.estimator, OneStageEstimator)  # it finds people in process()
        return self.estimator.estimate(image, boxes)

    def _select(
        self,
        frame_boxes: FrameBoxes,
        keypoints: np.ndarray,
        keypoint_scores: np.ndarray,
        shape: tuple[int, ...],
    ) -> tuple[list[Person], np.ndarray, np.ndarray]:
        """People above ``min_person_score`` after pose NMS, their pose-derived boxes, and
        the index of each one's box in ``frame_boxes``."""
        threshold = self._config.estimator.keypoint_threshold
        padding = self._config.detector.box_padding
        people, pose_boxes, index = [], [], []
        for i, (box, kps, scores) in enumerate(
            zip(frame_boxes.boxes, keypoints, keypoint_scores, strict=True)
        ):
            score = float(np.mean(scores)) if scores.size else 0.0
            if score < self._config.output.min_person_score:
                continue
            index.append(i)
            derived = pose_box(kps, scores, threshold, padding, shape)
            pose_boxes.append(box if derived is None else derived)
            people.append(
                Person(
                    track_id=UNTRACKED,
                    bbox=np.asarray(box, np.float32),
                    score=score,
                    keypoints=np.asarray(kps, np.float32),
                    keypoint_scores=np.asarray(scores, np.float32),
                )
            )
        boxes = np.array(pose_boxes, np.float32).reshape(-1, 4)
        keep = pose_nms(people, boxes, self._sigmas, threshold, self._config.detector.pose_nms_threshold)
        return [people[i] for i in keep], boxes[keep], np.array(index, np.int64)[keep]

    def _smoothed(self, people: list[Person], stamp: float) -> list[Person]:
        """Copies with One-Euro-smoothed keypoints for tracked people; raw ones stay in
        ``people`` (the tracker and the next frame's boxes need the unfiltered pose)."""
        if not self._config.smoothing.enabled:
            return [dataclasses.replace(p) for p in people]
        threshold = self._config.estimator.keypoint_threshold
        out = []
        for person in people:
            keypoints = person.keypoints
            if person.track_id != UNTRACKED:
                valid = person.keypoint_scores >= threshold
                height = float(person.bbox[3] - person.bbox[1])  # scales the speed term only
                smoothed = self.smoother.smooth(person.track_id, keypoints, stamp, valid, height)
                keypoints = np.where(valid[:, None], smoothed, keypoints).astype(np.float32)
            out.append(dataclasses.replace(person, keypoints=keypoints))
        return out

    def _plan_next(self, frame_boxes: FrameBoxes, people: list[Person]) -> None:
        """Run the detector on the next frame when the interval is up or tracking is weak."""
        cfg = self._config.detector
        lost_someone = frame_boxes.source == "poses" and len(people) < len(frame_boxes.boxes)
        weak = any(p.score < cfg.redetect_score for p in people)
        due = self._since_detection + 1 >= cfg.interval
        self._detect_next = due or lost_someone or weak or not people


def pose_box(
    keypoints: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    padding: float,
    shape: tuple[int, ...],
) -> np.ndarray | None:
    """Extent of the keypoints scoring ≥ ``threshold``, grown ``padding`` times about its
    centre and clipped to the image; None with fewer than ``MIN_BOX_KEYPOINTS`` of them."""
    confident = keypoints[scores >= threshold]
    if len(confident) < MIN_BOX_KEYPOINTS:
        return None
    low, high = confident.min(axis=0), confident.max(axis=0)
    centre, half = (low + high) / 2, (high - low) / 2 * padding
    height, width = shape[:2]
    box = np.concatenate([centre - half, centre + half])
    box = np.clip(box, 0, [width, height, width, height])
    if min(box[2] - box[0], box[3] - box[1]) < 1.0:
        return None
    return box.astype(np.float32)


def pose_nms(
    people: list[Person], boxes: np.ndarray, sigmas: np.ndarray, keypoint_threshold: float, max_oks: float
) -> list[int]:
    """Indices of the people kept, best score first: each one dropped overlaps (OKS, with
    ``boxes`` giving the scale) a better-scoring person already kept by more than
    ``max_oks``. ``max_oks`` 1 keeps everyone."""
    order = sorted(range(len(people)), key=lambda i: -people[i].score)
    if len(people) < 2 or max_oks >= 1.0:
        return order
    kps = np.array([p.keypoints for p in people], np.float64)
    ok = np.array([p.keypoint_scores for p in people]) >= keypoint_threshold
    oks = np.nan_to_num(object_keypoint_similarity(kps, ok, kps, ok, np.asarray(boxes, np.float64), sigmas))
    kept: list[int] = []
    for i in order:
        if all(oks[j, i] <= max_oks for j in kept):
            kept.append(i)
    return kept


def full_frame_box(shape: tuple[int, ...]) -> np.ndarray:
    """(1,4) box covering the whole image."""
    height, width = shape[:2]
    return np.array([[0.0, 0.0, float(width), float(height)]], np.float32)
