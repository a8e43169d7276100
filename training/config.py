"""Typed training configuration (dataclasses) read from YAML by ``config_loader``'s bounded reader.

Defaults are the official RTMPose-t COCO 256×192 recipe (see docs/training.md for the
source of every number). A YAML file only names what it changes; unknown keys are an
error so that a typo never silently falls back to a default. Fields are declared with
``setting()`` and loaded by ``config_loader``, as the node's ``Config`` is.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from pose_perception.config_loader import from_dict, load_dataclass
from pose_perception.settings import check_settings, setting


@dataclass(frozen=True)
class AugmentConfig:
    """One stage of the official train pipeline (stage 1 defaults)."""

    flip_prob: float = setting(0.5, "probability of a horizontal flip", min=0.0, max=1.0)
    # RandomHalfBody (MMPose defaults)
    half_body_prob: float = setting(0.3, "probability of cropping to one body half", min=0.0, max=1.0)
    half_body_min_total: int = setting(9, "half-body only with at least this many visible joints", min=0)
    half_body_min_upper: int = setting(2, "half-body: visible upper-body joints needed", min=0)
    half_body_min_lower: int = setting(3, "half-body: visible lower-body joints needed", min=0)
    half_body_upper_prob: float = setting(0.7, "half-body: chance of the upper half", min=0.0, max=1.0)
    half_body_padding: float = setting(1.5, "half-body box = the joints' extent x this", min=0.0)
    # RandomBBoxTransform: truncated-normal shift / scale / rotation
    shift_factor: float = setting(0.16, "box shift, fraction of the box size (truncated normal)", min=0.0)
    shift_prob: float = setting(0.3, "probability of a box shift", min=0.0, max=1.0)
    scale_range: tuple[float, float] = setting((0.6, 1.4), "box scale factor range [low, high]", min=0.0)
    scale_prob: float = setting(1.0, "probability of a box rescale", min=0.0, max=1.0)
    rotate_factor: float = setting(80.0, "degrees; rotation = a truncated normal in [-1, 1] x this", min=0.0)
    rotate_prob: float = setting(0.6, "probability of a rotation", min=0.0, max=1.0)
    # YOLOXHSVRandomAug
    hsv_deltas: tuple[int, int, int] = setting(
        (5, 30, 30), "hue, saturation, value deltas in OpenCV uint8 HSV units", min=0
    )
    # Albumentations
    blur_prob: float = setting(0.1, "probability of a blur (3-7 px kernel)", min=0.0, max=1.0)
    median_blur_prob: float = setting(0.1, "probability of a median blur (3-7 px kernel)", min=0.0, max=1.0)
    dropout_prob: float = setting(1.0, "probability of coarse dropout (one hole)", min=0.0, max=1.0)
    dropout_size: tuple[float, float] = setting(
        (0.2, 0.4), "dropout hole side range as a fraction of the crop side", min=0.0, max=1.0
    )

    def __post_init__(self) -> None:
        check_settings(self)


# stage 2 (last ``stage2_epochs``): no shift, milder scale and rotation, dropout half the time
STAGE2_AUGMENT = AugmentConfig(
    shift_factor=0.0, scale_range=(0.75, 1.25), rotate_factor=60.0, dropout_prob=0.5
)


@dataclass(frozen=True)
class TrainConfig:
    """A training run: model, data, schedule and runtime (YAML keys = field names)."""

    # model and data
    arch: str = setting("rtmpose-t", "model variant: rtmpose-t/s/m/l[-384x288]")
    skeleton: str = setting("coco17", "built-in skeleton name or a skeleton YAML path")
    input_size: tuple[int, int] | None = setting(None, "[w, h] of the crop; null = the variant's")
    sigma: tuple[float, float] | None = setting(None, "SimCC label sigma [x, y]; null = the variant's")
    train_ann: str = setting("", "COCO-format training annotations (.json)")
    train_images: str = setting("", "folder of the training images")
    val_ann: str = setting("", "COCO-format validation annotations (.json)")
    val_images: str = setting("", "folder of the validation images")
    val_bbox_file: str | None = setting(None, "COCO detection results for validation; null = GT boxes")
    load_from: str | None = setting(None, "official or own checkpoint to fine-tune from")
    work_dir: str = setting("work_dirs/rtmpose-t", "checkpoints, logs and the exported model go here")
    # schedule (per-iteration LinearLR warm-up, then cosine from half-way, as official)
    epochs: int = setting(420, "training epochs", min=0)
    stage2_epochs: int = setting(30, "last epochs with the milder stage-2 augmentation", min=0)
    batch_size: int = setting(
        1024, "global batch; the official auto_scale_lr base for lr 4e-3 (run: 8 x 256)", min=1
    )
    lr: float = setting(4e-3, "AdamW learning rate (before auto_scale_lr)", min=0.0)
    auto_scale_lr: bool = setting(False, "lr x batch_size / 1024 (MMEngine --auto-scale-lr)")
    weight_decay: float = setting(0.0, "AdamW weight decay", min=0.0)
    warmup_iters: int = setting(1000, "iterations of linear warm-up", min=0)
    warmup_start_factor: float = setting(1e-5, "lr factor at the first warm-up iteration", min=0.0)
    cosine_begin_epoch: int | None = setting(None, "cosine decay starts here; null = epochs // 2")
    eta_min_ratio: float = setting(0.05, "final lr = lr x this", min=0.0)
    grad_clip: float | None = setting(None, "max gradient norm; null = no clipping (as official)")
    ema: bool = setting(False, "ExpMomentumEMA of the weights; off for rtmpose-t, on for s/m/l")
    ema_momentum: float = setting(2e-4, "EMA momentum", min=0.0, max=1.0)
    ema_gamma: int = setting(2000, "EMA momentum warm-up (iterations)", min=1)
    # runtime
    seed: int = setting(21, "random seed of data order, augmentation and weights")
    device: str = setting("auto", "auto | cpu | cuda[:N]")
    amp: bool = setting(True, "mixed precision (only ever used on CUDA)")
    sync_bn: bool = setting(True, "synchronised batch norm across DDP processes")
    deterministic: bool = setting(True, "deterministic cuDNN/torch algorithms")
    num_workers: int = setting(2, "data loader worker processes", min=0)
    val_interval: int = setting(10, "validate every N epochs", min=1)
    checkpoint_interval_iters: int = setting(0, "also save every N iterations; 0 = at epoch ends only", min=0)
    flip_test: bool = setting(True, "validate with the flip test")
    # sections (as in the node's Config): the stage-1 and the stage-2 (last stage2_epochs) augmentation
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    augment_stage2: AugmentConfig = STAGE2_AUGMENT

    def __post_init__(self) -> None:
        check_settings(self)

    @property
    def stage2_begin_epoch(self) -> int:
        return max(0, self.epochs - self.stage2_epochs)

    @property
    def scaled_lr(self) -> float:
        return self.lr * self.batch_size / 1024 if self.auto_scale_lr else self.lr


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Plain data (YAML, a checkpoint's ``config``) -> ``TrainConfig`` (``config_loader``'s rules)."""
    return from_dict(TrainConfig, data or {})


def load_config(path: str | os.PathLike[str], **overrides: Any) -> TrainConfig:
    """Read a YAML config; ``overrides`` (plain data) replace top-level keys."""
    return load_dataclass(TrainConfig, path, overrides)


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain data (lists for tuples): goes into checkpoints and YAML dumps."""

    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))
