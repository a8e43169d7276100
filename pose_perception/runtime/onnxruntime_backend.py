"""ONNX Runtime backend: CPU everywhere; CUDA / TensorRT execution providers when present."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from pose_perception.model_info import ModelInfo
from pose_perception.model_kinds import ONE_STAGE, USE_ONE_STAGE_ESTIMATOR, onnx_outputs_kind
from pose_perception.zoo.onnx_checks import check_image_input, check_outputs, session_io

DEVICES = ("cpu", "cuda", "tensorrt", "auto")


def parse_device(device: str) -> tuple[str, int | None]:
    """``cuda:1`` → ("cuda", 1); validates the kind and the index."""
    kind, sep, index = device.partition(":")
    if kind not in DEVICES:
        raise ValueError(f"unknown device {device!r}; use one of {', '.join(DEVICES)} (cuda:N allowed)")
    if not sep:
        return kind, None
    if kind in ("cpu", "auto") or not index.isdigit():
        raise ValueError(f"bad device {device!r}: only cuda:N / tensorrt:N take a GPU index N >= 0")
    return kind, int(index)


def select_providers(device: str, available: Sequence[str]) -> list[Any]:
    """Execution providers for a device string, given what this onnxruntime build offers.

    ``auto`` picks TensorRT, then CUDA, then CPU; ``cuda[:N]``/``tensorrt[:N]`` demand
    that provider and fail clearly if the installed onnxruntime lacks it.
    """
    kind, index = parse_device(device)
    options = {"device_id": index} if index is not None else {}
    trt_options = {
        **options,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": os.path.join(_cache_root(), "trt"),
        "trt_fp16_enable": True,
    }
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "cpu": [],
        "cuda": [("CUDAExecutionProvider", options)],
        "tensorrt": [("TensorrtExecutionProvider", trt_options), ("CUDAExecutionProvider", options)],
        "auto": [("TensorrtExecutionProvider", trt_options), ("CUDAExecutionProvider", options)],
    }
    wanted = by_kind[kind]
    chosen: list[Any] = [(name, opts) for name, opts in wanted if name in available]
    if kind in ("cuda", "tensorrt") and not any(p[0] == wanted[0][0] for p in chosen):
        raise RuntimeError(
            f"device {device!r} needs {wanted[0][0]}, but this onnxruntime offers only "
            f"{list(available)}; install onnxruntime-gpu (pip install 'pose-perception[gpu]') "
            "or use device='cpu'"
        )
    return [*chosen, "CPUExecutionProvider"]


def _cache_root() -> str:
    from pose_perception.zoo import default_cache_dir

    return str(default_cache_dir())


def open_session(path: str | os.PathLike[str], device: str = "cpu", threads: int | None = None) -> Any:
    """An ``InferenceSession`` on the providers ``device`` asks for (pose models, detectors)."""
    import onnxruntime as ort

    if not os.path.isfile(path):
        raise FileNotFoundError(f"ONNX model not found: {path}")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # Worker threads spin only while a Run() is in flight: between frames the cores
    # stay free for pre-processing, tracking and the robot's other nodes.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    providers = select_providers(device, ort.get_available_providers())
    try:
        return ort.InferenceSession(os.fspath(path), options, providers=providers)
    except Exception as err:  # onnxruntime raises its own exception types
        raise ValueError(f"{path}: cannot load ONNX model ({err})") from err


def open_model(
    model: str | os.PathLike[str], info: ModelInfo | None, device: str, threads: int | None
) -> tuple[OnnxRuntimeBackend, ModelInfo]:
    """An ONNX file, described by its own metadata (``info`` is what it was exported from)."""
    backend = OnnxRuntimeBackend(model, device, threads)
    return backend, backend.model_info()


class OnnxRuntimeBackend:
    """Wraps an ``InferenceSession`` of an RTMPose ONNX file (ours or the official export)."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", threads: int | None = None):
        self.session = open_session(path, device, threads)
        self.path = os.fspath(path)
        self.output_names = _check_pose_graph(self.session, self.path)
        inputs = self.session.get_inputs()
        self.input_name = inputs[0].name
        batch_dim = inputs[0].shape[0]
        self.fixed_batch = batch_dim if isinstance(batch_dim, int) else None
        self.providers = self.session.get_providers()
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def model_info(self) -> ModelInfo:
        """Metadata embedded in the file, or official defaults checked against the shapes."""
        _, _, height, width = self.session.get_inputs()[0].shape
        k, simcc_w = self.session.get_outputs()[self._x_index()].shape[1:3]
        static = all(isinstance(v, int) for v in (height, width))
        return ModelInfo.from_metadata(
            self.metadata,
            input_size=(width, height) if static else None,
            num_keypoints=k if isinstance(k, int) else None,
            simcc_width=simcc_w if isinstance(simcc_w, int) else None,
            source=self.path,
        )

    def _x_index(self) -> int:
        names = [o.name for o in self.session.get_outputs()]
        return names.index(self.output_names[0])

    def infer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.fixed_batch is None or len(batch) == self.fixed_batch:
            simcc_x, simcc_y = self.session.run(self.output_names, {self.input_name: batch})
            return simcc_x, simcc_y
        if self.fixed_batch != 1:
            raise ValueError(f"{self.path}: model has a fixed batch of {self.fixed_batch}")
        parts = [
            self.session.run(self.output_names, {self.input_name: batch[i : i + 1]})
            for i in range(len(batch))
        ]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
        )


def _check_pose_graph(session: Any, path: str) -> list[str]:
    """The output names in (simcc_x, simcc_y) order, once the graph is known to run: one float
    N×3×H×W input and two rank-3 outputs; ValueError naming ``path`` otherwise. Outputs named
    otherwise are taken in file order (exports that lost the names)."""
    inputs, outputs = session_io(session)
    names = [name for name, _, _ in outputs]
    if onnx_outputs_kind(names) == ONE_STAGE:
        raise ValueError(f"{path} {USE_ONE_STAGE_ESTIMATOR}")
    if len(outputs) == 2 and set(names) != {"simcc_x", "simcc_y"}:
        roles = ("simcc_x", "simcc_y")
        outputs = [(role, dims, dtype) for role, (_, dims, dtype) in zip(roles, outputs, strict=True)]
    try:
        check_image_input(inputs, (None, 3, None, None))
        check_outputs(outputs, {"simcc_x": (None, None, None), "simcc_y": (None, None, None)})
    except ValueError as err:
        raise ValueError(f"{path}: cannot be run as a pose model: it {err}") from None
    return ["simcc_x", "simcc_y"] if set(names) == {"simcc_x", "simcc_y"} else names
