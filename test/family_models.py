"""Small models of the new kinds, built in the test (no downloads): a one-stage RTMO-t that finds a
few people in a given image, a K=133 whole-body RTMW at RTMPose-t width and a hand21 RTMPose-t,
exported to ONNX with our metadata (skeleton included). Shared by the pipeline, CLI and node tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pose_perception.bottomup import bottomup_input
from pose_perception.models import build_model
from pose_perception.models.rtmo import RTMO, build_rtmo
from pose_perception.people_select import SCORE_THR
from pose_perception.runtime.export import export_onnx
from pose_perception.runtime.export_onestage import export_rtmo_onnx
from pose_perception.skeletons import get_skeleton
from pose_perception.variants import RTMPoseVariant

# The RTMW code path at RTMPose-t width (the conformance fixture's shrunk rtmw-m), 133 keypoints.
RTMW_T_TEST = RTMPoseVariant(
    "rtmw-t-test", 0.167, 0.375, (192, 256), (4.9, 5.66), head="rtmw", num_keypoints=133, neck_csp_blocks=1
)


def few_people_rtmo(
    image_bgr: np.ndarray, arch: str = "rtmo-t", passing: float = 0.01, seed: int = 0
) -> RTMO:
    """A seeded random RTMO whose person scores pass the official threshold in about ``passing``
    of the grid cells of ``image_bgr``. Random weights give nearly equal scores everywhere (every
    cell a person, or none), so each level's score layer is rescaled to unit spread and shifted."""
    torch.manual_seed(seed)
    model = build_rtmo(arch)
    batch, _ = bottomup_input(image_bgr, model.size.input_size)
    with torch.no_grad():
        level_scores = model(torch.from_numpy(batch))[0]
        threshold = float(np.log(SCORE_THR / (1 - SCORE_THR)))  # the logit of the score threshold
        for layer, logits in zip(model.head.head_module.out_cls, level_scores, strict=True):
            scale = 1.0 / float(logits.std())
            layer.weight *= scale
            layer.bias *= scale
            cut = float(torch.quantile(logits.flatten() * scale, 1.0 - passing))
            layer.bias += threshold - cut
    return model.eval()


def rtmo_pth(model: RTMO, path: Path) -> Path:
    torch.save(model.state_dict(), path)
    return path


def rtmo_onnx(model: RTMO, arch: str, path: Path) -> Path:
    export_rtmo_onnx(model, arch, path)
    return path


def wholebody_onnx(path: Path, seed: int = 0) -> Path:
    """A random K=133 RTMW (RTMPose-t width) with the coco_wholebody skeleton in its metadata."""
    from pose_perception.models.rtmw import RTMW

    torch.manual_seed(seed)
    model = RTMW(RTMW_T_TEST, 133).eval()
    export_onnx(model, model.model_info(get_skeleton("coco_wholebody")), path)
    return path


def hand_onnx(path: Path, seed: int = 0) -> Path:
    """A random RTMPose-t at 256x256 with 21 hand keypoints (skeleton hand21)."""
    torch.manual_seed(seed)
    model = build_model("rtmpose-t-256x256", 21).eval()
    export_onnx(model, model.model_info(get_skeleton("hand21")), path)
    return path
