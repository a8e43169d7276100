"""Parity with the official MMPose implementation (fixtures made with mmpose 1.3.2).

Criteria from the fixtures' README: simcc outputs max|ours − ref| / max|ref| < 1e-4
(PyTorch and exported ONNX), decoded keypoints within 1e-3 px, full pipeline within
0.01 px with flip test off and on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pose_perception import PoseEstimator
from pose_perception.codec import decode_simcc
from pose_perception.models import build_rtmpose, load_checkpoint
from pose_perception.runtime.export import export_onnx
from pose_perception.runtime.onnxruntime_backend import OnnxRuntimeBackend
from pose_perception.topdown import (
    boxes_to_center_scale,
    normalize_crops,
    warp_crops,
)

REL_TOL = 1e-4


def rel_diff(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


@pytest.fixture(scope="module")
def model(rtmpose_t_fixtures: Path) -> torch.nn.Module:
    return load_checkpoint(build_rtmpose("rtmpose-t"), rtmpose_t_fixtures / "rtmpose-t_random.pth").eval()


@pytest.fixture(scope="module")
def ref(rtmpose_t_fixtures: Path) -> dict[str, np.ndarray]:
    return dict(np.load(rtmpose_t_fixtures / "ref_t.npz"))


@pytest.fixture(scope="module")
def ref_pipeline(rtmpose_t_fixtures: Path) -> dict[str, np.ndarray]:
    return dict(np.load(rtmpose_t_fixtures / "ref_pipeline_t.npz"))


@pytest.fixture(scope="module")
def onnx_path(model: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "rtmpose-t.onnx"
    export_onnx(model, model.model_info(), path)
    return path


def test_state_dict_keys_match_official_list(model: torch.nn.Module, rtmpose_t_fixtures: Path) -> None:
    official = {}
    for line in (rtmpose_t_fixtures / "keys_t.txt").read_text().splitlines():
        name, shape, _dtype = line.split("\t")
        official[name] = tuple(int(v) for v in shape.strip("()").split(",") if v.strip())
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == official


def test_backbone_matches_official(model: torch.nn.Module, ref: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        feat = model.backbone(torch.from_numpy(ref["input"])).numpy()
    assert rel_diff(feat, ref["backbone_feat"]) < REL_TOL


def test_preprocessing_matches_official(ref: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(normalize_crops(ref["img_bgr"]), ref["input"], rtol=0, atol=1e-6)


def test_torch_simcc_matches_official(model: torch.nn.Module, ref: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        simcc_x, simcc_y = (t.numpy() for t in model(torch.from_numpy(ref["input"])))
    assert rel_diff(simcc_x, ref["simcc_x"]) < REL_TOL
    assert rel_diff(simcc_y, ref["simcc_y"]) < REL_TOL
    keypoints, scores = decode_simcc(simcc_x, simcc_y)
    assert np.abs(keypoints - ref["keypoints"]).max() < 1e-3
    assert np.abs(scores - ref["scores"]).max() < 1e-4 * np.abs(ref["scores"]).max()


def test_onnx_simcc_matches_official(onnx_path: Path, ref: dict[str, np.ndarray]) -> None:
    backend = OnnxRuntimeBackend(onnx_path)
    simcc_x, simcc_y = backend.infer(ref["input"])
    assert rel_diff(simcc_x, ref["simcc_x"]) < REL_TOL
    assert rel_diff(simcc_y, ref["simcc_y"]) < REL_TOL
    keypoints, _ = decode_simcc(simcc_x, simcc_y)
    assert np.abs(keypoints - ref["keypoints"]).max() < 1e-3


def test_onnx_signature_is_official(onnx_path: Path) -> None:
    backend = OnnxRuntimeBackend(onnx_path)
    (inp,) = backend.session.get_inputs()
    assert inp.name == "input" and isinstance(inp.shape[0], str)  # dynamic batch
    assert [o.name for o in backend.session.get_outputs()] == ["simcc_x", "simcc_y"]
    info = backend.model_info()
    assert info.input_size == (192, 256) and info.simcc_split_ratio == 2.0
    assert info.skeleton.keypoint_names[0] == "nose"


def test_decode_matches_official(ref: dict[str, np.ndarray]) -> None:
    keypoints, scores = decode_simcc(ref["simcc_x"], ref["simcc_y"])
    np.testing.assert_array_equal(keypoints, ref["keypoints"])
    np.testing.assert_array_equal(scores, ref["scores"])


def test_affine_crop_matches_official(ref_pipeline: dict[str, np.ndarray]) -> None:
    centers, scales = boxes_to_center_scale(ref_pipeline["bbox"], (192, 256))
    np.testing.assert_allclose(centers[0], ref_pipeline["input_center"], atol=1e-4)
    np.testing.assert_allclose(scales[0], ref_pipeline["input_scale"], atol=1e-4)
    crop = warp_crops(ref_pipeline["image"], centers, scales, (192, 256))[0]
    np.testing.assert_array_equal(crop.transpose(2, 0, 1), ref_pipeline["warped"])


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
@pytest.mark.parametrize("flip_test", [False, True])
def test_full_pipeline_matches_official(
    backend: str,
    flip_test: bool,
    model: torch.nn.Module,
    onnx_path: Path,
    ref_pipeline: dict[str, np.ndarray],
) -> None:
    source = model if backend == "torch" else onnx_path
    estimator = PoseEstimator(source, backend=backend, flip_test=flip_test)
    keypoints, scores = estimator.estimate(ref_pipeline["image"], ref_pipeline["bbox"])
    suffix = "flip" if flip_test else "noflip"
    assert keypoints.shape == (1, 17, 2) and scores.shape == (1, 17)
    assert np.abs(keypoints - ref_pipeline[f"keypoints_{suffix}"]).max() < 0.01
    assert rel_diff(scores, ref_pipeline[f"scores_{suffix}"]) < REL_TOL


def test_checkpoint_path_on_onnxruntime_matches_official(
    rtmpose_t_fixtures: Path, ref_pipeline: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """A .pth run on ONNX Runtime goes through the cached export and stays official."""
    estimator = PoseEstimator(
        rtmpose_t_fixtures / "rtmpose-t_random.pth",
        backend="onnxruntime",
        arch="rtmpose-t",
        flip_test=True,
        cache_dir=tmp_path,
    )
    keypoints, _ = estimator.estimate(ref_pipeline["image"], ref_pipeline["bbox"])
    assert np.abs(keypoints - ref_pipeline["keypoints_flip"]).max() < 0.01
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 1
