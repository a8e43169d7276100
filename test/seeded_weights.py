"""Seeded fixture weights: a state_dict regenerated bit-exactly from (seed, key, shape, dtype).

The vendored fixtures (``test/fixtures/family/``) hold only key lists and MMPose's reference
outputs; the weights come back from numpy alone by the recipe of the fixtures' README
("Seeded weights"), so the repository needs no multi-MB checkpoint.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

FAMILY_DIR = Path(__file__).resolve().parent / "fixtures" / "family"


def read_key_list(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    """(key, shape, dtype) per line of a tab-separated ``keys_<name>.txt``, in state_dict order."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, shape, dtype = line.split("\t")
        entries.append((key, tuple(int(v) for v in shape.strip("()").split(",") if v.strip()), dtype))
    return entries


def seeded_array(seed: int, key: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """One entry of the recipe: non-float entries are 0, float ones drawn per key from ``seed``."""
    if not np.issubdtype(np.dtype(dtype), np.floating):
        return np.zeros(shape, dtype)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(key.encode())])))
    if key.endswith("running_var"):
        values = 0.5 + rng.random(shape)
    elif key.endswith(("running_mean", "bias")):
        values = 0.1 * rng.standard_normal(shape)
    elif len(shape) >= 2:
        values = rng.standard_normal(shape) / math.sqrt(math.prod(shape[1:]))
    else:
        values = 1.0 + 0.2 * rng.standard_normal(shape)
    return np.asarray(values).astype(np.float32)


def seeded_state_dict(name: str, seed: int) -> dict[str, Any]:
    """The torch state_dict of fixture ``name`` (official MMPose key names)."""
    import torch

    return {
        key: torch.from_numpy(seeded_array(seed, key, shape, dtype))
        for key, shape, dtype in read_key_list(FAMILY_DIR / f"keys_{name}.txt")
    }


def fixture_seed(name: str) -> int:
    """The seed stored in the fixture's reference file (so it is written down once)."""
    with np.load(FAMILY_DIR / f"ref_pipeline_{name}.npz") as ref:
        return int(ref["seed"])


def write_seeded_checkpoint(name: str, path: Path) -> Path:
    """Save fixture ``name``'s seeded weights as a plain state_dict ``.pth`` (the official format)."""
    import torch

    torch.save(seeded_state_dict(name, fixture_seed(name)), path)
    return path
