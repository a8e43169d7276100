"""A checkpoint run on an ONNX backend is exported once into the cache and reused.

The cached file's name hashes the checkpoint's bytes and what it is exported as (the ModelInfo
of a top-down network, or the export format of a one-stage one), so a changed checkpoint, schema
or export format exports anew; a hit needs no torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from pose_perception.model_info import ModelInfo
from pose_perception.model_kinds import DECODE_KEPT

logger = logging.getLogger(__name__)


def cached_onnx(checkpoint: Path, info: ModelInfo, cache_dir: str | os.PathLike[str] | None) -> Path:
    """The ONNX export of ``checkpoint`` (the top-down network ``info`` names), exported if not cached."""

    def export(onnx_path: Path) -> None:
        from pose_perception.runtime.export import export_onnx
        from pose_perception.runtime.torch_backend import load_top_down

        export_onnx(load_top_down(checkpoint, info), info, onnx_path)

    return _cached(checkpoint, info.arch, str(info.to_metadata()), cache_dir, export)


def cached_onestage_onnx(checkpoint: Path, arch: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    """The ONNX export (with metadata) of a one-stage (RTMO) ``checkpoint``, exported if not cached."""

    def export(onnx_path: Path) -> None:
        from pose_perception.models.rtmo import build_rtmo
        from pose_perception.models.rtmpose import load_checkpoint
        from pose_perception.runtime.export_onestage import export_rtmo_onnx

        model = build_rtmo(arch)
        load_checkpoint(model, checkpoint)
        export_rtmo_onnx(model, arch, onnx_path)

    return _cached(checkpoint, arch, f"one-stage:{DECODE_KEPT}", cache_dir, export)


def _cached(
    checkpoint: Path,
    arch: str,
    exported_as: str,
    cache_dir: str | os.PathLike[str] | None,
    export: Callable[[Path], None],
) -> Path:
    from pose_perception.zoo import default_cache_dir, sha256_of

    key = hashlib.sha256(f"{sha256_of(checkpoint)}:{exported_as}".encode()).hexdigest()[:16]
    onnx_path = Path(cache_dir or default_cache_dir()) / "onnx" / f"{checkpoint.stem}-{arch}-{key}.onnx"
    if not onnx_path.is_file():
        _export_once(checkpoint, arch, onnx_path, export)
    return onnx_path


def _export_once(checkpoint: Path, arch: str, onnx_path: Path, export: Callable[[Path], None]) -> None:
    """The one step of a checkpoint's life on ONNX Runtime that needs PyTorch: say so,
    and name the file that lets later starts (or a torch-free robot) skip it."""
    try:
        import torch  # noqa: F401  (only to say clearly that it is missing)
    except ImportError as err:
        raise ImportError(
            f"{checkpoint} is a PyTorch checkpoint: converting it to ONNX once needs PyTorch ({err}); "
            f"install torch, or convert it where torch is installed and copy the result to {onnx_path}"
        ) from err
    logger.warning(
        "converting %s (%s) to ONNX once; later starts load %s and need no PyTorch",
        checkpoint.name, arch, onnx_path,
    )  # fmt: skip
    export(onnx_path)
