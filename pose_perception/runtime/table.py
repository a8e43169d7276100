"""The inference backends, one table row each: name, model files it runs, opener, devices.

Adding a backend is one new file in ``runtime/`` (an ``open_model`` and a ``parse_device``
that import their runtime only when called) plus one row here. Config validation, the
estimator and the CLI's ``--backend`` choices read this table. Importing it stays cheap:
no backend's runtime (torch, onnxruntime) is imported until a model is opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pose_perception.model_info import ModelInfo
from pose_perception.runtime import onnxruntime_backend, torch_backend
from pose_perception.runtime.base import Backend

CHECKPOINT_SUFFIXES = (".pth", ".pt")

# (model file or nn.Module, its ModelInfo when known, device, intra-op threads) → backend + info
Opener = Callable[[Any, "ModelInfo | None", str, "int | None"], "tuple[Backend, ModelInfo]"]


@dataclass(frozen=True)
class BackendRow:
    name: str
    suffixes: tuple[str, ...]  # model files it runs as they are
    open_model: Opener
    parse_device: Callable[[str], object]  # raises ValueError naming the device
    runs_modules: bool = False  # also runs an in-memory nn.Module


BACKENDS: tuple[BackendRow, ...] = (
    BackendRow("onnxruntime", (".onnx",), onnxruntime_backend.open_model, onnxruntime_backend.parse_device),
    BackendRow("torch", CHECKPOINT_SUFFIXES, torch_backend.open_model, torch_backend.parse_device, True),
)

BACKEND_NAMES = tuple(row.name for row in BACKENDS)
MODEL_SUFFIXES = tuple(dict.fromkeys(suffix for row in BACKENDS for suffix in row.suffixes))


def backend_row(name: str) -> BackendRow:
    for row in BACKENDS:
        if row.name == name:
            return row
    raise ValueError(f"unknown backend {name!r}; use one of {', '.join(BACKEND_NAMES)}")


def check_device(backend: str, device: str) -> None:
    """Raise ValueError if ``backend`` cannot be asked for ``device`` (no runtime imported)."""
    backend_row(backend).parse_device(device)


def runs_onnx(backend: str) -> bool:
    return ".onnx" in backend_row(backend).suffixes


def open_backend(
    model: Any,
    backend: str,
    device: str = "cpu",
    *,
    info: ModelInfo | None = None,
    threads: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[Backend, ModelInfo]:
    """Run ``model`` (a model file, or an ``nn.Module``) on ``backend``; returns the backend
    and the model's info (read from a self-describing file, else ``info``). A checkpoint
    on a backend that runs ONNX is exported once into ``cache_dir`` first."""
    row = backend_row(backend)
    if not isinstance(model, (str, os.PathLike)):
        if not row.runs_modules:
            names = " or ".join(repr(r.name) for r in BACKENDS if r.runs_modules)
            raise ValueError(f"an nn.Module runs on backend={names}; export it to ONNX for {backend}")
        return row.open_model(model, info, device, threads)
    path = Path(model)
    if path.suffix in CHECKPOINT_SUFFIXES:
        if info is None:
            raise ValueError(f"{path}: a checkpoint needs its ModelInfo (architecture and skeleton)")
        if path.suffix not in row.suffixes and runs_onnx(backend):
            from pose_perception.runtime.onnx_cache import cached_onnx

            path = cached_onnx(path, info, cache_dir)
    if path.suffix in row.suffixes:
        return row.open_model(path, info, device, threads)
    raise ValueError(f"{path}: {_who_runs(path.suffix)}, not on backend {backend!r}")


def _who_runs(suffix: str) -> str:
    names = [repr(row.name) for row in BACKENDS if suffix in row.suffixes]
    if not names:
        return f"no backend runs {suffix or 'suffix-less'} files (only {'/'.join(MODEL_SUFFIXES)})"
    return f"a {suffix} file runs on backend={' or '.join(names)}"
