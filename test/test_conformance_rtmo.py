"""RTMO parity with the official MMPose implementation on the vendored seeded ``rtmo-s`` fixture.

Criteria from ``test/fixtures/family/README.md``: every official state_dict key loads strictly;
raw head outputs per level max|ours − ref| / max|ref| < 1e-4; the BottomupResize input is
identical; after the official score threshold and NMS the same number of people, boxes and
keypoints within 0.01 px and scores within 1e-4 (people matched by score order).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from seeded_weights import FAMILY_DIR, read_key_list, seeded_state_dict

from pose_perception import OneStageEstimator
from pose_perception.bottomup import bottomup_input, input_to_image, letterbox
from pose_perception.models.rtmo import RTMO, RTMO_SIZES, build_rtmo
from pose_perception.models.rtmo_decode import RTMODense, decode_boxes, flatten_levels, grid_priors
from pose_perception.people_select import NMS_THR, SCORE_THR, select_people
from pose_perception.runtime.export_onestage import export_rtmo_onnx

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


def assert_people_match(people: tuple[np.ndarray, ...], ref: dict[str, np.ndarray]) -> None:
    """Same number of people; after sorting both by score, boxes and keypoints within 0.01 px."""
    bboxes, bbox_scores, keypoints, keypoint_scores = people
    assert len(bboxes) == len(ref["bboxes"]) > 0
    ours, theirs = np.argsort(-bbox_scores, kind="stable"), np.argsort(-ref["bbox_scores"], kind="stable")
    np.testing.assert_allclose(bboxes[ours], ref["bboxes"][theirs], rtol=0, atol=PIXEL_TOL)
    np.testing.assert_allclose(keypoints[ours], ref["keypoints"][theirs], rtol=0, atol=PIXEL_TOL)
    np.testing.assert_allclose(bbox_scores[ours], ref["bbox_scores"][theirs], rtol=0, atol=SCORE_TOL)
    np.testing.assert_allclose(keypoint_scores[ours], ref["keypoint_scores"][theirs], rtol=0, atol=SCORE_TOL)


def test_decoding_mmpose_s_head_outputs_is_within_1e_3_px(model: RTMO, ref: dict[str, np.ndarray]) -> None:
    """Our decode (priors, boxes, DCC, threshold, NMS) fed MMPose's raw head outputs: the float noise of
    the network is out of the way, so this holds 10x tighter than the end-to-end 0.01 px."""
    levels = {kind: [torch.from_numpy(ref[f"raw_{kind}_{level}"]) for level in (0, 1)] for kind in RAW_KINDS}
    priors, strides = grid_priors([tuple(level.shape[2:]) for level in levels[0]], model.strides)
    boxes = decode_boxes(flatten_levels(levels[1])[0], priors, strides)
    with torch.no_grad():
        keypoints = model.head.dcc(flatten_levels(levels[4])[0], boxes, priors)
    dense = (
        boxes.numpy(),
        flatten_levels(levels[0])[0, :, 0].sigmoid().numpy(),
        keypoints.numpy(),
        flatten_levels(levels[3])[0].sigmoid().numpy(),
    )
    people = select_people(dense, model.size.input_size, SCORE_THR, NMS_THR)
    box = letterbox((ref["image"].shape[1], ref["image"].shape[0]), model.size.input_size)
    ours, theirs = np.argsort(-people.bbox_scores), np.argsort(-ref["bbox_scores"])
    assert len(ours) == len(theirs)
    image_keypoints = input_to_image(people.keypoints, box)
    np.testing.assert_allclose(image_keypoints[ours], ref["keypoints"][theirs], rtol=0, atol=1e-3)


def test_people_match_mmpose(model: RTMO, ref: dict[str, np.ndarray]) -> None:
    assert_people_match(OneStageEstimator(model).estimate(ref["image"]), ref)


@pytest.fixture(scope="module")
def onnx_file(model: RTMO, tmp_path_factory: pytest.TempPathFactory) -> str:
    return export_rtmo_onnx(model, "rtmo-s", tmp_path_factory.mktemp("onnx") / "rtmo-s.onnx")


def test_people_through_our_onnx_export_match_mmpose(onnx_file: str, ref: dict[str, np.ndarray]) -> None:
    estimator = OneStageEstimator(onnx_file, backend="onnxruntime")
    assert estimator.input_size == (640, 640)
    assert (estimator.score_thr, estimator.nms_thr) == (SCORE_THR, NMS_THR)
    assert_people_match(estimator.estimate(ref["image"]), ref)


# The weak people (score 0.05) random weights give by the hundred: there the float noise of the
# network, amplified by the DCC, reaches 0.033 px between ONNX Runtime and PyTorch (the same
# with the earlier dense export, which ran the DCC on every cell); 0.01 px holds for the rest.
LOW_THRESHOLD_PIXEL_TOL = 0.05


@pytest.mark.parametrize(
    ("score_thr", "nms_thr", "people"),
    [(1.0, NMS_THR, 0), (0.15, NMS_THR, 1), (0.12, NMS_THR, 4), (0.05, NMS_THR, 253), (0.05, 0.3, 253)],
)
def test_our_onnx_export_keeps_the_torch_path_s_people_at_any_thresholds(
    model: RTMO, onnx_file: str, ref: dict[str, np.ndarray], score_thr: float, nms_thr: float, people: int
) -> None:
    """Threshold and NMS run inside the graph (its inputs), the DCC on the kept rows only: 0, 1 or
    hundreds of people, the same as the PyTorch path's. (The seeded people do not overlap, so NMS
    drops none here: test_onestage_kept.py checks the graph's NMS on overlapping boxes.)"""
    options = {"score_thr": score_thr, "nms_thr": nms_thr}
    keypoint_tol = LOW_THRESHOLD_PIXEL_TOL if score_thr < SCORE_THR else PIXEL_TOL
    ours = OneStageEstimator(onnx_file, backend="onnxruntime", **options).estimate(ref["image"])
    theirs = OneStageEstimator(model, **options).estimate(ref["image"])
    assert len(ours[0]) == len(theirs[0]) == people
    same = same_people(ours[0], theirs[0])
    for got, expected, tol in zip(ours, theirs, (PIXEL_TOL, SCORE_TOL, keypoint_tol, SCORE_TOL), strict=True):
        np.testing.assert_allclose(got, expected[same], rtol=0, atol=tol)


