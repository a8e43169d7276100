"""Typed training configuration (dataclasses) read from YAML with ``yaml.safe_load``.

Defaults are the official RTMPose-t COCO 256×192 recipe (see docs/training.md for the
source of every number). A YAML file only names what it changes; unknown keys are an
error so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field, fields, replace
from typing import Any

import yaml


@dataclass(frozen=True)
class AugmentConfig:
    """One stage of the official train pipeline (stage 1 defaults)."""

    flip_prob: float = 0.5
    # RandomHalfBody (MMPose defaults)
    half_body_prob: float = 0.3
    half_body_min_total: int = 9
    half_body_min_upper: int = 2
    half_body_min_lower: int = 3
    half_body_upper_prob: float = 0.7
    half_body_padding: float = 1.5
    # RandomBBoxTransform: truncated-normal shift / scale / rotation
    shift_factor: float = 0.16
    shift_prob: float = 0.3
    scale_range: tuple[float, float] = (0.6, 1.4)
    scale_prob: float = 1.0
    rotate_factor: float = 80.0
    rotate_prob: float = 0.6
    # YOLOXHSVRandomAug (hue, saturation, value deltas in OpenCV uint8 HSV units)
    hsv_deltas: tuple[int, int, int] = (5, 30, 30)
    # Albumentations
    blur_prob: float = 0.1
    median_blur_prob: float = 0.1
    dropout_prob: float = 1.0
    dropout_size: tuple[float, float] = (0.2, 0.4)  # hole side as a fraction of the crop side


# stage 2 (last ``stage2_epochs``): no shift, milder scale and rotation, dropout half the time
STAGE2_AUGMENT = AugmentConfig(
    shift_factor=0.0, scale_range=(0.75, 1.25), rotate_factor=60.0, dropout_prob=0.5
)


@dataclass(frozen=True)
class TrainConfig:
    # model and data
    arch: str = "rtmpose-t"
    skeleton: str = "coco17"  # built-in name or a skeleton YAML path
    input_size: tuple[int, int] | None = None  # (w, h); None = the variant's (192, 256)
    sigma: tuple[float, float] | None = None  # SimCC sigma (x, y); None = variant's / scaled
    train_ann: str = ""
    train_images: str = ""
    val_ann: str = ""
    val_images: str = ""
    val_bbox_file: str | None = None  # COCO detection results; None = GT boxes
    load_from: str | None = None  # official/ours checkpoint to fine-tune from
    work_dir: str = "work_dirs/rtmpose-t"
    # schedule (per-iteration LinearLR warm-up, then cosine from half-way, as official)
    epochs: int = 420
    stage2_epochs: int = 30
    batch_size: int = 1024  # global; official auto_scale_lr base for lr 4e-3 (the run: 8 × 256 = 2048)
    lr: float = 4e-3
    auto_scale_lr: bool = False  # lr × batch_size / 1024 (MMEngine --auto-scale-lr)
    weight_decay: float = 0.0
    warmup_iters: int = 1000
    warmup_start_factor: float = 1e-5
    cosine_begin_epoch: int | None = None  # None = epochs // 2
    eta_min_ratio: float = 0.05
    grad_clip: float | None = None  # max grad norm; the official configs do not clip
    ema: bool = False  # ExpMomentumEMA; off for rtmpose-t, on for s/m/l
    ema_momentum: float = 2e-4
    ema_gamma: int = 2000
    # runtime
    seed: int = 21
    device: str = "auto"
    amp: bool = True  # only ever used on CUDA
    sync_bn: bool = True
    deterministic: bool = True
    num_workers: int = 2
    val_interval: int = 10
    checkpoint_interval_iters: int = 0  # 0 = at each epoch's end only
    flip_test: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    augment_stage2: AugmentConfig = STAGE2_AUGMENT

    @property
    def stage2_begin_epoch(self) -> int:
        return max(0, self.epochs - self.stage2_epochs)

    @property
    def scaled_lr(self) -> float:
        return self.lr * self.batch_size / 1024 if self.auto_scale_lr else self.lr


def _convert(value: Any, annotation: Any, where: str, default: Any = None) -> Any:
    """Turn YAML plain data into the annotated type (tuples, nested dataclasses, optionals)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, where, default)
    if dataclasses.is_dataclass(annotation):
        return _from_dict(annotation, value, where, default)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ValueError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, where) for v, a in zip(value, args, strict=True))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and not isinstance(value, annotation):
        raise ValueError(f"{where}: expected {annotation.__name__}, got {value!r}")
    return value


def _from_dict(cls: Any, data: Any, where: str, base: Any = None) -> Any:
    """``base`` (default ``cls()``) supplies the keys ``data`` leaves out: a partial
    ``augment_stage2`` mapping starts from the official stage-2 values."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    base = cls() if base is None else base
    values = {k: _convert(v, hints[k], f"{where}.{k}", getattr(base, k)) for k, v in data.items()}
    return replace(base, **values)


def config_from_dict(data: dict[str, Any], source: str = "config") -> TrainConfig:
    return _from_dict(TrainConfig, data or {}, source)


def load_config(path: str | os.PathLike[str], **overrides: Any) -> TrainConfig:
    """Read a YAML config; ``overrides`` (plain data) replace top-level keys."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    data.update(overrides)
    return config_from_dict(data, source=str(path))


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain data (lists for tuples): goes into checkpoints and YAML dumps."""

    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))
