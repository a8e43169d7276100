"""A checkpoint run on an ONNX backend is exported once into the cache and reused.

The cached file's name hashes the checkpoint's bytes and the ModelInfo it is exported
with, so a changed checkpoint or schema exports anew; a hit needs no torch.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pose_perception.model_info import ModelInfo


def cached_onnx(checkpoint: Path, info: ModelInfo, cache_dir: str | os.PathLike[str] | None) -> Path:
    """The ONNX export of ``checkpoint`` (the network ``info`` names), exported if not cached."""
    from pose_perception.zoo import default_cache_dir, sha256_of

    key = hashlib.sha256(f"{sha256_of(checkpoint)}:{info.to_metadata()}".encode()).hexdigest()[:16]
    onnx_path = Path(cache_dir or default_cache_dir()) / "onnx" / f"{checkpoint.stem}-{info.arch}-{key}.onnx"
    if not onnx_path.is_file():
        from pose_perception.models import build_rtmpose, load_checkpoint
        from pose_perception.runtime.export import export_onnx

        model = load_checkpoint(build_rtmpose(info.arch, info.num_keypoints), checkpoint)
        export_onnx(model, info, onnx_path)
    return onnx_path
