"""Top-down or one-stage: ``model_kind`` and the one-line errors when a model meets the wrong estimator
or a keypoint schema of another size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from onnx_graphs import constant_onnx
from pose_perception import OneStageEstimator, PoseEstimator, model_kind
from pose_perception.model_kinds import ONE_STAGE, ONESTAGE_OUTPUTS, TOP_DOWN
from pose_perception.models import build_model, build_rtmpose

ONE_STAGE_ERROR = r"is a one-stage RTMO model: use OneStageEstimator \(it runs without a detector\)"
TOP_DOWN_ERROR = r"is a top-down model \(person boxes in\): use PoseEstimator"


def official_rtmo_onnx(path: Path) -> Path:
    """MMDeploy's end-to-end RTMO signature, outputs fixed (no person)."""
    outputs = {"dets": np.zeros((1, 0, 5), np.float32), "keypoints": np.zeros((1, 0, 17, 3), np.float32)}
    path.write_bytes(constant_onnx([1, 3, 640, 640], outputs))
    return path


def simcc_onnx(path: Path, keypoints: int) -> Path:
    """A metadata-free (official-style) top-down graph of ``keypoints`` outputs at 192x256."""
    outputs = {
        "simcc_x": np.zeros((1, keypoints, 384), np.float32),
        "simcc_y": np.zeros((1, keypoints, 512), np.float32),
    }
    path.write_bytes(constant_onnx([1, 3, 256, 192], outputs))
    return path