def same_people(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """For each of our (N, 4) boxes, the row of the same person in ``theirs`` (nearest box): a
    permutation, since people whose scores tie within float noise may come in either order."""
    if not len(ours):
        return np.zeros(0, np.int64)
    rows = np.abs(ours[:, None] - theirs[None]).max(axis=-1).argmin(axis=1)
    assert sorted(rows) == list(range(len(theirs)))
    return rows


def test_an_earlier_dense_export_still_loads_and_selects_in_numpy(
    model: RTMO, ref: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """Files of our earlier format (every grid cell a row, no threshold inputs, no "decode" key)."""
    path = export_rtmo_onnx(model, "rtmo-s", tmp_path / "dense.onnx", decode="dense")
    estimator = OneStageEstimator(path, backend="onnxruntime")
    assert [i.name for i in estimator.session.get_inputs()] == ["input"]
    assert "decode" not in estimator.session.get_modelmeta().custom_metadata_map
    assert_people_match(estimator.estimate(ref["image"]), ref)
    estimator.score_thr = 0.12
    assert len(estimator.estimate(ref["image"])[0]) == 4


def test_a_pth_loads_with_its_arch(model: RTMO, ref: dict[str, np.ndarray], tmp_path: Path) -> None:
    torch.save(model.state_dict(), tmp_path / "rtmo-s.pth")
    assert_people_match(OneStageEstimator(tmp_path / "rtmo-s.pth", arch="rtmo-s").estimate(ref["image"]), ref)
    with pytest.raises(ValueError, match="arch="):
        OneStageEstimator(tmp_path / "rtmo-s.pth")


def test_a_pth_on_onnx_runtime_is_exported_once_into_the_cache(
    model: RTMO, ref: dict[str, np.ndarray], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torch.save(model.state_dict(), tmp_path / "rtmo-s.pth")
    options = {"arch": "rtmo-s", "backend": "onnxruntime", "cache_dir": tmp_path}
    with caplog.at_level("WARNING"):
        first = OneStageEstimator(tmp_path / "rtmo-s.pth", **options)
    assert caplog.text.count("to ONNX once") == 1
    assert_people_match(first.estimate(ref["image"]), ref)
    caplog.clear()
    with caplog.at_level("WARNING"):
        OneStageEstimator(tmp_path / "rtmo-s.pth", **options)
    assert "to ONNX once" not in caplog.text  # the cached export
    assert len(list((tmp_path / "onnx").glob("rtmo-s-rtmo-s-*.onnx"))) == 1
    assert first.session.get_modelmeta().custom_metadata_map["decode"] == "kept"


def test_no_person_above_the_threshold_gives_empty_arrays(model: RTMO, ref: dict[str, np.ndarray]) -> None:
    bboxes, bbox_scores, keypoints, keypoint_scores = OneStageEstimator(model, score_thr=1.0).estimate(
        ref["image"]
    )
    assert bboxes.shape == (0, 4) and keypoints.shape == (0, 17, 2)
    assert bbox_scores.shape == (0,) and keypoint_scores.shape == (0, 17)


WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np
from pose_perception import OneStageEstimator
with np.load(sys.argv[2]) as ref:
    image, expected = ref["image"], ref["bboxes"]
bboxes, _, keypoints, _ = OneStageEstimator(sys.argv[1], backend="onnxruntime").estimate(image)
assert keypoints.shape == (len(expected), 17, 2), keypoints.shape
print(len(bboxes))
"""


def test_the_onnx_path_runs_without_torch(onnx_file: str) -> None:
    fixture = str(FAMILY_DIR / "ref_pipeline_rtmo-s.npz")
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, onnx_file, fixture], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "9"


def test_a_top_down_onnx_file_is_refused_by_the_one_stage_estimator(tmp_path: Path) -> None:
    from pose_perception.models import build_rtmpose
    from pose_perception.runtime.export import export_onnx

    top_down = build_rtmpose("rtmpose-t")
    path = export_onnx(top_down, top_down.model_info(), tmp_path / "t.onnx")
    with pytest.raises(ValueError, match=r"t\.onnx: not a one-stage model"):
        OneStageEstimator(path, backend="onnxruntime")


@pytest.mark.parametrize("image_size", [(640, 480), (480, 640), (1000, 200)])
def test_input_to_image_inverts_the_letterbox(image_size: tuple[int, int]) -> None:
    """Image corners go through the letterbox warp and come back where they started."""
    from pose_perception.topdown import warp_matrix

    box = letterbox(image_size, (640, 640))
    corners = np.array([[0, 0], [image_size[0], image_size[1]]], dtype=np.float32)
    warped = corners @ warp_matrix(box.center, box.scale, (640, 640))[:, :2].T.astype(np.float32)
    warped += warp_matrix(box.center, box.scale, (640, 640))[:, 2].astype(np.float32)
    assert warped.min() >= -1e-3 and warped.max() <= 640 + 1e-3
    np.testing.assert_allclose(input_to_image(warped, box), corners, atol=1e-3)


def test_bad_arguments_are_clear_errors(model: RTMO) -> None:
    with pytest.raises(ValueError, match="backend"):
        OneStageEstimator(model, backend="tensorrt")
    with pytest.raises(TypeError, match="RTMO module"):
        OneStageEstimator(object())
    with pytest.raises(ValueError, match="H×W×3"):
        OneStageEstimator(model).estimate(np.zeros((4, 4, 4), np.uint8))


# ---------------------------------------------------------------- official (MMDeploy) RTMO ONNX files


class OfficialSignature(torch.nn.Module):
    """Our RTMO behind MMDeploy's end-to-end signature: ``dets`` (1,N,5: x1,y1,x2,y2,score) and
    ``keypoints`` (1,N,K,3: x,y,score) in input pixels, no metadata. Every grid cell is a row: the
    official graph's own threshold and NMS are the estimator's job here, which it does anyway."""

    def __init__(self, model: RTMO) -> None:
        super().__init__()
        self.dense = RTMODense(model)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        boxes, scores, keypoints, keypoint_scores = self.dense(x)
        dets = torch.cat([boxes, scores[..., None]], dim=-1)
        return dets, torch.cat([keypoints, keypoint_scores[..., None]], dim=-1)


def export_official_signature(model: RTMO, path: Path) -> str:
    width, height = model.size.input_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            OfficialSignature(model.eval()).eval(),
            (torch.zeros(1, 3, height, width),),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=["dets", "keypoints"],
            opset_version=17,
        )
    return str(path)


def test_an_official_signature_onnx_gives_the_torch_path_s_people(
    model: RTMO, ref: dict[str, np.ndarray], tmp_path: Path
) -> None:
    path = export_official_signature(model, tmp_path / "end2end.onnx")
    estimator = OneStageEstimator(path, backend="onnxruntime")
    assert estimator.input_size == (640, 640)
    assert (estimator.score_thr, estimator.nms_thr) == (SCORE_THR, NMS_THR)
    theirs = OneStageEstimator(model).estimate(ref["image"])
    ours = estimator.estimate(ref["image"])
    assert len(ours[0]) == len(theirs[0]) == len(ref["bboxes"])
    for got, expected in zip(ours, theirs, strict=True):  # both highest score first
        np.testing.assert_allclose(got, expected, rtol=0, atol=PIXEL_TOL)
    assert_people_match(ours, ref)


def test_official_dets_and_keypoints_map_to_image_pixels(tmp_path: Path) -> None:
    """A graph with fixed official outputs: a 1280x640 image sits in the 640x640 input at half
    size, 160 px down, so input (x, y) is image (2x, 2(y - 160)); rows under the threshold go."""
    from onnx_graphs import constant_onnx

    dets = np.array([[[100, 200, 300, 400, 0.9], [10, 170, 50, 250, 0.5], [0, 0, 5, 5, 0.05]]], np.float32)
    keypoints = np.zeros((1, 3, 17, 3), np.float32)
    keypoints[0, :, :, :2] = [150, 300]
    keypoints[0, :, :, 2] = 0.75
    path = tmp_path / "rtmo-official.onnx"
    path.write_bytes(constant_onnx([1, 3, 640, 640], {"dets": dets, "keypoints": keypoints}))
    bboxes, bbox_scores, image_keypoints, keypoint_scores = OneStageEstimator(
        path, backend="onnxruntime"
    ).estimate(np.zeros((640, 1280, 3), np.uint8))
    np.testing.assert_allclose(bboxes, [[200, 80, 600, 480], [20, 20, 100, 180]], atol=1e-3)
    np.testing.assert_allclose(bbox_scores, [0.9, 0.5])
    np.testing.assert_allclose(image_keypoints, np.full((2, 17, 2), [300, 280]), atol=1e-3)
    np.testing.assert_allclose(keypoint_scores, np.full((2, 17), 0.75))
    with pytest.raises(ValueError, match=r"rtmo-official\.onnx: input_size \(320, 320\) given"):
        OneStageEstimator(path, backend="onnxruntime", input_size=(320, 320))


def test_a_dynamic_official_graph_needs_its_input_size(tmp_path: Path) -> None:
    from onnx_graphs import constant_onnx

    outputs = {"dets": np.zeros((1, 0, 5), np.float32), "keypoints": np.zeros((1, 0, 17, 3), np.float32)}
    path = tmp_path / "dynamic.onnx"
    path.write_bytes(constant_onnx([1, 3, "height", "width"], outputs))
    with pytest.raises(ValueError, match=r"dynamic\.onnx: the graph's input size is dynamic; pass input_si"):
        OneStageEstimator(path, backend="onnxruntime")
    estimator = OneStageEstimator(path, backend="onnxruntime", input_size=(416, 416))
    assert estimator.input_size == (416, 416)
    assert estimator.estimate(np.zeros((100, 100, 3), np.uint8))[2].shape == (0, 17, 2)
