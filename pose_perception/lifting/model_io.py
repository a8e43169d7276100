"""Lifter models: the metadata an export carries (:class:`LifterInfo`), ONNX export,
the ONNX Runtime and torch runners, and where the bundled lifter lives.

Torch-free at import: torch, onnx and ONNX Runtime are imported when used.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pose_perception.fileio import atomic_output
from pose_perception.lifting.joints import MIN_SCORE, NORMALIZATION
from pose_perception.skeletons import H36M17

LIFTER_ARCH = "causal-temporal-lifter"
METADATA_VERSION = "1"


@dataclass(frozen=True)
class LifterInfo:
    """What a lifter model needs besides its weights; stored as ONNX ``metadata_props``."""

    receptive_field: int
    input_joints: tuple[str, ...] = H36M17.keypoint_names
    output_joints: tuple[str, ...] = H36M17.keypoint_names
    normalization: str = NORMALIZATION
    min_score: float = MIN_SCORE
    arch: str = LIFTER_ARCH
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def to_metadata(self) -> dict[str, str]:
        meta = {
            "pose_perception_metadata_version": METADATA_VERSION,
            "arch": self.arch,
            "receptive_field": json.dumps(self.receptive_field),
            "input_joint_names": json.dumps(list(self.input_joints)),
            "output_joint_names": json.dumps(list(self.output_joints)),
            "input_layout": "N,T,J,2: T = receptive_field frames, oldest first",
            "normalization": self.normalization,
            "min_score": json.dumps(self.min_score),
            "output": "N,J,3: metres, root-relative, camera optical frame (x right, y down, z forward)",
            "coco_to_h36m": "MMPose convert_keypoint_definition",
        }
        meta.update(self.extra)
        return meta

    @classmethod
    def from_metadata(cls, meta: dict[str, str], source: str = "model") -> LifterInfo:
        if meta.get("arch") != LIFTER_ARCH or "receptive_field" not in meta:
            raise ValueError(f"{source}: not a lifter export (arch {meta.get('arch')!r})")
        known = set(cls(1).to_metadata())
        return cls(
            receptive_field=int(json.loads(meta["receptive_field"])),
            input_joints=tuple(json.loads(meta["input_joint_names"])),
            output_joints=tuple(json.loads(meta["output_joint_names"])),
            normalization=meta.get("normalization", NORMALIZATION),
            min_score=float(json.loads(meta.get("min_score", str(MIN_SCORE)))),
            arch=meta["arch"],
            extra={k: v for k, v in meta.items() if k not in known},
        )


def export_lifter(
    model: Any, output: str | os.PathLike[str], info: LifterInfo | None = None, opset: int = 17
) -> str:
    """Export a :class:`~pose_perception.models.lifter.CausalTemporalLifter` to ONNX
    (input ``keypoints_2d`` (N, rf, J, 2), output ``keypoints_3d`` (N, J, 3), dynamic N)
    with :class:`LifterInfo` metadata; written atomically. Needs torch and onnx."""
    import torch

    from pose_perception.runtime.export import stamp_metadata

    info = info or LifterInfo(int(model.receptive_field))
    model = model.cpu().eval()
    dummy = torch.zeros(1, info.receptive_field, model.num_joints_in, 2)
    output = os.fspath(output)
    with atomic_output(output, suffix=".onnx") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                model,
                (dummy,),
                tmp,
                dynamo=False,
                input_names=["keypoints_2d"],
                output_names=["keypoints_3d"],
                dynamic_axes={"keypoints_2d": {0: "batch"}, "keypoints_3d": {0: "batch"}},
                opset_version=opset,
                do_constant_folding=True,
            )
        stamp_metadata(tmp, info.to_metadata())
    return output


class OnnxLifterModel:
    """An exported lifter in ONNX Runtime: (N, rf, J, 2) float32 → (N, J, 3)."""

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", threads: int | None = None):
        from pose_perception.runtime.onnxruntime_backend import open_session

        self.path = os.fspath(path)
        self.session = open_session(path, device, threads)
        self.info = LifterInfo.from_metadata(
            dict(self.session.get_modelmeta().custom_metadata_map), source=self.path
        )
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(windows, dtype=np.float32)
        return np.asarray(self.session.run(None, {self.input_name: batch})[0])


class TorchLifterModel:
    """A lifter ``nn.Module`` in eval mode without gradients: (N, rf, J, 2) → (N, J, 3)."""

    def __init__(self, module: Any, device: str = "cpu") -> None:
        import torch

        self.torch, self.device = torch, device
        self.module = module.to(device).eval()
        self.info = LifterInfo(int(module.receptive_field))

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            x = self.torch.as_tensor(np.asarray(windows, np.float32), device=self.device)
            return self.module(x).cpu().numpy()


LifterModel = Callable[[np.ndarray], np.ndarray]

BUNDLED_LIFTER = "lifter-causal-synthetic.onnx"  # in pose_perception/bundled (zoo.BUNDLED_DIR)


def lifter_model_path(model: str | os.PathLike[str] = "") -> str:
    """The lifter file a setting names: empty = the bundled causal lifter (trained on
    synthetic motion only). FileNotFoundError naming the path when there is no such file."""
    from pose_perception.zoo import BUNDLED_DIR

    path = os.fspath(model) or os.fspath(BUNDLED_DIR / BUNDLED_LIFTER)
    if not os.path.isfile(path):
        what = "the bundled lifter" if not os.fspath(model) else "lifter model"
        raise FileNotFoundError(f"{what} not found: {path}")
    return path
