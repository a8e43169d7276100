"""Export RTMO to ONNX: the whole network and its per-cell decode, plus our metadata.

Signature: input ``input`` (1×3×H×W, BGR, 0–255, letterboxed with 114), outputs ``boxes``
(1×N×4), ``scores`` (1×N), ``keypoints`` (1×N×K×2) and ``keypoint_scores`` (1×N×K) in input pixels
for every grid cell; ``people_select`` applies the score threshold and NMS. The metadata says what
the file is (``model_kind`` one-stage, arch, input size, thresholds), so no side file is needed.
"""

from __future__ import annotations

import json
import os
import warnings

import torch

from pose_perception.fileio import atomic_output
from pose_perception.model_kinds import ONESTAGE_OUTPUTS
from pose_perception.models.rtmo import RTMO
from pose_perception.models.rtmo_decode import RTMODense
from pose_perception.people_select import NMS_THR, SCORE_THR
from pose_perception.runtime.export import OPSET, stamp_metadata

ONESTAGE_KIND = "one-stage"


def onestage_metadata(model: RTMO, arch: str) -> dict[str, str]:
    """String key/values describing an exported RTMO (read back by ``OneStageEstimator``)."""
    return {
        "model_kind": ONESTAGE_KIND,
        "arch": arch,
        "input_size": json.dumps(list(model.size.input_size)),
        "num_keypoints": json.dumps(model.num_keypoints),
        "color_order": "BGR",
        "mean": json.dumps([0.0, 0.0, 0.0]),
        "std": json.dumps([1.0, 1.0, 1.0]),
        "score_thr": json.dumps(SCORE_THR),
        "nms_thr": json.dumps(NMS_THR),
        "skeleton_name": "coco17" if model.num_keypoints == 17 else "custom",
    }


def export_rtmo_onnx(model: RTMO, arch: str, output: str | os.PathLike[str], opset: int = OPSET) -> str:
    """Write the ONNX file atomically and return its path (fixed input size, batch 1)."""
    width, height = model.size.input_size
    dense = RTMODense(model.cpu().eval()).eval()
    output = os.fspath(output)
    with atomic_output(output, suffix=".onnx") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                dense,
                (torch.zeros(1, 3, height, width),),
                tmp,
                dynamo=False,
                input_names=["input"],
                output_names=list(ONESTAGE_OUTPUTS),
                opset_version=opset,
                do_constant_folding=True,
            )
        stamp_metadata(tmp, onestage_metadata(model, arch))
    return output
