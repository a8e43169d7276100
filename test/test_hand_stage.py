"""The hand stage (``hands.*``): hand boxes from the forearms, every hand of a frame in one
call of a real hand model (a small RTMPose with 21 outputs, exported to ONNX with the hand21
schema here), the merged body + left_hand + right_hand schema, and nothing changed when off.

The body model is a stand-in that answers each box with a known COCO-17 pose, so the
forearms, and with them the hand boxes, are known.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_perception.config import Config, HandsConfig
from pose_perception.hand_stage import HandStage, HandStageUnavailable, hand_boxes
from pose_perception.lifting import open_lifter
from pose_perception.people import SOURCE_NONE
from pose_perception.pipeline import PosePipeline
from pose_perception.skeletons import COCO17, get_skeleton, with_hands

HAND21 = get_skeleton("hand21")
NAMES = COCO17.keypoint_names
IMAGE = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
ARMS = np.array([[NAMES.index("left_elbow"), NAMES.index("left_wrist")]])


@pytest.fixture(scope="module")
def hand_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight RTMPose-t at 256x256 with 21 outputs, exported with the hand21 schema."""
    pytest.importorskip("torch")
    from pose_perception.runtime.export import export_rtmpose

    path = tmp_path_factory.mktemp("hand") / "hand21-random.onnx"
    export_rtmpose(arch="rtmpose-t-256x256", output=path, skeleton=HAND21, seed=0)
    return path


def _pose(x: float) -> np.ndarray:
    """A standing person around ``x``: left arm hanging, right forearm raised sideways."""
    joints = {
        "nose": (0, 40), "left_eye": (5, 35), "right_eye": (-5, 35), "left_ear": (10, 38),
        "right_ear": (-10, 38), "left_shoulder": (25, 80), "right_shoulder": (-25, 80),
        "left_elbow": (30, 140), "right_elbow": (-60, 110), "left_wrist": (32, 200),
        "right_wrist": (-110, 90), "left_hip": (15, 200), "right_hip": (-15, 200),
        "left_knee": (17, 280), "right_knee": (-17, 280), "left_ankle": (18, 360), "right_ankle": (-18, 360),
    }  # fmt: skip
    return np.array([joints[n] for n in NAMES], np.float32) + np.array([x, 0], np.float32)


