"""``torch.load`` with ``weights_only=True`` that still opens official MMEngine checkpoints.

Published MMPose checkpoints carry a ``meta`` dict with numpy arrays and, sometimes,
MMEngine objects. The weights-only unpickler refuses those globals. We allow numpy's
array-reconstruction helpers (pure data) and stand in inert placeholder classes for
anything else, so no foreign code ever runs while the tensors load.
"""

from __future__ import annotations

import os
from typing import Any

import torch

_NUMPY_DATA_GLOBALS = (
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.ndarray",
    "numpy.dtype",
)


class InertPlaceholder:
    """Stands in for an unknown pickled class: stores its arguments/state, runs nothing."""

    qualified_name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<placeholder for {self.qualified_name}>"


def _allowed_global(qualified: str) -> Any:
    module, _, attr = qualified.rpartition(".")
    if qualified in _NUMPY_DATA_GLOBALS or qualified.startswith("numpy.dtypes."):
        import importlib

        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            pass
    placeholder = type(attr or "Unknown", (InertPlaceholder,), {"qualified_name": qualified})
    return (placeholder, qualified)


def _numpy_dtype_classes() -> list[Any]:
    """Rebuilding a numpy dtype needs its ``numpy.dtypes.*DType`` class, which
    ``get_unsafe_globals_in_checkpoint`` does not report; they are plain data types."""
    import numpy as np

    return [
        cls for name in getattr(np.dtypes, "__all__", []) if isinstance(cls := getattr(np.dtypes, name), type)
    ]


def safe_torch_load(path: str | os.PathLike[str]) -> Any:
    """Load a torch file with the weights-only unpickler; fail with the path on errors."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        extra = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as err:  # not a zip checkpoint or corrupt
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({err})") from err
    allowed = [_allowed_global(name) for name in extra]
    if any(name.startswith("numpy.") for name in extra):
        allowed += _numpy_dtype_classes()
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, map_location="cpu", weights_only=True)
