"""``pose-perception export``: an RTMPose checkpoint (or seeded random weights) to ONNX with
the pose metadata, then checked against PyTorch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pose_perception.cli.common import PROG, CliError, positive_int
from pose_perception.skeletons import Skeleton, get_skeleton

if TYPE_CHECKING:
    from torch import nn

PARITY_TOLERANCE = 1e-4


def add_command(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="export an RTMPose checkpoint to ONNX (with pose metadata)",
        description="Build an architecture, load its checkpoint and export ONNX with the metadata "
        "PoseEstimator needs; then check the ONNX against PyTorch on a random batch.",
    )
    export.add_argument("--arch", required=True, help="rtmpose-t/s/m/l, rtmpose-m/l-384x288")
    weights = export.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", help="official MMPose .pth or a state_dict file")
    weights.add_argument(
        "--random-init", action="store_true", help="no checkpoint: export seeded random weights (tests only)"
    )
    export.add_argument("--output", required=True, help="the .onnx file to write")
    export.add_argument("--num-keypoints", type=positive_int, help="default: from --skeleton, else 17")
    export.add_argument("--skeleton", help="coco17 | h36m17 | schema .yaml (default: coco17)")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s)")
    export.add_argument("--static-batch", action="store_true", help="fix the batch size to 1")
    export.add_argument("--no-verify", action="store_true", help="skip the ONNX-vs-PyTorch check")
    export.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> int:
    if args.checkpoint is None and not args.random_init:
        raise CliError("export needs --checkpoint FILE (or --random-init for a pipeline test model)")
    if not args.output.endswith(".onnx"):
        raise CliError(f"--output {args.output}: the file name must end in .onnx")
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        raise CliError(f"--checkpoint {args.checkpoint}: file not found")
    try:
        from pose_perception.runtime.export import export_rtmpose
    except ImportError as err:
        hint = "pip install 'pose-perception[torch]'"
        raise CliError(f"export needs PyTorch and onnx ({err}); {hint}") from err
    skeleton = get_skeleton(args.skeleton) if args.skeleton else None
    num_keypoints = _export_keypoints(args.num_keypoints, skeleton)
    model, info, path = export_rtmpose(
        args.arch,
        args.output,
        checkpoint=args.checkpoint,
        skeleton=skeleton,
        num_keypoints=num_keypoints,
        opset=args.opset,
        dynamic_batch=not args.static_batch,
    )
    if args.checkpoint is None:
        _warn_random_weights(args.arch)
    width, height = info.input_size
    print(
        f"wrote {path}: {info.arch}, {info.num_keypoints} keypoints ({info.skeleton.name}), "
        f"input {width}x{height}, opset {args.opset}, batch {'1' if args.static_batch else 'dynamic'}"
    )
    return 0 if args.no_verify else _verify_export(model, path, info.input_size)


def _export_keypoints(requested: int | None, skeleton: Skeleton | None) -> int:
    if skeleton is None:
        return requested or 17
    if requested is not None and requested != skeleton.num_keypoints:
        raise CliError(
            f"--num-keypoints {requested} does not match skeleton {skeleton.name!r} "
            f"({skeleton.num_keypoints} keypoints)"
        )
    return skeleton.num_keypoints


def _warn_random_weights(arch: str) -> None:
    bar = "!" * 78
    print(
        f"{bar}\nWARNING: no checkpoint given: exporting {arch} with RANDOM weights (seed 0).\n"
        f"Its keypoints are meaningless; use this model only to test the pipeline.\n{bar}",
        file=sys.stderr,
    )


def _verify_export(model: nn.Module, path: str, input_size: tuple[int, int]) -> int:
    """Compare ONNX Runtime with PyTorch on a random batch of 2; exit code 1 beyond tolerance."""
    from pose_perception.runtime.export import onnx_parity

    width, height = input_size
    batch = np.random.default_rng(0).standard_normal((2, 3, height, width)).astype(np.float32)
    diff = onnx_parity(model, path, batch)
    if diff > PARITY_TOLERANCE:
        print(
            f"{PROG}: error: ONNX output differs from PyTorch by {diff:.3g} (relative), "
            f"more than {PARITY_TOLERANCE:g}; {path} is not trustworthy",
            file=sys.stderr,
        )
        return 1
    print(f"verified: ONNX Runtime vs PyTorch max relative difference {diff:.3g} (<= {PARITY_TOLERANCE:g})")
    return 0
