"""``setting()``: a dataclass field that carries what a user and a ROS parameter need.

Kept apart from ``config.py`` so the core modules (tracking, smoothing, detection) can
declare their own settings without importing the whole configuration.

A setting whose default is a tuple of floats is a fixed-length list of numbers (a ROS
double-array parameter, a YAML list): :func:`float_tuple` normalises what YAML or ROS
hand over (list, tuple, ``array.array``) and :func:`check_settings` checks its length,
that every element is a finite number of the default's element type and, per element,
``min``/``max``. The node's ``Config`` and the training configs declare fields this way;
``config_loader`` turns YAML into them.

Every float setting must be finite: NaN slips through ``value < min`` (a NaN score threshold
would switch a filter off, a NaN timeout keep tracks forever) and no setting needs ±inf.
Errors name the setting (``section.key`` when given ``where``) and show at most
:data:`MAX_SHOWN` characters of the value (:func:`shown`): a value can be megabytes.
"""

from __future__ import annotations

import array
import dataclasses
import math
import reprlib
from numbers import Real
from typing import Any

import numpy as np

MAX_SHOWN = 80  # characters of a value an error message shows


def _bounded_repr() -> reprlib.Repr:
    """A ``repr`` that stops early in long containers and strings (cheap on any size)."""
    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother = 3, MAX_SHOWN, MAX_SHOWN
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxarray = 8
    return r


_REPR = _bounded_repr()


def clipped(text: str) -> str:
    """``text`` cut to :data:`MAX_SHOWN` characters (``...`` marks the cut)."""
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def shown(value: Any) -> str:
    """``repr(value)`` for an error message, at most :data:`MAX_SHOWN` characters whatever its size."""
    try:
        return clipped(_REPR.repr(value))
    except ValueError:  # an int too long to print (Python >= 3.11 limits int <-> str digits)
        return f"<a {type(value).__name__} too long to show>"


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
    A tuple-of-floats ``default`` makes a list setting of that length (see the module doc).
    """
    metadata = {
        "description": description,
        "min": min,
        "max": max,
        "choices": choices,
        "read_only": read_only,
    }
    return dataclasses.field(default=default, metadata=metadata)


def is_list_setting(f: dataclasses.Field[Any]) -> bool:
    """Whether field ``f`` is a fixed-length list of numbers (its default is a tuple)."""
    return isinstance(f.default, tuple)


def float_tuple(value: Any) -> Any:
    """A list/tuple/``array.array``/ndarray of real numbers as a tuple of floats; any other
    value unchanged, for :func:`check_settings` to reject with the setting's name."""
    if isinstance(value, (list, tuple, array.array, np.ndarray)):
        items = list(np.asarray(value).reshape(-1)) if isinstance(value, np.ndarray) else list(value)
        if all(isinstance(v, Real) and not isinstance(v, bool) for v in items):
            return tuple(float(v) for v in items)
    return value


def normalise_list_settings(obj: Any) -> None:
    """Store every list setting of dataclass ``obj`` as a tuple of floats (call it from
    ``__post_init__``: YAML gives lists, ROS lists or arrays, code may give tuples)."""
    for f in dataclasses.fields(obj):
        if is_list_setting(f):
            object.__setattr__(obj, f.name, float_tuple(getattr(obj, f.name)))


def _check_list(f: dataclasses.Field[Any], name: str, value: Any) -> None:
    assert isinstance(f.default, tuple)
    length, element = len(f.default), type(f.default[0])  # float, or int (e.g. training's hsv_deltas)
    if not (
        isinstance(value, tuple)
        and len(value) == length
        and all(isinstance(v, element) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        noun = "integers" if element is int else "finite numbers"
        raise ValueError(f"{name} must be a list of {length} {noun}, got {shown(_listed(value))}")
    meta = f.metadata
    for v in value:
        if meta.get("min") is not None and v < meta["min"]:
            raise ValueError(f"{name} elements must be >= {meta['min']}, got {shown(list(value))}")
        if meta.get("max") is not None and v > meta["max"]:
            raise ValueError(f"{name} elements must be <= {meta['max']}, got {shown(list(value))}")


def _check_scalar(meta: Any, name: str, value: Any) -> None:
    if meta.get("choices") and value not in meta["choices"]:
        raise ValueError(f"{name} must be one of {list(meta['choices'])}, got {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if meta.get("min") is not None and value < meta["min"]:
        raise ValueError(f"{name} must be >= {meta['min']}, got {shown(value)}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ValueError(f"{name} must be <= {meta['max']}, got {shown(value)}")


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def check_settings(obj: Any, where: str = "") -> None:
    """Reject NaN/inf floats and values outside a field's declared range or choices (never
    clamp); errors name the field, as ``where.field`` when ``where`` (the section) is given."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{where}.{f.name}" if where else f.name
        if dataclasses.is_dataclass(value):
            check_settings(value, name)
        elif is_list_setting(f):
            _check_list(f, name, value)
        else:
            _check_scalar(f.metadata, name, value)


def settings_help(obj: Any, prefix: str = "") -> str:
    """One line per setting of dataclass ``obj`` (nested sections dotted): ``key = default:
    description``, for ``--help`` epilogs of the commands that read a config YAML."""
    lines = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            lines.append(settings_help(value, f"{prefix}{f.name}."))
        else:
            default = _listed(value)
            lines.append(f"  {prefix}{f.name} = {default!r}: {f.metadata.get('description', '')}")
    return "\n".join(lines)
