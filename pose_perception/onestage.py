"""One-stage (RTMO) multi-person pose estimation on whole images: no person detector.

``OneStageEstimator(model, arch=..., backend=..., device=...)`` takes an RTMO module, an official
``.pth`` (with ``arch``; on ``backend="onnxruntime"`` exported once into the cache), a registry
name (``rtmo-s``, ``rtmo-s-onnx``) or an ONNX file (``backend="onnxruntime"``): one we exported
(it carries its arch, input size and thresholds) or MMDeploy's official end-to-end RTMO (outputs
``dets`` and ``keypoints``, no metadata).
``estimate(image_bgr)`` returns (bboxes (N,4), bbox_scores (N,), keypoints (N,K,2),
keypoint_scores (N,K)) in image pixels, highest score first, after the official score threshold
and NMS (settable); the DCC decodes the kept people only. The ONNX path never imports torch.
``threads`` sets ONNX Runtime's intra-op threads; PyTorch keeps its process-wide setting, as in
``PoseEstimator``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pose_perception.bottomup import bottomup_input, input_to_image
from pose_perception.estimator import validate_image
from pose_perception.model_kinds import (
    DECODE_KEPT,
    OFFICIAL_ONESTAGE_OUTPUTS,
    ONE_STAGE,
    ONESTAGE_OUTPUTS,
    THRESHOLD_INPUTS,
    USE_POSE_ESTIMATOR,
    arch_kind,
    onnx_outputs_kind,
)
from pose_perception.people_select import (
    NMS_THR,
    SCORE_THR,
    People,
    clamp_boxes,
    select_people,
)

Runner = Callable[[np.ndarray, float, float], People]
BACKENDS = ("torch", "onnxruntime")
CHECKPOINT_SUFFIXES = (".pth", ".pt")


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
        *,
        input_size: tuple[int, int] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
        if _is_registry_name(model):
            model, arch, input_size = _registry_file(str(model), backend, cache_dir)
        if backend == "onnxruntime" and _is_checkpoint(model):
            from pose_perception.runtime.onnx_cache import cached_onestage_onnx

            model = cached_onestage_onnx(Path(model), _checkpoint_arch(model, arch), cache_dir)
        self.session: Any = None  # the ONNX Runtime InferenceSession on that backend
        if backend == "onnxruntime":
            opened = _open_onnx(model, device, input_size, threads)
            self._run, self.input_size, defaults, self.session = opened
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


def _is_registry_name(model: Any) -> bool:
    return isinstance(model, (str, os.PathLike)) and not Path(model).suffix


def _is_checkpoint(model: Any) -> bool:
    return isinstance(model, (str, os.PathLike)) and Path(model).suffix in CHECKPOINT_SUFFIXES


def _checkpoint_arch(path: str | os.PathLike[str], arch: str | None) -> str:
    """``arch``, once it is known to be a one-stage architecture (a .pth says nothing itself)."""
    if arch is None:
        raise ValueError(f"{os.fspath(path)}: a .pth carries no architecture; pass arch='rtmo-s' (or t/m/l)")
    if arch_kind(arch) != ONE_STAGE:
        raise ValueError(f"{os.fspath(path)}: arch {arch!r} {USE_POSE_ESTIMATOR}")
    return arch


def _registry_file(
    name: str, backend: str, cache_dir: str | os.PathLike[str] | None
) -> tuple[Path, str, tuple[int, int] | None]:
    """The verified local file of a one-stage registry model, its arch and its input size."""
    from pose_perception import zoo

    entry = zoo.REGISTRY.get(name)
    if entry is None or entry.task != "pose":
        known = ", ".join(n for n in zoo.names("pose") if zoo.REGISTRY[n].one_stage)
        raise ValueError(f"model {name!r} is not a file nor a registry pose model (one-stage: {known})")
    if not entry.one_stage:
        raise ValueError(f"registry model {name!r} {USE_POSE_ESTIMATOR}")
    if backend == "torch" and entry.local_name.endswith(".onnx"):  # a .pth runs on either
        raise ValueError(f"registry model {name!r} is an .onnx file: use backend='onnxruntime'")
    path, _ = zoo.resolve(name, cache_dir=cache_dir, task="pose")
    return path, entry.arch, entry.input_size


def _open_torch(model: Any, arch: str | None, device: str) -> tuple[Runner, tuple[int, int]]:
    """An RTMO module, or an official ``.pth`` built as ``arch``, run by PyTorch on ``device``."""
    import torch

    from pose_perception.models.rtmo import RTMO, build_rtmo
    from pose_perception.models.rtmo_decode import RTMOKept
    from pose_perception.models.rtmpose import TopDownNetwork, load_checkpoint

    if isinstance(model, (str, os.PathLike)):
        model = load_checkpoint(build_rtmo(_checkpoint_arch(model, arch)), model)
    if isinstance(model, TopDownNetwork):
        raise ValueError(f"model: this {type(model).__name__} module {USE_POSE_ESTIMATOR}")
    if not isinstance(model, RTMO):
        raise TypeError(f"model: expected an RTMO module or a checkpoint path, got {type(model).__name__}")
    kept = RTMOKept(model.eval()).to(device).eval()
    input_size = model.size.input_size

    def run(batch: np.ndarray, score_thr: float, nms_thr: float) -> People:
        """Threshold and NMS first, then the DCC on the kept people only (as MMPose)."""
        with torch.no_grad():
            outputs = kept(torch.from_numpy(batch).to(device), torch.tensor(score_thr), torch.tensor(nms_thr))
        return _people(tuple(output[0].cpu().numpy() for output in outputs), input_size)

    return run, input_size


def _open_onnx(
    path: Any, device: str, input_size: tuple[int, int] | None, threads: int | None
) -> tuple[Runner, tuple[int, int], tuple[float, float], Any]:
    """A one-stage ONNX file, ours (described by its metadata) or MMDeploy's, run by ONNX Runtime."""
    from pose_perception.runtime.onnxruntime_backend import open_session

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"model: backend 'onnxruntime' needs an .onnx path, got {type(path).__name__}")
    session = open_session(path, device, threads)
    names = [output.name for output in session.get_outputs()]
    meta = session.get_modelmeta().custom_metadata_map
    if set(names) == set(OFFICIAL_ONESTAGE_OUTPUTS):
        size = _graph_input_size(session, os.fspath(path), input_size)
        return _official_runner(session, size), size, (SCORE_THR, NMS_THR), session
    if meta.get("model_kind") != "one-stage" or onnx_outputs_kind(names) != ONE_STAGE:
        raise ValueError(
            f"{os.fspath(path)}: not a one-stage model ({', '.join(names)}): it {USE_POSE_ESTIMATOR}"
        )
    width, height = json.loads(meta["input_size"])
    size = (int(width), int(height))
    runner = _kept_runner if meta.get("decode") == DECODE_KEPT else _dense_runner
    return runner(session, names, size), size, (float(meta["score_thr"]), float(meta["nms_thr"])), session


