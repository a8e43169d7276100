"""Parity with MMPose beyond body-17: the seeded ``rtmw-t-test`` (the RTMW code path at
RTMPose-t width, 133 keypoints) and ``rtmpose-t-face`` (106 keypoints, 256x256) fixtures of
``test/fixtures/family/`` (README there: what each file holds, the seeded-weights recipe).
Head outputs within 1e-4 relative (PyTorch and our exported ONNX on ONNX Runtime), the full
top-down pipeline within 0.01 px with the flip test off and on (shared checks:
``conformance_checks``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from conformance_checks import assert_pipeline_matches, assert_simcc_matches
from seeded_weights import FAMILY_DIR, fixture_seed, read_key_list, seeded_state_dict, write_seeded_checkpoint

from pose_perception import PoseEstimator
from pose_perception.models import TopDownNetwork, count_parameters
from pose_perception.models.build import TOP_DOWN_NETWORKS
from pose_perception.runtime.export import export_onnx
from pose_perception.runtime.onnxruntime_backend import OnnxRuntimeBackend
from pose_perception.skeletons import get_skeleton
from pose_perception.topdown import normalize_crops
from pose_perception.variants import RTMPoseVariant, get_variant


@dataclass(frozen=True)
class Fixture:
    variant: RTMPoseVariant  # the network the fixture's MMPose config builds
    skeleton: str


FIXTURES = {
    # MMPose's rtmw-m config shrunk as the fixtures' README says (t widths, 1 neck block)
    "rtmw-t-test": Fixture(
        RTMPoseVariant(
            "rtmw-t-test",
            0.167,
            0.375,
            (192, 256),
            (4.9, 5.66),
            head="rtmw",
            num_keypoints=133,
            neck_csp_blocks=1,
        ),
        "coco_wholebody",
    ),
    "rtmpose-t-face": Fixture(get_variant("rtmpose-t-256x256"), "face106"),
}


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def model(name: str) -> TopDownNetwork:
    fixture = FIXTURES[name]
    network = TOP_DOWN_NETWORKS[fixture.variant.head](
        fixture.variant, get_skeleton(fixture.skeleton).num_keypoints
    )
    network.load_state_dict(seeded_state_dict(name, fixture_seed(name)), strict=True)
    return network.eval()


@pytest.fixture(scope="module")
def ref(name: str) -> dict[str, np.ndarray]:
    return dict(np.load(FAMILY_DIR / f"ref_{name}.npz"))


@pytest.fixture(scope="module")
def ref_pipeline(name: str) -> dict[str, np.ndarray]:
    return dict(np.load(FAMILY_DIR / f"ref_pipeline_{name}.npz"))


@pytest.fixture(scope="module")
def onnx_path(name: str, model: TopDownNetwork, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / f"{name}.onnx"
    export_onnx(model, model.model_info(get_skeleton(FIXTURES[name].skeleton)), path)
    return path


def test_state_dict_and_parameter_count_are_official(name: str, model: TopDownNetwork) -> None:
    """Same keys and shapes as MMPose's model, so the same parameter count."""
    official = read_key_list(FAMILY_DIR / f"keys_{name}.txt")
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {k: s for k, s, _ in official}
    trainable = [
        s for k, s, _ in official if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    ]
    assert count_parameters(model) == sum(math.prod(s) for s in trainable)


def test_schema_and_input_size_are_official(name: str, ref_pipeline: dict[str, np.ndarray]) -> None:
    fixture = FIXTURES[name]
    skeleton = get_skeleton(fixture.skeleton)
    assert skeleton.num_keypoints == int(ref_pipeline["num_keypoints"])
    assert list(skeleton.flip_indices) == ref_pipeline["flip_indices"].tolist()
    assert tuple(ref_pipeline["input_size_wh"].tolist()) == fixture.variant.input_size


def test_preprocessing_matches_official(ref: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(normalize_crops(ref["img_bgr"]), ref["input"], rtol=0, atol=1e-6)


def test_torch_head_outputs_match_official(model: TopDownNetwork, ref: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        simcc_x, simcc_y = (t.numpy() for t in model(torch.from_numpy(ref["input"])))
    assert_simcc_matches(simcc_x, simcc_y, ref)


def test_onnx_head_outputs_match_official(onnx_path: Path, ref: dict[str, np.ndarray]) -> None:
    simcc_x, simcc_y = OnnxRuntimeBackend(onnx_path).infer(ref["input"])
    assert_simcc_matches(simcc_x, simcc_y, ref)


def test_onnx_metadata_carries_the_schema(name: str, onnx_path: Path) -> None:
    """The exported file describes itself: schema name, keypoint count and groups."""
    info = OnnxRuntimeBackend(onnx_path).model_info()
    expected = get_skeleton(FIXTURES[name].skeleton)
    assert info.skeleton == expected
    assert info.input_size == FIXTURES[name].variant.input_size


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
@pytest.mark.parametrize("flip_test", [False, True])
def test_full_pipeline_matches_official(
    name: str,
    backend: str,
    flip_test: bool,
    model: TopDownNetwork,
    onnx_path: Path,
    ref_pipeline: dict[str, np.ndarray],
) -> None:
    skeleton = FIXTURES[name].skeleton
    estimator = PoseEstimator(
        model if backend == "torch" else onnx_path, backend=backend, flip_test=flip_test, skeleton=skeleton
    )
    assert_pipeline_matches(estimator, ref_pipeline, flip_test)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_face_checkpoint_with_schema_by_name_matches_official(backend: str, tmp_path: Path) -> None:
    """A .pth carries no schema: ``skeleton="face106"`` names it, and the registered
    ``rtmpose-t-256x256`` architecture builds the network (on ONNX Runtime via the cached export)."""
    checkpoint = write_seeded_checkpoint("rtmpose-t-face", tmp_path / "face.pth")
    estimator = PoseEstimator(
        checkpoint,
        arch="rtmpose-t-256x256",
        skeleton="face106",
        backend=backend,
        flip_test=True,
        cache_dir=tmp_path,
    )
    assert estimator.skeleton == get_skeleton("face106")
    assert_pipeline_matches(estimator, dict(np.load(FAMILY_DIR / "ref_pipeline_rtmpose-t-face.npz")), True)


def test_whole_body_checkpoint_refuses_a_body_schema(tmp_path: Path) -> None:
    """A 133-keypoint network with COCO-17's schema is a clear error naming both counts."""
    with pytest.raises(ValueError, match="133"):
        PoseEstimator(TOP_DOWN_NETWORKS["rtmw"](FIXTURES["rtmw-t-test"].variant, 133), skeleton="coco17")
