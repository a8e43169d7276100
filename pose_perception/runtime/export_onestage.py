"""Export RTMO to ONNX: the whole network, threshold, NMS and DCC, plus our metadata.

Signature (``decode`` = ``kept``, the default): inputs ``input`` (1×3×H×W, BGR, 0–255, letterboxed
with 114), ``score_thr`` and ``nms_thr`` (scalar float32); outputs ``boxes`` (1×M×4), ``scores``
(1×M), ``keypoints`` (1×M×K×2) and ``keypoint_scores`` (1×M×K) in input pixels for the M people
kept, highest score first: the DCC runs on those only, as in MMPose. ``decode="dense"`` writes our
earlier format (one input; every grid cell a row, DCC included; ``people_select`` selects), which
the estimator still reads. The metadata says what the file is (``model_kind`` one-stage, arch,
input size, default thresholds, ``decode``), so no side file is needed.
"""

from __future__ import annotations

import json
import os
import warnings

import torch

from pose_perception.fileio import atomic_output
from pose_perception.model_kinds import DECODE_DENSE, DECODE_KEPT, ONESTAGE_OUTPUTS, THRESHOLD_INPUTS
from pose_perception.models.rtmo import RTMO
from pose_perception.models.rtmo_decode import RTMODense, RTMOKept
from pose_perception.people_select import NMS_THR, SCORE_THR
from pose_perception.runtime.export import OPSET, stamp_metadata

ONESTAGE_KIND = "one-stage"


def onestage_metadata(model: RTMO, arch: str, decode: str = DECODE_KEPT) -> dict[str, str]:
    """String key/values describing an exported RTMO (read back by ``OneStageEstimator``)."""
    kept = {"decode": DECODE_KEPT} if decode == DECODE_KEPT else {}  # dense files predate the key
    return {
        **kept,
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


def export_rtmo_onnx(
    model: RTMO, arch: str, output: str | os.PathLike[str], opset: int = OPSET, decode: str = DECODE_KEPT
) -> str:
    """Write the ONNX file atomically and return its path (fixed input size, batch 1)."""
    if decode not in (DECODE_KEPT, DECODE_DENSE):
        raise ValueError(f"decode: expected {DECODE_KEPT!r} or {DECODE_DENSE!r}, got {decode!r}")
    width, height = model.size.input_size
    model = model.cpu().eval()
    image = torch.zeros(1, 3, height, width)
    if decode == DECODE_KEPT:
        network: torch.nn.Module = RTMOKept(model).eval()
        thresholds = (torch.tensor(SCORE_THR), torch.tensor(NMS_THR))
        inputs: tuple[torch.Tensor, ...] = (image, *thresholds)
        input_names = ["input", *THRESHOLD_INPUTS]
    else:
        network, inputs, input_names = RTMODense(model).eval(), (image,), ["input"]
    output = os.fspath(output)
    with atomic_output(output, suffix=".onnx") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                network,
                inputs,
                tmp,
                dynamo=False,
                input_names=input_names,
                output_names=list(ONESTAGE_OUTPUTS),
                opset_version=opset,
                do_constant_folding=True,
            )
        stamp_metadata(tmp, onestage_metadata(model, arch, decode))
    return output
