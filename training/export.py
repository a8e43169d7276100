"""Export a trained model: ONNX with our metadata (core exporter) + a parity check
against PyTorch, and optionally a TensorRT engine with a dynamic batch profile.

    python -m pose_perception.training.export --config CFG --checkpoint work_dirs/x/best.pth \\
        --out model.onnx [--fp16-weights] [--trt --precision fp16 --min-batch 1 --opt-batch 8 --max-batch 32]

``--fp16-weights`` stores the weights as float16 (half the file; computation stays
float32) after the parity check of the float32 export, and reports its own difference.

The TensorRT step needs the ``tensorrt`` Python package and a CUDA GPU; elsewhere it is
skipped with a message that says which of the two is missing (exit code 0: the ONNX
file is still valid and any machine with TensorRT can build the engine from it, e.g.
with the ``trtexec`` line printed).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

PARITY_TOLERANCE = 1e-4


class TensorRTUnavailable(RuntimeError):
    """TensorRT or a CUDA GPU is missing; the message says which."""


@dataclass(frozen=True)
class BatchProfile:
    """Dynamic batch range of the engine's optimisation profile."""

    min: int = 1
    opt: int = 8
    max: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise ValueError(f"need 1 <= min <= opt <= max batch, got {self.min}/{self.opt}/{self.max}")


def parity_batch(input_size: tuple[int, int], size: int = 2, seed: int = 0) -> np.ndarray:
    width, height = input_size
    return np.random.default_rng(seed).standard_normal((size, 3, height, width)).astype(np.float32)


def export_checkpoint(config: str, checkpoint: str, output: str, use_ema: bool = True) -> tuple[str, float]:
    """Build the config's model with the checkpoint's weights, write ONNX with metadata,
    and return (path, max relative difference ONNX Runtime vs PyTorch)."""
    from pose_perception.training.config import load_config
    from pose_perception.training.model import load_trained, skeleton_for

    cfg = load_config(config)
    return export_model(load_trained(cfg, checkpoint, use_ema), skeleton_for(cfg), output)


def export_model(model: Any, skeleton: Any, output: str) -> tuple[str, float]:
    """Write ``model`` (eval mode) as ONNX with metadata; returns (path, parity)."""
    import torch

    from pose_perception.runtime.export import export_onnx, onnx_parity

    info = model.model_info(skeleton)
    path = export_onnx(model, info, output)
    with torch.no_grad():
        parity = onnx_parity(model, path, parity_batch(info.input_size))
    return path, parity


def fp16_weights_difference(model: Any, onnx_path: str) -> float:
    """Store ``onnx_path``'s weights (exported from ``model``) as float16 and return its
    max relative difference to the float32 PyTorch model (rounding the weights: about
    1e-3, not a parity failure)."""
    import torch

    from pose_perception.runtime.export import onnx_parity, store_weights_fp16

    store_weights_fp16(onnx_path)
    with torch.no_grad():
        return onnx_parity(model, onnx_path, parity_batch(model.variant.input_size))


def tensorrt_status() -> str | None:
    """None when an engine can be built here, else why not."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "the 'tensorrt' Python package is not installed"
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    return None if has_gpu else "no CUDA GPU is visible"


def trtexec_command(
    onnx_path: str, engine_path: str, precision: str, profile: BatchProfile, shape: str
) -> str:
    """The equivalent ``trtexec`` invocation (for machines with TensorRT but no Python API)."""
    flags = " --fp16" if precision == "fp16" else ""
    return (
        f"trtexec --onnx={onnx_path} --saveEngine={engine_path}{flags} "
        f"--minShapes=input:{profile.min}x{shape} --optShapes=input:{profile.opt}x{shape} "
        f"--maxShapes=input:{profile.max}x{shape}"
    )


def build_trt_engine(
    onnx_path: str, engine_path: str, precision: str = "fp16", profile: BatchProfile | None = None
) -> str:
    """Parse the ONNX file and serialise an engine with one dynamic-batch profile."""
    reason = tensorrt_status()
    if reason is not None:
        raise TensorRTUnavailable(reason)
    import onnx
    import tensorrt as trt

    profile = profile or BatchProfile()
    dims = [d.dim_value for d in onnx.load(onnx_path).graph.input[0].type.tensor_type.shape.dim][1:]
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    with open(onnx_path, "rb") as f:
        if not parser.parse(f.read()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    opt = builder.create_optimization_profile()
    opt.set_shape("input", (profile.min, *dims), (profile.opt, *dims), (profile.max, *dims))
    config.add_optimization_profile(opt)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise RuntimeError("TensorRT engine build failed (see the TensorRT log above)")
    os.makedirs(os.path.dirname(os.path.abspath(engine_path)), exist_ok=True)
    with open(engine_path, "wb") as f:
        f.write(bytes(engine))
    return engine_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="training YAML (architecture, schema, input size)")
    parser.add_argument("--checkpoint", help="training checkpoint or state dict")
    parser.add_argument("--out", help="ONNX output path")
    parser.add_argument("--onnx", help="an existing ONNX file (only build the engine)")
    parser.add_argument("--no-ema", action="store_true", help="export the raw, not the EMA, weights")
    parser.add_argument(
        "--fp16-weights", action="store_true", help="store the weights as float16 (half the file size)"
    )
    parser.add_argument("--trt", action="store_true", help="also build a TensorRT engine")
    parser.add_argument("--engine", help="engine path (default: ONNX path with .engine)")
    parser.add_argument("--precision", choices=("fp16", "fp32"), default="fp16")
    parser.add_argument("--min-batch", type=int, default=1)
    parser.add_argument("--opt-batch", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=32)
    args = parser.parse_args(argv)
    profile = BatchProfile(args.min_batch, args.opt_batch, args.max_batch)
    onnx_path = args.onnx
    if onnx_path is None:
        if not (args.config and args.checkpoint and args.out):
            parser.error("give --config, --checkpoint and --out (or --onnx with --trt)")
        from pose_perception.training.config import load_config
        from pose_perception.training.model import load_trained, skeleton_for

        cfg = load_config(args.config)
        model = load_trained(cfg, args.checkpoint, not args.no_ema)
        onnx_path, parity = export_model(model, skeleton_for(cfg), args.out)
        ok = parity <= PARITY_TOLERANCE
        print(f"wrote {onnx_path}; ONNX Runtime vs PyTorch max relative difference {parity:.2e}")
        if not ok:
            print(f"parity check FAILED (> {PARITY_TOLERANCE:g})", file=sys.stderr)
            return 1
        if args.fp16_weights:
            diff = fp16_weights_difference(model, onnx_path)
            print(f"stored the weights as float16; max relative difference to PyTorch fp32 {diff:.2e}")
    if args.trt:
        engine = args.engine or os.path.splitext(onnx_path)[0] + ".engine"
        try:
            build_trt_engine(onnx_path, engine, args.precision, profile)
        except TensorRTUnavailable as why:
            import onnx

            dims = [d.dim_value for d in onnx.load(onnx_path).graph.input[0].type.tensor_type.shape.dim][1:]
            shape = "x".join(str(d) for d in dims)
            print(
                f"TensorRT engine skipped: {why}. Build it where TensorRT and a GPU exist:\n  "
                + trtexec_command(onnx_path, engine, args.precision, profile, shape),
                file=sys.stderr,
            )
            return 0
        print(f"wrote {engine} ({args.precision}, batch {profile.min}/{profile.opt}/{profile.max})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
