"""Build the network a config describes and load weights to start from.

Fine-tuning keeps what fits: with the same schema and input size an official
checkpoint loads strictly (core loader); otherwise the backbone loads strictly and the
head stays freshly initialised, because the head's first layer has one output per
keypoint and its SimCC classifiers one output per bin.
"""

from __future__ import annotations

import os
from dataclasses import replace

import torch

from pose_perception.codec import SimCCCodec
from pose_perception.models import RTMPose, get_variant
from pose_perception.models.rtmpose import (
    CheckpointMismatchError,
    RTMPoseVariant,
    check_state_dict,
    read_state_dict,
)
from pose_perception.skeletons import Skeleton, get_skeleton
from pose_perception.training.config import TrainConfig


def variant_for(cfg: TrainConfig) -> RTMPoseVariant:
    """The named variant, with ``input_size``/``sigma`` overrides. Without an explicit
    sigma a new input size scales the official 256×192 sigma linearly (the official
    384×288 configs use 6.93/7.55, close to 4.9/5.66 × 1.5)."""
    base = get_variant(cfg.arch)
    if cfg.input_size is None:
        return replace(base, sigma=cfg.sigma or base.sigma)
    width, height = cfg.input_size
    if width % 32 or height % 32:
        raise ValueError(f"input_size {cfg.input_size} must be multiples of 32 (the backbone stride)")
    ratio_x, ratio_y = width / base.input_size[0], height / base.input_size[1]
    sigma = cfg.sigma or (base.sigma[0] * ratio_x, base.sigma[1] * ratio_y)
    return replace(base, input_size=(width, height), sigma=sigma)


def skeleton_for(cfg: TrainConfig) -> Skeleton:
    return get_skeleton(cfg.skeleton)


def codec_for(variant: RTMPoseVariant) -> SimCCCodec:
    return SimCCCodec(variant.input_size, variant.sigma, variant.simcc_split_ratio)


def build_model(cfg: TrainConfig) -> RTMPose:
    model = RTMPose(variant_for(cfg), skeleton_for(cfg).num_keypoints)
    init_head_weights(model)
    return model


def init_head_weights(model: RTMPose) -> None:
    """The official RTMCCHead initialisation (its ``init_cfg``): convolutions N(0, 0.001)
    with zero bias, every linear layer (the GAU's too) N(0, 0.01). The SimCC logits then
    start near zero, i.e. near-uniform distributions; PyTorch's default init starts them
    peaked at random bins and the first hundred iterations only undo that. The backbone
    keeps PyTorch's default, which is the official Kaiming-uniform (a=√5, fan_in)."""
    for module in model.head.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.normal_(module.weight, std=0.001)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.01)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)


def load_pretrained(model: RTMPose, path: str | os.PathLike[str]) -> str:
    """Load ``path`` (an official/MMEngine checkpoint, a plain state dict, or one of our
    training checkpoints) into ``model``; returns "full" or "backbone" (head re-initialised)."""
    state = training_state_dict(path)
    try:
        check_state_dict(model, state)
        model.load_state_dict(state, strict=True)
        return "full"
    except CheckpointMismatchError:
        pass
    backbone = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    if not backbone:
        raise CheckpointMismatchError(f"{path}: no backbone.* weights to fine-tune from")
    try:
        model.backbone.load_state_dict(backbone, strict=True)
    except RuntimeError as err:
        message = f"{path}: backbone does not match {model.variant.name}: {err}"
        raise CheckpointMismatchError(message) from None
    return "backbone"


def load_trained(cfg: TrainConfig, checkpoint: str | os.PathLike[str], use_ema: bool = True) -> RTMPose:
    """The config's model with a checkpoint's weights (EMA when present and ``use_ema``), in
    eval mode: what evaluation and export run."""
    model = build_model(cfg)
    model.load_state_dict(training_state_dict(checkpoint, use_ema=use_ema))
    return model.eval()


def training_state_dict(path: str | os.PathLike[str], use_ema: bool = True) -> dict[str, torch.Tensor]:
    """Model weights from one of our training checkpoints (EMA weights when present and
    ``use_ema``), or a plain/MMEngine state dict."""
    from pose_perception.models.safe_load import safe_torch_load

    obj = safe_torch_load(path)
    if isinstance(obj, dict) and "model" in obj and "optimizer" in obj:
        if use_ema and obj.get("ema") is not None:
            return obj["ema"]["module"]
        return obj["model"]
    return read_state_dict(path)
