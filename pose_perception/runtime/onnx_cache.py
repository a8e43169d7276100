"""A checkpoint run on an ONNX backend is exported once into the cache and reused.

The cached file's name hashes the checkpoint's bytes and the ModelInfo it is exported
with, so a changed checkpoint or schema exports anew; a hit needs no torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from pose_perception.model_info import ModelInfo

logger = logging.getLogger(__name__)


def cached_onnx(checkpoint: Path, info: ModelInfo, cache_dir: str | os.PathLike[str] | None) -> Path:
    """The ONNX export of ``checkpoint`` (the network ``info`` names), exported if not cached."""
    from pose_perception.zoo import default_cache_dir, sha256_of

    key = hashlib.sha256(f"{sha256_of(checkpoint)}:{info.to_metadata()}".encode()).hexdigest()[:16]
    onnx_path = Path(cache_dir or default_cache_dir()) / "onnx" / f"{checkpoint.stem}-{info.arch}-{key}.onnx"
    if not onnx_path.is_file():
        _export_once(checkpoint, info, onnx_path)
    return onnx_path


def _export_once(checkpoint: Path, info: ModelInfo, onnx_path: Path) -> None:
    """The one step of a checkpoint's life on ONNX Runtime that needs PyTorch: say so,
    and name the file that lets later starts (or a torch-free robot) skip it."""
    try:
        from pose_perception.runtime.export import export_onnx
        from pose_perception.runtime.torch_backend import load_top_down
    except ImportError as err:
        raise ImportError(
            f"{checkpoint} is a PyTorch checkpoint: converting it to ONNX once needs PyTorch ({err}); "
            f"install torch, or convert it where torch is installed and copy the result to {onnx_path}"
        ) from err
    logger.warning(
        "converting %s (%s) to ONNX once; later starts load %s and need no PyTorch",
        checkpoint.name, info.arch, onnx_path,
    )  # fmt: skip
    export_onnx(load_top_down(checkpoint, info), info, onnx_path)
