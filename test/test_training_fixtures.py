"""Shared helpers for the training tests (no tests here): a tiny rendered COCO set
and a tiny, fast config (rtmpose-t at 96×64, mild augmentation)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("albumentations")


def tiny_coco(root: Path, train_frames: int = 12, val_frames: int = 4) -> Path:
    """Walker frames rendered at 320×180 as train/val COCO sets under ``root``."""
    from pose_perception.training.walkers import write_walker_coco

    if not (root / "train.json").is_file():
        write_walker_coco(str(root), "train", train_frames, seed=0, width=320, height=180)
        write_walker_coco(str(root), "val", val_frames, seed=1, width=320, height=180)
    return root


def tiny_config(data: Path, work_dir: Path, **overrides):
    from pose_perception.training.config import TrainConfig

    cfg = TrainConfig(
        arch="rtmpose-t",
        input_size=(64, 96),
        train_ann=str(data / "train.json"),
        train_images=str(data / "train"),
        val_ann="",
        val_images="",
        work_dir=str(work_dir),
        epochs=2,
        stage2_epochs=1,
        batch_size=4,
        warmup_iters=2,
        num_workers=0,
        val_interval=1,
        seed=3,
    )
    return replace(cfg, **overrides)


@pytest.fixture(autouse=False)
def one_thread():
    """Tiny models on a loaded 2-core machine run ~50× faster on one intra-op thread
    (two threads spin against each other and whatever else runs)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
