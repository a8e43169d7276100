"""``torch.load`` with ``weights_only=True`` that still opens official MMEngine checkpoints.

Published MMPose checkpoints carry a ``meta`` dict with numpy arrays and, sometimes,
MMEngine objects. The weights-only unpickler refuses those globals. We allow numpy's
pure-data globals (arrays, scalars, dtypes) and stand in inert placeholder classes for
foreign classes, so no foreign code ever runs while the tensors load. A file that names
code no weights file needs (``os``/``posix``/``sys``, any other numpy function) is refused
with one line naming it: :class:`UnsafeCheckpointError`, a ``ValueError`` like every other
unreadable checkpoint.
"""

from __future__ import annotations

import importlib
import os
import pickle
from typing import Any

import torch

# The numpy globals that pickled arrays, scalars and dtypes are made of; each only builds data:
# - multiarray._reconstruct(ndarray, shape, dtype): an empty array, filled by ndarray.__setstate__;
# - multiarray.scalar(dtype, bytes): a numpy scalar such as np.float64(0.68) from its raw bytes;
# - ndarray, dtype: the classes, built from shapes / type codes, their state set by numpy itself.
# (numpy 1.x pickles name numpy.core, numpy 2 numpy._core.) Besides these, the numpy.dtypes.*DType
# classes are allowed (see _numpy_dtype_classes); every other numpy global (e.g. the function
# numpy.dtypes._add_dtype_helper, which rebinds numpy dtype classes) is refused.
_NUMPY_DATA_GLOBALS = (
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.ndarray",
    "numpy.dtype",
)
# Modules torch's weights-only unpickler refuses outright: they can only be there to run code.
_CODE_MODULES = ("os", "posix", "nt", "sys")
# The lines around the reason in torch's weights-only errors (the first advises weights_only=False).
_TORCH_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation")


class UnsafeCheckpointError(ValueError):
    """A checkpoint names code rather than data: refused before anything in it runs."""


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


def _numpy_data_global(qualified: str) -> Any | None:
    """The numpy object behind an allowed pure-data name, None for any other name or one this
    numpy lacks (numpy 1.x has no ``numpy._core``)."""
    if qualified not in _NUMPY_DATA_GLOBALS:
        return next((cls for cls in _numpy_dtype_classes() if _qualified_name(cls) == qualified), None)
    module, _, attr = qualified.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def _numpy_dtype_classes() -> list[type]:
    """The ``numpy.dtypes.*DType`` classes (numpy >= 1.25): rebuilding a dtype needs its class,
    which ``get_unsafe_globals_in_checkpoint`` does not report. They are dtypes, i.e. data."""
    import numpy as np

    dtypes = getattr(np, "dtypes", None)
    classes = (getattr(dtypes, name, None) for name in getattr(dtypes, "__all__", []))
    return [cls for cls in classes if isinstance(cls, type) and issubclass(cls, np.dtype)]


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


def _is_refused(qualified: str) -> bool:
    """Code rather than data: a global from a code module, or a numpy global that is not data."""
    root = qualified.partition(".")[0]
    if root in _CODE_MODULES:
        return True
    return root == "numpy" and qualified not in _NUMPY_DATA_GLOBALS and _numpy_data_global(qualified) is None


def _allowed_global(qualified: str) -> Any:
    """The real numpy data global, else an inert placeholder (as torch's ``(class, name)`` pair)."""
    found = _numpy_data_global(qualified) if qualified.startswith("numpy.") else None
    if found is not None:
        return found
    attr = qualified.rpartition(".")[2]
    placeholder = type(attr or "Unknown", (InertPlaceholder,), {"qualified_name": qualified})
    return (placeholder, qualified)


def _one_line(err: BaseException) -> str:
    """torch's unpickling messages span lines and advise ``weights_only=False``: keep the reason."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith(_TORCH_BOILERPLATE)]
    return (reasons or lines or [type(err).__name__])[0]


def safe_torch_load(path: str | os.PathLike[str]) -> Any:
    """Load a torch file with the weights-only unpickler; fail with the path on errors."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        extra = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as err:  # not a zip checkpoint or corrupt
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({_one_line(err)})") from err
    refused = sorted(name for name in extra if _is_refused(name))
    if refused:
        raise UnsafeCheckpointError(
            f"{path}: refused: it calls or builds {', '.join(refused)}, which no weights file needs "
            "(nothing was run)"
        )
    allowed = [_allowed_global(name) for name in extra]
    if any(name.startswith("numpy.") for name in extra):
        allowed += _numpy_dtype_classes()
    with torch.serialization.safe_globals(allowed):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            reason = _one_line(err)
            raise UnsafeCheckpointError(f"{path}: refused by the weights-only loader: {reason}") from err
        except Exception as err:  # a damaged archive, or data the tensor rebuilders reject
            raise ValueError(f"{path}: not a readable PyTorch checkpoint ({_one_line(err)})") from err