def _kept_runner(session: Any, names: list[str], input_size: tuple[int, int]) -> Runner:
    """Our export: threshold, NMS and the DCC of the kept people in the graph, thresholds as inputs."""
    score_name, nms_name = THRESHOLD_INPUTS

    def run(batch: np.ndarray, score_thr: float, nms_thr: float) -> People:
        thresholds = {score_name: np.array(score_thr, np.float32), nms_name: np.array(nms_thr, np.float32)}
        outputs = dict(zip(names, session.run(names, {"input": batch, **thresholds}), strict=True))
        return _people(tuple(outputs[name][0] for name in ONESTAGE_OUTPUTS), input_size)

    return run


def _dense_runner(session: Any, names: list[str], input_size: tuple[int, int]) -> Runner:
    """Our earlier export (no "decode" key): every grid cell a row; NumPy selects the people."""

    def run(batch: np.ndarray, score_thr: float, nms_thr: float) -> People:
        outputs = dict(zip(names, session.run(names, {"input": batch}), strict=True))
        dense = tuple(outputs[name][0] for name in ONESTAGE_OUTPUTS)
        return select_people(dense, input_size, score_thr, nms_thr)

    return run


def _people(kept: tuple[np.ndarray, ...], input_size: tuple[int, int]) -> People:
    """People already selected (boxes, scores, keypoints, keypoint scores), boxes clamped to the input."""
    boxes, scores, keypoints, keypoint_scores = kept
    return People(clamp_boxes(boxes, input_size), scores, keypoints, keypoint_scores)


def _graph_input_size(session: Any, path: str, given: tuple[int, int] | None) -> tuple[int, int]:
    """(width, height) of a metadata-free graph: its fixed input shape, else ``given``."""
    _, _, height, width = session.get_inputs()[0].shape
    if isinstance(width, int) and isinstance(height, int):
        if given is not None and tuple(given) != (width, height):
            raise ValueError(
                f"{path}: input_size {tuple(given)} given, the graph's input is {width}x{height}"
            )
        return (width, height)
    if given is None:
        raise ValueError(f"{path}: the graph's input size is dynamic; pass input_size=(width, height)")
    return (int(given[0]), int(given[1]))


def _official_runner(session: Any, input_size: tuple[int, int]) -> Runner:
    """MMDeploy's end-to-end RTMO: ``dets`` (1,N,5: x1,y1,x2,y2,score) and ``keypoints``
    (1,N,K,3: x,y,score) in input pixels, people its graph kept with the thresholds it was
    exported with. Our threshold and NMS run again on them (a no-op at the official values; a
    stricter setting takes effect, a looser one cannot bring back whom the graph dropped), and
    the boxes are clamped to the input as on our other paths."""
    input_name = session.get_inputs()[0].name

    def run(batch: np.ndarray, score_thr: float, nms_thr: float) -> People:
        dets, keypoints = session.run(list(OFFICIAL_ONESTAGE_OUTPUTS), {input_name: batch})
        dense = (dets[0, :, :4], dets[0, :, 4], keypoints[0, ..., :2], keypoints[0, ..., 2])
        return select_people(dense, input_size, score_thr, nms_thr)

    return run
