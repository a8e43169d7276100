"""Where a frame's people come from: person boxes + a top-down pose model, or a one-stage model.

A top-down model (RTMPose, RTMW) needs person boxes (the detector, the pose-derived boxes of the
last frame, or the caller's). A one-stage model (RTMO) takes the whole image and gives boxes,
scores, keypoints and keypoint scores itself, so there is no person detector. Everything after
(person score, pose NMS, tracking, smoothing, 3D) is the same for both.

A hand, face or animal model is a top-down model but not a *person* model: the person detector's
boxes are not what it was trained on, so it runs only on boxes given with every frame or on the
whole image (``detector.type full_frame``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pose_perception.config import EstimatorConfig
from pose_perception.estimator import PoseEstimator
from pose_perception.model_kinds import ONE_STAGE, model_kind
from pose_perception.onestage import BACKENDS as ONE_STAGE_BACKENDS
from pose_perception.onestage import OneStageEstimator
from pose_perception.skeletons import Skeleton, get_skeleton

# Keypoint schemas of models that are not person models: the skeleton name → what it finds.
NOT_A_PERSON = {"hand21": "a hand", "face106": "a face", "ap10k": "an animal"}
PERSON_DETECTORS = ("onnx", "hog")  # detector types that find people (full_frame: the whole image)

PoseModel = PoseEstimator | OneStageEstimator


@dataclasses.dataclass
class FrameBoxes:
    """The person boxes a frame's poses are estimated in, and where they came from."""

    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2
    scores: np.ndarray  # (N,)
    source: str  # "detector" | "poses" | "external" | "one-stage"
    seen: np.ndarray  # (N,) bool: the detector (or the caller) found this person at its last run


def is_one_stage(model: str, arch: str) -> bool:
    """Whether ``estimator.model`` / ``estimator.arch`` name a one-stage (RTMO) model
    (:func:`~pose_perception.model_kinds.model_kind`). A model it cannot classify counts as
    top-down: opening it as one then says what is wrong, naming the file."""
    try:
        return model_kind(model, arch or None) == ONE_STAGE
    except (ValueError, OSError):
        return False


def open_pose_model(config: EstimatorConfig) -> PoseModel:
    """The pose model ``config`` describes: a :class:`OneStageEstimator` for RTMO (see
    :func:`is_one_stage`), else a :class:`PoseEstimator`."""
    if not is_one_stage(config.model, config.arch):
        return PoseEstimator.from_config(config)
    if config.backend not in ONE_STAGE_BACKENDS:
        raise ValueError(
            f"estimator.backend {config.backend!r}: a one-stage (RTMO) model runs on "
            f"{' or '.join(ONE_STAGE_BACKENDS)}"
        )
    return OneStageEstimator(
        config.model,
        arch=config.arch or None,
        backend=config.backend,
        device=config.device,
        threads=config.threads or None,
    )


def model_skeleton(model: Any, config: EstimatorConfig) -> Skeleton:
    """The keypoint schema of ``model``: its own for a top-down model; ``estimator.skeleton``
    (default coco17, the official RTMO's) for a one-stage model, which carries none."""
    if isinstance(model, OneStageEstimator):
        return get_skeleton(config.skeleton or "coco17")
    skeleton: Skeleton = model.skeleton
    return skeleton


class NotAPersonModel(ValueError):
    """A hand, face or animal model set up to run on the person detector's boxes."""


def check_person_model(skeleton: Skeleton, detector_type: str) -> None:
    """NotAPersonModel when a hand, face or animal model would run on the person detector's boxes."""
    finds = NOT_A_PERSON.get(skeleton.name)
    if finds is not None and detector_type in PERSON_DETECTORS:
        raise NotAPersonModel(
            f"skeleton {skeleton.name}: {finds} model is not a person model and cannot use the person "
            f"detector (detector.type {detector_type}); give boxes with every frame or use the whole "
            "image (detector.type full_frame; run --whole-image)"
        )


def one_stage_people(
    model: OneStageEstimator, image: np.ndarray, boxes: np.ndarray | None, max_people: int
) -> tuple[FrameBoxes, np.ndarray, np.ndarray]:
    """The (at most ``max_people``, best first) people a one-stage model finds in the whole
    ``image``: their boxes (source "one-stage"), keypoints (N,K,2) and keypoint scores (N,K).
    Caller boxes are an error: the model finds people itself, and silently dropping boxes would
    hide a mistake."""
    if boxes is not None:
        raise ValueError("boxes given, but the pose model is one-stage (RTMO): it finds the people itself")
    found, scores, keypoints, keypoint_scores = (a[:max_people] for a in model.estimate(image))
    found = np.asarray(found, np.float32).reshape(-1, 4)
    people = FrameBoxes(found, np.asarray(scores, np.float32), "one-stage", np.ones(len(found), bool))
    return people, np.asarray(keypoints, np.float32), np.asarray(keypoint_scores, np.float32)
