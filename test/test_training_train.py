"""Trainer: a short run learns, resume continues identically, fine-tuning to a new schema."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
pytest.importorskip("albumentations")
pytest.importorskip("pycocotools")

from test_training_fixtures import one_thread, tiny_coco, tiny_config  # noqa: E402

from pose_perception.training.config import AugmentConfig, config_to_dict  # noqa: E402
from pose_perception.training.logs import read_csv  # noqa: E402
from pose_perception.training.train import main, train  # noqa: E402

MILD = AugmentConfig(
    half_body_prob=0.0, rotate_prob=0.0, dropout_prob=0.0, scale_range=(0.9, 1.1), shift_prob=0.0
)


pytestmark = pytest.mark.usefixtures(one_thread.__name__)


def _losses(work_dir) -> list[float]:
    return [float(r["loss"]) for r in read_csv(str(Path(work_dir) / "train_log.csv"))]


@pytest.mark.slow
def test_short_run_loss_falls_and_ap_rises(tmp_path):
    """~44 iterations of batch 8 on rendered walkers (mild augmentation, 96×64 input).

    The head starts from the official init (near-uniform SimCC outputs), so the loss
    starts near the uniform-prediction level: measured 0.43 → 0.30, AP 0.00 → 0.26."""
    data = tiny_coco(tmp_path / "data", train_frames=24, val_frames=4)
    cfg = tiny_config(
        data, tmp_path / "run", epochs=4, batch_size=8, lr=4e-3, warmup_iters=5, stage2_epochs=0,
        val_ann=str(data / "val.json"), val_images=str(data / "val"), val_interval=2,
        augment=MILD, augment_stage2=MILD,
    )  # fmt: skip
    train(cfg)
    losses = _losses(cfg.work_dir)
    val = read_csv(str(tmp_path / "run" / "val_log.csv"))
    aps = [float(r["AP"]) for r in val]
    print("loss first/last 5:", np.mean(losses[:5]), np.mean(losses[-5:]), "AP:", aps)
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert aps[-1] >= aps[0] + 0.1
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results[0]["keypoints"]) == 17 * 3
    assert {"image_id", "category_id", "score"} <= results[0].keys()


def test_resume_gives_the_same_loss_sequence(tmp_path):
    """Uninterrupted vs. killed after iteration 5 (last checkpoint at 4) and resumed:
    the loss logs must be identical, bit for bit (CLI path for the uninterrupted run)."""
    data = tiny_coco(tmp_path / "data")
    cfg = tiny_config(data, tmp_path / "full", epochs=2, checkpoint_interval_iters=2)
    config_file = tmp_path / "cfg.yaml"
    config_file.write_text(yaml.safe_dump(config_to_dict(cfg)))
    assert main(["--config", str(config_file)]) == 0
    full = _losses(cfg.work_dir)

    cut = replace(cfg, work_dir=str(tmp_path / "cut"))
    train(cut, stop_after_iters=5)
    assert len(_losses(cut.work_dir)) == 5
    train(cut, resume="auto")
    resumed = _losses(cut.work_dir)
    assert len(full) >= 8
    assert resumed == full
    a = torch.load(Path(cfg.work_dir) / "last.pth", weights_only=True)["model"]
    b = torch.load(Path(cut.work_dir) / "last.pth", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def _four_keypoint_coco(src: Path, dst: Path) -> None:
    """Shoulders and hips only: a new schema for the fine-tuning test."""
    keep = [5, 6, 11, 12]
    coco = json.loads(src.read_text())
    for ann in coco["annotations"]:
        kps = np.asarray(ann["keypoints"]).reshape(17, 3)[keep]
        ann["keypoints"], ann["num_keypoints"] = kps.reshape(-1).tolist(), int((kps[:, 2] > 0).sum())
    names = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
    coco["categories"] = [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}]
    dst.write_text(json.dumps(coco))


def test_finetune_to_a_new_schema_keeps_the_backbone(tmp_path):
    from pose_perception.models import build_rtmpose
    from pose_perception.training.model import build_model, load_pretrained

    torch.manual_seed(0)
    official = build_rtmpose("rtmpose-t")
    ckpt = tmp_path / "official.pth"
    torch.save({"meta": {"epoch": 420}, "state_dict": official.state_dict()}, ckpt)

    data = tiny_coco(tmp_path / "data")
    same = build_model(tiny_config(data, tmp_path / "w", input_size=None))
    assert load_pretrained(same, ckpt) == "full"

    skeleton = tmp_path / "torso.yaml"
    skeleton.write_text(yaml.safe_dump({
        "name": "torso", "keypoints": ["left_shoulder", "right_shoulder", "left_hip", "right_hip"],
        "links": [[0, 1], [2, 3], [0, 2], [1, 3]], "sigmas": [0.079, 0.079, 0.107, 0.107],
    }))  # fmt: skip
    _four_keypoint_coco(data / "train.json", data / "torso.json")
    cfg = tiny_config(data, tmp_path / "ft", skeleton=str(skeleton), train_ann=str(data / "torso.json"),
                      load_from=str(ckpt), epochs=1, lr=0.0)  # fmt: skip
    model = build_model(cfg)
    assert load_pretrained(model, ckpt) == "backbone"
    assert model.head.final_layer.out_channels == 4
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, official.state_dict()[f"backbone.{name}"]), name

    train(cfg)  # lr 0: the weights stay the checkpoint's, BN statistics move
    trained = torch.load(Path(cfg.work_dir) / "last.pth", weights_only=True)["model"]
    for name, value in official.state_dict().items():
        if name.startswith("backbone.") and name.endswith(".weight"):
            assert torch.equal(trained[name], value), name