class BodyModel:
    """Each box gets the pose of the person whose x it was made around, every joint scored 0.9
    except ``low`` (joint name → score)."""

    skeleton = COCO17

    def __init__(self, low: dict[str, float] | None = None) -> None:
        self.low = low or {}

    def estimate(self, image_bgr: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keypoints = np.stack([_pose(float(b[0] + b[2]) / 2) for b in boxes])
        scores = np.full((len(boxes), 17), 0.9, np.float32)
        for name, score in self.low.items():
            scores[:, NAMES.index(name)] = score
        return keypoints, scores


def _boxes(n: int) -> np.ndarray:
    return np.array([[x - 130, 20, x + 60, 380] for x in 150 + 170 * np.arange(n)], np.float32)


def _config(hand_model: Path | None, **hands: Any) -> Config:
    config = Config()
    config.detector = dataclasses.replace(config.detector, type="full_frame")
    config.output = dataclasses.replace(config.output, min_person_score=0.0)
    if hand_model is not None:
        config.hands = HandsConfig(enabled=True, model=str(hand_model), **hands)
    return config


class CountingEstimate:
    """Wraps an estimator's ``estimate``: how often it was called, with how many boxes."""

    def __init__(self, estimator: Any) -> None:
        self.inner, self.calls = estimator.estimate, []  # type: ignore[var-annotated]
        estimator.estimate = self

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append(np.array(boxes))
        return self.inner(image, boxes)


# -- geometry ----------------------------------------------------------------------------------


def test_a_hand_box_is_a_square_beyond_the_wrist_sized_by_the_forearm() -> None:
    config = HandsConfig(box_scale=0.9, box_offset=0.35, min_wrist_score=0.3)
    keypoints = np.zeros((2, 17, 2), np.float32)
    keypoints[0, ARMS[0]] = [[100, 100], [100, 200]]  # forearm pointing down, 100 px
    keypoints[1, ARMS[0]] = [[300, 300], [330, 260]]  # up and right, 50 px (3-4-5)
    boxes, usable = hand_boxes(keypoints, np.ones((2, 17)), ARMS, config)
    # centre = wrist + 0.35 * forearm, side = 0.9 * forearm length
    np.testing.assert_allclose(boxes[0, 0], [100 - 45, 235 - 45, 100 + 45, 235 + 45], atol=1e-4)
    np.testing.assert_allclose(boxes[1, 0], [340.5 - 22.5, 246 - 22.5, 340.5 + 22.5, 246 + 22.5], atol=1e-4)
    assert usable.all() and boxes.shape == (2, 1, 4)
    wider = hand_boxes(keypoints, np.ones((2, 17)), ARMS, dataclasses.replace(config, box_scale=1.8))[0]
    np.testing.assert_allclose(wider[0, 0], [10, 145, 190, 325], atol=1e-4)


def test_a_hand_with_a_low_wrist_or_elbow_or_no_forearm_is_not_usable() -> None:
    config = HandsConfig(min_wrist_score=0.5)
    keypoints = np.zeros((4, 17, 2), np.float32)
    keypoints[:, ARMS[0]] = [[100, 100], [100, 200]]
    keypoints[3, ARMS[0, 1]] = [100.5, 101]  # wrist 1.1 px from the elbow
    scores = np.ones((4, 17))
    scores[1, ARMS[0, 1]] = 0.49  # wrist
    scores[2, ARMS[0, 0]] = 0.2  # elbow
    _, usable = hand_boxes(keypoints, scores, ARMS, config)
    assert usable[:, 0].tolist() == [True, False, False, False]


# -- the merged schema ---------------------------------------------------------------------------


def test_body_with_hands_is_body17_then_both_hands_as_groups() -> None:
    merged = with_hands(COCO17, HAND21)
    assert merged.num_keypoints == 59 and get_skeleton("coco17_hands") == merged
    assert merged.groups == (("body", 0, 16), ("left_hand", 17, 37), ("right_hand", 38, 58))
    assert merged.keypoint_names[:17] == NAMES
    assert (
        merged.keypoint_names[17] == "left_hand_wrist"
        and merged.keypoint_names[58] == "right_hand_pinky_finger4"
    )
    assert merged.links[: len(COCO17.links)] == COCO17.links
    hand_links = merged.links[len(COCO17.links) :]
    assert hand_links == tuple((a + 17, b + 17) for a, b in HAND21.links) + tuple(
        (a + 38, b + 38) for a, b in HAND21.links
    )
    # Flipping the image swaps the body's sides and the two hands, joint by joint.
    assert merged.flip_indices[:17] == COCO17.flip_indices
    assert merged.flip_indices[17:38] == tuple(range(38, 59))
    assert merged.flip_indices[38:] == tuple(range(17, 38))
    assert merged.sigmas == COCO17.sigmas + HAND21.sigmas + HAND21.sigmas  # type: ignore[operator]
    assert list(merged.group("right_hand")) == list(range(38, 59))


# -- in the pipeline -----------------------------------------------------------------------------


def test_all_hands_of_all_people_go_through_the_hand_model_in_one_call(hand_model: Path) -> None:
    pipeline = PosePipeline(_config(hand_model), BodyModel())
    assert pipeline.skeleton == with_hands(COCO17, HAND21)
    assert pipeline.hands is not None
    counted = CountingEstimate(pipeline.hands.estimator)
    people = pipeline.process(IMAGE, 0.0, _boxes(3))
    assert len(people) == 3 and len(counted.calls) == 1 and len(counted.calls[0]) == 6
    assert "hands_ms" in pipeline.timings
    # The hands are the hand model's keypoints in the boxes beyond each wrist.
    body = np.stack([_pose(float(b[0] + b[2]) / 2) for b in _boxes(3)])
    arms = pipeline.hands.arms
    expected_boxes, _ = hand_boxes(body, np.full((3, 17), 0.9), arms, pipeline.config.hands)
    np.testing.assert_allclose(counted.calls[0], expected_boxes.reshape(-1, 4))
    hand_kp, hand_sc = counted.inner(IMAGE, expected_boxes.reshape(-1, 4))
    merged = pipeline.skeleton
    for i, person in enumerate(sorted(people, key=lambda p: p.bbox[0])):
        assert person.keypoints.shape == (59, 2) and person.keypoint_scores.shape == (59,)
        np.testing.assert_array_equal(person.keypoints[:17], body[i])
        for side, group in enumerate(("left_hand", "right_hand")):
            rows = list(merged.group(group))
            np.testing.assert_allclose(person.keypoints[rows], hand_kp[2 * i + side], atol=1e-5)
            np.testing.assert_allclose(person.keypoint_scores[rows], hand_sc[2 * i + side], atol=1e-6)


def test_a_hand_with_a_low_wrist_score_keeps_its_keypoints_with_zero_scores(hand_model: Path) -> None:
    pipeline = PosePipeline(_config(hand_model, min_wrist_score=0.5), BodyModel({"right_wrist": 0.4}))
    assert pipeline.hands is not None
    counted = CountingEstimate(pipeline.hands.estimator)
    people = pipeline.process(IMAGE, 0.0, _boxes(2))
    assert [len(c) for c in counted.calls] == [2]  # the left hands only
    right = list(pipeline.skeleton.group("right_hand"))
    for person in people:
        assert person.keypoints.shape == (59, 2)
        assert (person.keypoint_scores[right] == 0).all()
        np.testing.assert_array_equal(person.keypoints[right], np.repeat(person.keypoints[[10]], 21, axis=0))
        assert (person.keypoint_scores[list(pipeline.skeleton.group("left_hand"))] > 0).any()
    # hands.min_wrist_score is a run-time setting: lowered, the right hands are estimated too.
    pipeline.config = dataclasses.replace(
        pipeline.config, hands=dataclasses.replace(pipeline.config.hands, min_wrist_score=0.3)
    )
    pipeline.process(IMAGE, 0.1, _boxes(2))
    assert [len(c) for c in counted.calls] == [2, 4]
    # Nobody's wrist scores: no hand-model call at all, still 59 keypoints.
    none = PosePipeline(_config(hand_model), BodyModel({"left_wrist": 0.0, "right_wrist": 0.0}))
    assert none.hands is not None
    counted = CountingEstimate(none.hands.estimator)
    people = none.process(IMAGE, 0.0, _boxes(2))
    assert not counted.calls and all(p.keypoint_scores[17:].max() == 0 for p in people)


def test_off_by_default_and_the_body_outputs_do_not_change_with_hands(hand_model: Path) -> None:
    assert not Config().hands.enabled
    off = PosePipeline(_config(None), BodyModel())
    on = PosePipeline(_config(hand_model), BodyModel())
    assert off.hands is None and off.skeleton is COCO17
    for stamp in (0.0, 0.1, 0.2):
        body, with_hands_people = off.process(IMAGE, stamp, _boxes(2)), on.process(IMAGE, stamp, _boxes(2))
        assert "hands_ms" not in off.timings
        assert len(body) == len(with_hands_people) == 2
        for a, b in zip(body, with_hands_people, strict=True):
            assert a.keypoints.shape == (17, 2)
            assert a.track_id == b.track_id and a.score == b.score
            np.testing.assert_array_equal(a.bbox, b.bbox)
            np.testing.assert_array_equal(a.keypoints, b.keypoints[:17])
            np.testing.assert_array_equal(a.keypoint_scores, b.keypoint_scores[:17])


def test_the_lifter_lifts_the_body_of_people_with_hands(hand_model: Path) -> None:
    config = _config(hand_model)
    config.three_d = dataclasses.replace(config.three_d, mode="lifter")
    people = PosePipeline(config, BodyModel(), lifter=open_lifter()).process(IMAGE, 0.0, _boxes(1))
    joints = people[0].joints_3d
    assert joints is not None and joints.valid.shape == (59,)
    assert joints.valid[:17].sum() == 13 and (joints.source[17:] == SOURCE_NONE).all()


# -- what cannot work is refused, naming the setting ----------------------------------------------


def test_the_stage_refuses_non_body_models_and_non_hand_models(
    hand_model: Path, random_rtmpose_t_onnx: Path, tmp_path: Path
) -> None:
    class Model(BodyModel):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.skeleton = get_skeleton(name)

    with pytest.raises(
        HandStageUnavailable, match=r"^hands\.enabled: .*hand21 \(21 keypoints\) lacks left_elbow"
    ):
        PosePipeline(_config(hand_model), Model("hand21"))
    with pytest.raises(
        HandStageUnavailable, match=r"coco_wholebody \(133 keypoints\) has hand groups of its own"
    ):
        PosePipeline(_config(hand_model), Model("coco_wholebody"))
    with pytest.raises(
        HandStageUnavailable, match=r"^hands\.model '.*': .*skeleton 'hand21' has 21 keypoints, model has 17"
    ):
        PosePipeline(_config(random_rtmpose_t_onnx), BodyModel())
    with pytest.raises(
        HandStageUnavailable, match=r"^hands\.model 'rtmpose-m-hand' gives coco17 \(17 keypoints\)"
    ):
        HandStage(HandsConfig(), COCO17, BodyModel())  # a stage handed a body model as its hand model
    missing = tmp_path / "no_hand.onnx"
    with pytest.raises(HandStageUnavailable, match=rf"^hands\.model '{missing}': "):
        PosePipeline(_config(missing), BodyModel())
    config = _config(hand_model)
    config.hands.model = ""
    with pytest.raises(ValueError, match=r"hands\.model must not be empty"):
        config.validate()
