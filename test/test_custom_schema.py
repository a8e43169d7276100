"""A schema other than COCO-17 (config/skeleton_example.yaml, 7 keypoints) on every path
that builds a network from an architecture: the CLI's export, a custom ``.pth`` on both
backends, and the training export. Each must size the head from the skeleton and carry
the schema into the ONNX metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from pose_perception import PoseEstimator  # noqa: E402
from pose_perception.cli import main  # noqa: E402
from pose_perception.models import build_rtmpose  # noqa: E402
from pose_perception.skeletons import get_skeleton  # noqa: E402

SKELETON_FILE = Path(__file__).resolve().parent.parent / "config" / "skeleton_example.yaml"
SKELETON = get_skeleton(str(SKELETON_FILE))
IMAGE = np.zeros((120, 160, 3), np.uint8)
BOX = np.array([[10, 10, 90, 110]], np.float32)


def _metadata(path: Path | str) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _assert_carries_the_schema(path: Path | str) -> None:
    meta = _metadata(path)
    assert meta["skeleton_name"] == SKELETON.name == "upper_body7"
    assert json.loads(meta["keypoint_names"]) == list(SKELETON.keypoint_names)
    keypoints, scores = PoseEstimator(path).estimate(IMAGE, BOX)
    assert keypoints.shape == (1, 7, 2) and scores.shape == (1, 7)


@pytest.mark.parametrize("extra", [[], ["--num-keypoints", "7"]], ids=["from-skeleton", "agreeing-count"])
def test_export_random_init_with_a_custom_skeleton(tmp_path: Path, extra: list[str]) -> None:
    output = tmp_path / "c.onnx"
    argv = ["export", "--arch", "rtmpose-t", "--random-init", "--skeleton", str(SKELETON_FILE)]
    assert main([*argv, *extra, "--output", str(output)]) == 0
    _assert_carries_the_schema(output)


def test_export_refuses_a_keypoint_count_the_skeleton_contradicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["export", "--arch", "rtmpose-t", "--random-init", "--skeleton", str(SKELETON_FILE)]
    assert main([*argv, "--num-keypoints", "17", "--output", str(tmp_path / "c.onnx")]) != 0
    assert "--num-keypoints 17 does not match skeleton 'upper_body7' (7 keypoints)" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_a_custom_checkpoint_loads_with_its_skeleton(tmp_path: Path, backend: str) -> None:
    torch.manual_seed(0)
    checkpoint = tmp_path / "upper.pth"
    torch.save(build_rtmpose("rtmpose-t", SKELETON.num_keypoints).state_dict(), checkpoint)
    estimator = PoseEstimator(
        checkpoint, arch="rtmpose-t", skeleton=str(SKELETON_FILE), backend=backend, cache_dir=tmp_path
    )
    assert estimator.skeleton.name == "upper_body7"
    keypoints, scores = estimator.estimate(IMAGE, BOX)
    assert keypoints.shape == (1, 7, 2) and scores.shape == (1, 7)
    if backend == "onnxruntime":
        _assert_carries_the_schema(estimator.backend.path)  # the cached export


def test_the_training_export_carries_a_custom_skeleton(tmp_path: Path) -> None:
    from test_training_fixtures import tiny_config

    from pose_perception.training.config import config_to_dict
    from pose_perception.training.export import export_checkpoint
    from pose_perception.training.model import build_model

    cfg = tiny_config(tmp_path, tmp_path / "w", skeleton=str(SKELETON_FILE))
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    torch.manual_seed(0)
    checkpoint = tmp_path / "last.pth"
    torch.save({"model": build_model(cfg).state_dict(), "optimizer": {}}, checkpoint)
    path, _ = export_checkpoint(str(config), str(checkpoint), str(tmp_path / "m.onnx"), use_ema=False)
    _assert_carries_the_schema(path)
