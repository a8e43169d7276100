"""One-stage (RTMO) multi-person pose estimation on whole images: no person detector.

``OneStageEstimator(model, arch=..., backend=..., device=...)`` takes an RTMO module, an official
``.pth`` (with ``arch``) or an ONNX file we exported (``backend="onnxruntime"``; it carries its own
arch, input size and thresholds). ``estimate(image_bgr)`` returns (bboxes (N,4), bbox_scores (N,),
keypoints (N,K,2), keypoint_scores (N,K)) in image pixels, highest score first, after the official
score threshold and NMS (settable). The ONNX path never imports torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from pose_perception.bottomup import bottomup_input, input_to_image
from pose_perception.estimator import validate_image
from pose_perception.people_select import (
    NMS_THR,
    SCORE_THR,
    People,
    clamp_boxes,
    select_indices,
    select_people,
)

Runner = Callable[[np.ndarray, float, float], People]
BACKENDS = ("torch", "onnxruntime")


class OneStageEstimator:
    """Whole image in, people (boxes, scores, keypoints, keypoint scores) out."""

    def __init__(
        self,
        model: Any,
        arch: str | None = None,
        backend: str = "torch",
        device: str = "cpu",
        score_thr: float | None = None,
        nms_thr: float | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
        if backend == "onnxruntime":
            self._run, self.input_size, defaults = _open_onnx(model, device)
        else:
            self._run, self.input_size = _open_torch(model, arch, device)
            defaults = (SCORE_THR, NMS_THR)
        self.score_thr = defaults[0] if score_thr is None else float(score_thr)
        self.nms_thr = defaults[1] if nms_thr is None else float(nms_thr)

    def estimate(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """People in ``image_bgr`` (H×W×3 uint8), in image pixels, highest score first."""
        image = validate_image(image_bgr)
        batch, box = bottomup_input(image, self.input_size)
        people = self._run(batch, self.score_thr, self.nms_thr)
        bboxes = input_to_image(people.bboxes.reshape(-1, 2, 2), box).reshape(-1, 4)
        return bboxes, people.bbox_scores, input_to_image(people.keypoints, box), people.keypoint_scores


def _open_torch(model: Any, arch: str | None, device: str) -> tuple[Runner, tuple[int, int]]:
    """An RTMO module, or an official ``.pth`` built as ``arch``, run by PyTorch on ``device``."""
    import torch

    from pose_perception.models.rtmo import RTMO, build_rtmo
    from pose_perception.models.rtmo_decode import RTMODense
    from pose_perception.models.rtmpose import load_checkpoint

    if isinstance(model, (str, os.PathLike)):
        if arch is None:
            raise ValueError(
                f"{os.fspath(model)}: a .pth carries no architecture; pass arch='rtmo-s' (or t/m/l)"
            )
        model = load_checkpoint(build_rtmo(arch), model)
    if not isinstance(model, RTMO):
        raise TypeError(f"model: expected an RTMO module or a checkpoint path, got {type(model).__name__}")
    dense = RTMODense(model.eval()).to(device).eval()
    input_size = model.size.input_size

    def run(batch: np.ndarray, score_thr: float, nms_thr: float) -> People:
        """Threshold and NMS first, then the DCC on the kept people only (as MMPose)."""
        with torch.no_grad():
            boxes, scores, vis, poses, priors = dense.candidates(torch.from_numpy(batch).to(device))
            boxes_np, scores_np = boxes[0].cpu().numpy(), scores[0].cpu().numpy()
            kept = select_indices(boxes_np, scores_np, score_thr, nms_thr)
            rows = torch.from_numpy(kept).to(boxes.device)
            keypoints = model.head.dcc(poses[0, rows], boxes[0, rows], priors[rows])
        return People(
            clamp_boxes(boxes_np[kept], input_size),
            scores_np[kept],
            keypoints.cpu().numpy(),
            vis[0, rows].cpu().numpy(),
        )

    return run, input_size


def _open_onnx(path: Any, device: str) -> tuple[Runner, tuple[int, int], tuple[float, float]]:
    """An exported one-stage ONNX file, described by its metadata, run by ONNX Runtime."""
    from pose_perception.runtime.onnxruntime_backend import open_session

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"model: backend 'onnxruntime' needs an .onnx path, got {type(path).__name__}")
    session = open_session(path, device)
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("model_kind") != "one-stage":
        raise ValueError(f"{os.fspath(path)}: not a one-stage model exported by pose_perception (model_kind)")
    width, height = json.loads(meta["input_size"])
    input_size = (int(width), int(height))
    names = [output.name for output in session.get_outputs()]

    def run(batch: np.ndarray, score_thr: float, nms_thr: float) -> People:
        dense = tuple(output[0] for output in session.run(names, {"input": batch}))
        return select_people(dense, input_size, score_thr, nms_thr)

    return run, input_size, (float(meta["score_thr"]), float(meta["nms_thr"]))
