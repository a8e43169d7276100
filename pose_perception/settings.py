"""``setting()``: a dataclass field that carries what a user and a ROS parameter need.

Kept apart from ``config.py`` so the core modules (tracking, smoothing, detection) can
declare their own settings without importing the whole configuration.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def setting(
    default: Any,
    description: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] = (),
    read_only: bool = False,
) -> Any:
    """A config field with what a user (and a ROS parameter descriptor) needs to know.

    ``min``/``max``/``choices`` are checked by :func:`check_settings`; the ROS layer turns
    the same metadata into parameter descriptors, so both reject the same values.
    ``read_only``: only settable at startup (changing it would need a restart).
    """
    metadata = {
        "description": description,
        "min": min,
        "max": max,
        "choices": choices,
        "read_only": read_only,
    }
    return dataclasses.field(default=default, metadata=metadata)


def check_settings(obj: Any) -> None:
    """Reject values outside a field's declared range or choices (never clamp)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        meta = f.metadata
        if dataclasses.is_dataclass(value):
            check_settings(value)
            continue
        if meta.get("choices") and value not in meta["choices"]:
            raise ValueError(f"{f.name} must be one of {list(meta['choices'])}, got {value!r}")
        if meta.get("min") is not None and value < meta["min"]:
            raise ValueError(f"{f.name} must be >= {meta['min']}, got {value}")
        if meta.get("max") is not None and value > meta["max"]:
            raise ValueError(f"{f.name} must be <= {meta['max']}, got {value}")
