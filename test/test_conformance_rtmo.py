"""RTMO parity with the official MMPose implementation on the vendored seeded ``rtmo-s`` fixture.

Criteria from ``test/fixtures/family/README.md``: every official state_dict key loads strictly;
raw head outputs per level max|ours − ref| / max|ref| < 1e-4; the BottomupResize input is
identical; after the official score threshold and NMS the same number of people, boxes and
keypoints within 0.01 px and scores within 1e-4 (people matched by score order).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seeded_weights import FAMILY_DIR, read_key_list, seeded_state_dict

from pose_perception.bottomup import bottomup_input, input_to_image
from pose_perception.models.rtmo import NMS_THR, RTMO, RTMO_SIZES, SCORE_THR, build_rtmo
from pose_perception.models.rtmo_decode import People, rtmo_people

REL_TOL = 1e-4
PIXEL_TOL = 0.01
SCORE_TOL = 1e-4
RTMO_S_PARAMETERS = 9_868_899  # the fixture README's count for the seeded rtmo-s
# Raw outputs in the fixture: raw_<kind>_<level>, kind = MMPose's RTMOHeadModule output index.
RAW_KINDS = {0: "scores", 1: "boxes", 3: "visibility", 4: "pose vectors"}
OUR_INDEX = {0: 0, 1: 1, 3: 2, 4: 3}  # our forward leaves out the training-only keypoint offsets


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FAMILY_DIR / "ref_pipeline_rtmo-s.npz") as data:
        return {key: data[key] for key in data.files}


def fixture_state_dict(ref: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The seeded weights with the README's out_cls adjustment (so that some people pass 0.1)."""
    state = seeded_state_dict("rtmo-s", int(ref["seed"]))
    for level in (0, 1):
        state[f"head.head_module.out_cls.{level}.weight"] *= float(ref["out_cls_weight_scale"])
        state[f"head.head_module.out_cls.{level}.bias"].fill_(float(ref["out_cls_bias"]))
    return state


@pytest.fixture(scope="module")
def model(ref: dict[str, np.ndarray]) -> RTMO:
    model = build_rtmo("rtmo-s")
    model.load_state_dict(fixture_state_dict(ref), strict=True)
    return model


@pytest.fixture(scope="module")
def outputs(model: RTMO, ref: dict[str, np.ndarray]) -> tuple[list[torch.Tensor], ...]:
    with torch.no_grad():
        return model(torch.from_numpy(ref["input"]))


def rel_diff(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def test_every_official_key_is_a_parameter_or_buffer_of_the_same_shape() -> None:
    ours = {key: tuple(value.shape) for key, value in build_rtmo("rtmo-s").state_dict().items()}
    official = {key: shape for key, shape, _ in read_key_list(FAMILY_DIR / "keys_rtmo-s.txt")}
    assert ours == official


def test_rtmo_s_has_the_official_parameter_count(model: RTMO) -> None:
    assert sum(p.numel() for p in model.parameters()) == RTMO_S_PARAMETERS


def test_the_official_thresholds_are_the_fixture_s(ref: dict[str, np.ndarray]) -> None:
    assert pytest.approx((SCORE_THR, NMS_THR)) == (float(ref["score_thr"]), float(ref["nms_thr"]))


def test_an_unknown_size_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="rtmo-xl"):
        build_rtmo("rtmo-xl")


@pytest.mark.parametrize("arch", sorted(RTMO_SIZES))
def test_every_size_runs_on_its_input_size(arch: str) -> None:
    model = build_rtmo(arch)
    width, height = RTMO_SIZES[arch].input_size
    with torch.no_grad():
        scores, _, vis, poses = model(torch.zeros(1, 3, height, width))
    assert [tuple(s.shape[2:]) for s in scores] == [(height // 16, width // 16), (height // 32, width // 32)]
    assert vis[0].shape[1] == 17 and poses[0].shape[1] == RTMO_SIZES[arch].pose_vec_channels


@pytest.mark.parametrize(("kind", "level"), [(k, lvl) for k in RAW_KINDS for lvl in (0, 1)])
def test_raw_head_outputs_match_mmpose(
    outputs: tuple[list[torch.Tensor], ...], ref: dict[str, np.ndarray], kind: int, level: int
) -> None:
    ours = outputs[OUR_INDEX[kind]][level].numpy()
    theirs = ref[f"raw_{kind}_{level}"]
    assert ours.shape == theirs.shape
    assert rel_diff(ours, theirs) < REL_TOL, RAW_KINDS[kind]


def test_bottomup_resize_input_is_identical(ref: dict[str, np.ndarray]) -> None:
    ours, _ = bottomup_input(ref["image"], tuple(int(v) for v in ref["input_size_wh"]))
    np.testing.assert_array_equal(ours, ref["input"])


def test_people_match_mmpose(model: RTMO, ref: dict[str, np.ndarray]) -> None:
    image_input, box = bottomup_input(ref["image"], model.size.input_size)
    with torch.no_grad():
        people: People = rtmo_people(model, model(torch.from_numpy(image_input)))[0]
    ours_order, ref_order = np.argsort(-people.bbox_scores), np.argsort(-ref["bbox_scores"])
    assert len(people.bboxes) == len(ref["bboxes"]) > 0
    bboxes = input_to_image(people.bboxes.reshape(-1, 2, 2), box).reshape(-1, 4)
    keypoints = input_to_image(people.keypoints, box)
    np.testing.assert_allclose(bboxes[ours_order], ref["bboxes"][ref_order], rtol=0, atol=PIXEL_TOL)
    np.testing.assert_allclose(keypoints[ours_order], ref["keypoints"][ref_order], rtol=0, atol=PIXEL_TOL)
    np.testing.assert_allclose(people.bbox_scores[ours_order], ref["bbox_scores"][ref_order], atol=SCORE_TOL)
    np.testing.assert_allclose(
        people.keypoint_scores[ours_order], ref["keypoint_scores"][ref_order], rtol=0, atol=SCORE_TOL
    )


def test_no_person_above_the_threshold_gives_empty_arrays(model: RTMO, outputs: tuple) -> None:
    people = rtmo_people(model, outputs, score_thr=1.0)[0]
    assert people.bboxes.shape == (0, 4) and people.keypoints.shape == (0, 17, 2)
    assert people.bbox_scores.shape == (0,) and people.keypoint_scores.shape == (0, 17)