@pytest.fixture(scope="module")
def wholebody_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An RTMPose-t with 133 outputs (DWPose-t's shape), random weights."""
    path = tmp_path_factory.mktemp("wb") / "dwpose-t.pth"
    torch.manual_seed(0)
    torch.save(build_model("rtmpose-t", 133).state_dict(), path)
    return path


def one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert "\n" not in message, message
    return message


def test_model_kind_from_arch_registry_onnx_and_module(tmp_path: Path) -> None:
    assert model_kind("weights.pth", arch="rtmo-s") == ONE_STAGE
    assert model_kind("weights.pth", arch="rtmw-m") == TOP_DOWN
    assert [model_kind(n) for n in ("rtmo-s", "rtmo-t-onnx", "rtmpose-m", "dwpose-m", "rtmw-x")] == [
        ONE_STAGE, ONE_STAGE, TOP_DOWN, TOP_DOWN, TOP_DOWN,
    ]  # fmt: skip
    assert model_kind(official_rtmo_onnx(tmp_path / "official.onnx")) == ONE_STAGE
    ours = {name: np.zeros((1, 4), np.float32) for name in ONESTAGE_OUTPUTS}
    (tmp_path / "ours.onnx").write_bytes(constant_onnx([1, 3, 640, 640], ours))
    assert model_kind(tmp_path / "ours.onnx") == ONE_STAGE
    assert model_kind(simcc_onnx(tmp_path / "topdown.onnx", 17)) == TOP_DOWN
    assert model_kind(build_model("rtmo-t")) == ONE_STAGE
    assert model_kind(build_rtmpose("rtmpose-t")) == TOP_DOWN


def test_model_kind_says_what_it_cannot_tell(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"w\.pth: a \.pth file does not say what it is; pass arch="):
        model_kind(tmp_path / "w.pth")
    with pytest.raises(ValueError, match="'rtmdet-nano' is neither a model file nor a pose model"):
        model_kind("rtmdet-nano")
    with pytest.raises(FileNotFoundError, match=r"missing\.onnx"):
        model_kind(tmp_path / "missing.onnx")


# ----------------------------------------------------------------------- RTMO given to PoseEstimator


def test_an_rtmo_checkpoint_is_refused_by_pose_estimator(tmp_path: Path) -> None:
    path = tmp_path / "rtmo-s.pth"
    path.write_bytes(b"never read")
    for backend in ("torch", "onnxruntime"):
        with pytest.raises(ValueError, match=rf"rtmo-s\.pth \(arch 'rtmo-s'\) {ONE_STAGE_ERROR}") as err:
            PoseEstimator(path, arch="rtmo-s", backend=backend, cache_dir=tmp_path)
        one_line(err)


def test_rtmo_onnx_files_ours_and_official_are_refused_by_pose_estimator(tmp_path: Path) -> None:
    from pose_perception.runtime.export_onestage import export_rtmo_onnx

    ours = export_rtmo_onnx(build_model("rtmo-t"), "rtmo-t", tmp_path / "ours-rtmo-t.onnx")
    for path in (ours, official_rtmo_onnx(tmp_path / "end2end.onnx")):
        with pytest.raises(ValueError, match=rf"{Path(path).name} {ONE_STAGE_ERROR}") as err:
            PoseEstimator(path)
        one_line(err)


def test_an_rtmo_module_and_registry_name_are_refused_by_pose_estimator(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"an RTMO module {ONE_STAGE_ERROR}"):
        PoseEstimator(build_model("rtmo-t"), backend="torch")
    with pytest.raises(ValueError, match=f"registry model 'rtmo-s' {ONE_STAGE_ERROR}"):
        PoseEstimator("rtmo-s", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # refused before any download


# ----------------------------------------------------------------- top-down given to OneStageEstimator


def test_top_down_models_are_refused_by_the_one_stage_estimator(tmp_path: Path) -> None:
    path = tmp_path / "rtmpose-t.pth"
    path.write_bytes(b"never read")
    with pytest.raises(ValueError, match=rf"rtmpose-t\.pth: arch 'rtmpose-t' {TOP_DOWN_ERROR}"):
        OneStageEstimator(path, arch="rtmpose-t")
    with pytest.raises(ValueError, match=f"this RTMPose module {TOP_DOWN_ERROR}"):
        OneStageEstimator(build_rtmpose("rtmpose-t"))
    with pytest.raises(ValueError, match=r"official\.onnx: not a one-stage model \(simcc_x, simcc_y\)"):
        OneStageEstimator(simcc_onnx(tmp_path / "official.onnx", 17), backend="onnxruntime")
    with pytest.raises(ValueError, match=f"registry model 'dwpose-m' {TOP_DOWN_ERROR}"):
        OneStageEstimator("dwpose-m", cache_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["official.onnx", "rtmpose-t.pth"]


def test_a_registry_rtmo_onnx_needs_the_onnx_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'rtmo-s-onnx' is an \.onnx file: use backend='onnxruntime'"):
        OneStageEstimator("rtmo-s-onnx", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------- whole-body with a body schema


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
@pytest.mark.parametrize("skeleton", ["coco17", None])
def test_a_wholebody_checkpoint_with_a_body_schema_is_one_line(
    wholebody_pth: Path, tmp_path: Path, backend: str, skeleton: str | None
) -> None:
    """rtmpose-t's default is 17 keypoints: without a schema the 133-output file is refused too."""
    with pytest.raises(ValueError) as err:
        PoseEstimator(wholebody_pth, arch="rtmpose-t", skeleton=skeleton, backend=backend, cache_dir=tmp_path)
    assert one_line(err) == (
        f"{wholebody_pth}: the checkpoint outputs 133 keypoints, skeleton 'coco17' has 17; "
        "pass skeleton='coco_wholebody'"
    )


def test_a_wholebody_checkpoint_loads_with_its_schema(wholebody_pth: Path) -> None:
    estimator = PoseEstimator(wholebody_pth, arch="rtmpose-t", skeleton="coco_wholebody", backend="torch")
    keypoints, scores = estimator.estimate(np.zeros((240, 320, 3), np.uint8), [[10, 10, 200, 230]])
    assert keypoints.shape == (1, 133, 2) and scores.shape == (1, 133)


def test_wholebody_onnx_files_with_a_body_schema_are_one_line(tmp_path: Path) -> None:
    from pose_perception.runtime.export import export_rtmpose

    _, _, ours = export_rtmpose("rtmpose-t", tmp_path / "ours-wb.onnx", num_keypoints=133)
    official = simcc_onnx(tmp_path / "official-wb.onnx", 133)
    for path in (Path(ours), official):
        with pytest.raises(
            ValueError, match=rf"{path.name}: skeleton 'coco17' has 17 keypoints, model has 133"
        ):
            PoseEstimator(path, skeleton="coco17")
    assert PoseEstimator(official).skeleton.name == "coco_wholebody"  # schema by its count, no metadata


@pytest.mark.parametrize(("keypoints", "schema"), [(21, "hand21"), (106, "face106"), (17, "coco17")])
def test_official_onnx_files_get_the_schema_of_their_keypoint_count(
    tmp_path: Path, keypoints: int, schema: str
) -> None:
    assert PoseEstimator(simcc_onnx(tmp_path / "m.onnx", keypoints)).skeleton.name == schema


def test_an_official_onnx_of_an_unknown_count_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"m\.onnx: bad pose metadata: no metadata and 5 keypoints"):
        PoseEstimator(simcc_onnx(tmp_path / "m.onnx", 5))


def test_a_wholebody_module_with_a_body_schema_names_its_arch() -> None:
    with pytest.raises(ValueError, match="rtmpose-t: skeleton 'coco17' has 17 keypoints, model has 133"):
        PoseEstimator(build_model("rtmpose-t", 133), backend="torch", skeleton="coco17")
