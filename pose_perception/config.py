"""Typed configuration: dataclasses ← YAML (``config/rtmpose.yaml``) ← ROS parameters.

The YAML file is a ROS 2 parameter file (``/**: ros__parameters: ...``) so the very same
file configures the node; plain YAML with the same sections is accepted too. Unknown
keys and wrongly typed values fail at load time with the file and key in the message.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


@dataclass
class EstimatorConfig:
    """What ``PoseEstimator`` needs: the model and how to run it."""

    model: str = "rtmpose-t"  # registry name, .onnx or .pth path
    arch: str = ""  # architecture of a .pth checkpoint (e.g. rtmpose-s)
    backend: str = "onnxruntime"  # onnxruntime | torch
    device: str = "cpu"  # cpu | cuda[:N] | tensorrt[:N] | auto
    flip_test: bool = False
    skeleton: str = ""  # coco17 | h36m17 | path/to/schema.yaml; empty: from the model
    threads: int = 0  # intra-op threads; 0 = runtime default
    keypoint_threshold: float = 0.3  # keypoints below this score are not drawn

    def validate(self) -> None:
        from pose_perception.estimator import BACKENDS
        from pose_perception.runtime.onnxruntime_backend import parse_device

        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        parse_device(self.device)
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        if not 0.0 <= self.keypoint_threshold <= 1.0:
            raise ValueError(f"keypoint_threshold must be in [0, 1], got {self.keypoint_threshold}")
        if not self.model:
            raise ValueError("model must not be empty")


@dataclass
class Config:
    estimator: EstimatorConfig = dataclasses.field(default_factory=EstimatorConfig)

    def validate(self) -> None:
        self.estimator.validate()


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Defaults, overridden by the YAML file if given; validated."""
    if path is None:
        config = Config()
    else:
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"cannot read config {path}: {err}") from err
        config = from_dict(Config, _unwrap_ros_parameters(data), source=str(path))
    try:
        config.validate()
    except ValueError as err:
        raise ValueError(f"{path or 'default config'}: {err}") from None
    return config


def _unwrap_ros_parameters(data: Any) -> Any:
    """Accept ``<node or /**>: {ros__parameters: {...}}`` as well as the plain mapping."""
    if isinstance(data, dict) and len(data) == 1:
        (inner,) = data.values()
        if isinstance(inner, dict) and "ros__parameters" in inner:
            return inner["ros__parameters"]
    return data


def from_dict(cls: type[T], data: Any, source: str = "config") -> T:
    """Build a (nested) dataclass from plain data, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown} in {cls.__name__}; known: {sorted(fields)}")
    values = {}
    for key, value in data.items():
        values[key] = _coerce(hints[key], value, f"{source}: {key}")
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)  # type: ignore[arg-type]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            if option is type(None) and value is None:
                return None
            try:
                return _coerce(option, value, where)
            except ValueError:
                continue
        raise ValueError(f"{where}: {value!r} does not fit {hint}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (bool, int, float, str):
        if type(value) is not hint:
            raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value
    return value
