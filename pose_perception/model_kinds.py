"""Is a model top-down (person boxes in) or one-stage (the whole image in)? Answered without torch.

The pipeline and the CLI pick the estimator with :func:`model_kind`: ``PoseEstimator`` for
top-down models, ``OneStageEstimator`` (RTMO) for one-stage ones. It reads the answer from the
architecture name, a registry row, an ONNX file's outputs or an in-memory module; a ``.pth``
says nothing about itself, so it needs ``arch``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pose_perception.zoo.registry import ONE_STAGE_ARCHS, REGISTRY

TOP_DOWN = "top_down"
ONE_STAGE = "one_stage"
# Output names of the one-stage ONNX files: our export and MMDeploy's end-to-end RTMO (people
# after the graph's own threshold and NMS).
ONESTAGE_OUTPUTS = ("boxes", "scores", "keypoints", "keypoint_scores")
# Our export's formats, its metadata key "decode": threshold, NMS and DCC of the kept people in the
# graph, thresholds as inputs (now); or every grid cell decoded, selection outside (earlier files,
# no "decode" key). The .pth → ONNX cache keys on it, so an old format is never handed back.
DECODE_KEPT = "kept"
DECODE_DENSE = "dense"
THRESHOLD_INPUTS = ("score_thr", "nms_thr")
OFFICIAL_ONESTAGE_OUTPUTS = ("dets", "keypoints")
# The ends of the one-line errors for a model given to the other estimator.
USE_ONE_STAGE_ESTIMATOR = "is a one-stage RTMO model: use OneStageEstimator (it runs without a detector)"
USE_POSE_ESTIMATOR = "is a top-down model (person boxes in): use PoseEstimator"


def arch_kind(arch: str) -> str:
    """``"one_stage"`` for an RTMO architecture name, else ``"top_down"``."""
    return ONE_STAGE if arch.lower() in ONE_STAGE_ARCHS else TOP_DOWN


def onnx_outputs_kind(output_names: Iterable[str]) -> str:
    """The kind an ONNX graph's output names reveal (ours and MMDeploy's RTMO are one-stage)."""
    names = set(output_names)
    return ONE_STAGE if names in (set(ONESTAGE_OUTPUTS), set(OFFICIAL_ONESTAGE_OUTPUTS)) else TOP_DOWN


def model_kind(model: Any, arch: str | None = None) -> str:
    """``"top_down"`` or ``"one_stage"`` for what the estimators take: a registry name, an
    ``.onnx`` file, a ``.pth`` with its ``arch``, or an ``nn.Module``; ``arch`` decides when given."""
    if arch:
        return arch_kind(arch)
    if not isinstance(model, (str, os.PathLike)):
        from pose_perception.models.rtmo import RTMO  # a module in hand: torch is there

        return ONE_STAGE if isinstance(model, RTMO) else TOP_DOWN
    entry = REGISTRY.get(str(model))
    if entry is not None and entry.task == "pose":
        return arch_kind(entry.arch)
    path = Path(model)
    if path.suffix == ".onnx":
        from pose_perception.zoo.onnx_checks import onnx_io

        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        try:
            _, outputs = onnx_io(path)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        return onnx_outputs_kind(name for name, _, _ in outputs)
    if path.suffix:  # a checkpoint (.pth)
        raise ValueError(
            f"{path}: a {path.suffix} file does not say what it is; pass arch= (rtmo-* is one-stage)"
        )
    raise ValueError(f"{str(model)!r} is neither a model file nor a pose model of the registry")
