"""The hand stage (``hands.enabled``): a body model's people → the same people with hands.

A robot can run a light body model and look at hands only when it needs them. For every
arm of every person a square box is placed beyond the wrist along the forearm (elbow →
wrist, :func:`hand_boxes`; docs/hands.md draws it), all the boxes of a frame go through
the hand model (a second :class:`~pose_perception.estimator.PoseEstimator`, hand21) in ONE
``estimate`` call, and each hand's 21 keypoints are appended to its person as the groups
``left_hand`` and ``right_hand`` of :func:`~pose_perception.skeletons.with_hands`
(coco17 → 17 + 21 + 21 = 59 keypoints). The number of keypoints is fixed: a hand whose
wrist or elbow scores below ``hands.min_wrist_score`` is not estimated and gets its
keypoints on the wrist with score 0. The person's box and score stay the body model's.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from pose_perception.config import Config, HandsConfig
from pose_perception.estimator import PoseEstimator
from pose_perception.people import Person
from pose_perception.skeletons import HAND_GROUPS, Skeleton, with_hands

HAND_SKELETON = "hand21"  # the schema of the official hand models (COCO-WholeBody hand)
HAND_KEYPOINTS = 21
MIN_FOREARM_PX = 2.0  # a shorter forearm gives no direction (and a box of no size)
# The body joints each hand hangs from, in HAND_GROUPS order: (elbow, wrist).
ARM_JOINTS = (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"))


class HandStageUnavailable(ValueError):
    """``hands.enabled`` but the stage cannot run (the message names the setting and why)."""


def hand_boxes(
    keypoints: np.ndarray,
    scores: np.ndarray,
    arms: np.ndarray,
    config: HandsConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Hand boxes from each arm's elbow → wrist direction: (N, A, 4) x1, y1, x2, y2 and a
    (N, A) usable mask, for N people's (N, K, 2) ``keypoints`` and ``arms`` (A, 2) indices
    of (elbow, wrist).

    With the forearm ``f = wrist − elbow`` of length ``L``, the box is the square of side
    ``box_scale·L`` centred at ``wrist + box_offset·f``: a hand is about 0.7 forearm lengths
    long and points on along the forearm when relaxed. Unusable: wrist or elbow below
    ``min_wrist_score``, a forearm shorter than ``MIN_FOREARM_PX``, or not finite.
    """
    kp = np.asarray(keypoints, np.float64)
    elbow, wrist = kp[:, arms[:, 0]], kp[:, arms[:, 1]]
    forearm = wrist - elbow
    length = np.linalg.norm(forearm, axis=-1)
    centre = wrist + config.box_offset * forearm
    half = (0.5 * config.box_scale * length)[..., None]
    boxes = np.concatenate([centre - half, centre + half], axis=-1)
    sc = np.asarray(scores, np.float64)
    with np.errstate(invalid="ignore"):
        usable = (
            (np.minimum(sc[:, arms[:, 0]], sc[:, arms[:, 1]]) >= config.min_wrist_score)
            & (length >= MIN_FOREARM_PX)
            & np.isfinite(boxes).all(axis=-1)
        )
    return boxes.astype(np.float32), usable


class HandStage:
    """Adds the hand model's keypoints to a body model's people (see the module docstring).

    ``estimator``: the hand model (hand21); ``body``: the body model's schema, which must
    have both elbows and wrists and no hands of its own. Not thread-safe (``timings``).
    """

    def __init__(self, config: HandsConfig, body: Skeleton, estimator: PoseEstimator) -> None:
        names = body.keypoint_names
        missing = [n for arm in ARM_JOINTS for n in arm if n not in names]
        if missing or any(g in HAND_GROUPS for g, _, _ in body.groups):
            why = f"lacks {', '.join(missing)}" if missing else "has hand groups of its own"
            raise HandStageUnavailable(
                f"hands.enabled: the hand stage is for body models; {body.name} ({body.num_keypoints} "
                f"keypoints) {why}"
            )
        hand = estimator.skeleton
        if hand.num_keypoints != HAND_KEYPOINTS:
            raise HandStageUnavailable(
                f"hands.model {config.model!r} gives {hand.name} ({hand.num_keypoints} keypoints); "
                f"the hand stage needs a hand model with {HAND_KEYPOINTS} (hand21)"
            )
        self.config = config
        self.estimator = estimator
        self.skeleton = with_hands(body, hand)
        self.arms = np.array([[names.index(e), names.index(w)] for e, w in ARM_JOINTS], np.int64)
        self.timings: dict[str, float] = {}

    def add_hands(self, image_bgr: np.ndarray, people: list[Person]) -> list[Person]:
        """Copies of ``people`` with both hands' keypoints appended (one hand-model call)."""
        started = time.perf_counter()
        n, arms = len(people), len(self.arms)
        hand_kp = np.zeros((n, arms, HAND_KEYPOINTS, 2), np.float32)
        hand_sc = np.zeros((n, arms, HAND_KEYPOINTS), np.float32)
        if n:
            body_kp = np.stack([p.keypoints for p in people])
            boxes, usable = hand_boxes(
                body_kp, np.stack([p.keypoint_scores for p in people]), self.arms, self.config
            )
            hand_kp[:] = body_kp[:, self.arms[:, 1], None, :]  # unestimated hands sit on the wrist
            if usable.any():
                hand_kp[usable], hand_sc[usable] = self.estimator.estimate(image_bgr, boxes[usable])
        out = [
            dataclasses.replace(
                person,
                keypoints=np.concatenate([person.keypoints, hand_kp[i].reshape(-1, 2)]),
                keypoint_scores=np.concatenate([person.keypoint_scores, hand_sc[i].reshape(-1)]),
            )
            for i, person in enumerate(people)
        ]
        self.timings = {"hands_ms": (time.perf_counter() - started) * 1e3}
        return out


def build_hand_stage(config: Config, body: Skeleton) -> HandStage | None:
    """The hand stage ``config.hands`` describes for a body model of schema ``body``; None
    unless ``hands.enabled``. The hand model runs on the estimator's backend, device,
    threads and flip test, read as hand21 whatever its file says (a model of another
    keypoint count is refused naming ``hands.model``).
    """
    hands, est = config.hands, config.estimator
    if not hands.enabled:
        return None
    try:
        estimator = PoseEstimator(
            hands.model,
            backend=est.backend,
            device=est.device,
            flip_test=est.flip_test,
            arch=hands.arch or None,
            skeleton=HAND_SKELETON,  # official hand ONNX files carry no schema
            threads=est.threads or None,
        )
    except (OSError, ValueError) as err:
        raise HandStageUnavailable(f"hands.model {hands.model!r}: {err}") from None
    return HandStage(hands, body, estimator)
