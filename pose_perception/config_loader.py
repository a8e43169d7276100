"""The one YAML → dataclass loader, shared by the node/CLI ``Config`` and the training configs.

Rules, the same for every config (``test_config_loader.py`` checks each once):

- the file is UTF-8, at most ``MAX_CONFIG_BYTES``, read by ``yaml.safe_load``'s rules without
  aliases (``*name``: a 400-byte file of nested aliases expands to 10⁹ values; ROS parameter
  files cannot have them, nor does any config need them) and at most ``MAX_DEPTH`` levels
  deep; an empty file is ``{}``;
- a mapping per dataclass; an unknown key is an error naming ``section.key``; keys left out
  keep the value of ``base`` (the dataclass defaults unless given);
- ``bool`` only for ``bool``; ``int`` (not ``bool``) for ``int``; ``int`` or ``float`` (not
  ``bool``) for ``float``, stored as ``float``; ``str`` only for ``str``;
- ``X | None``: ``None`` (YAML ``null``) or an ``X``; other unions: the first member that fits
  (scalars, tuples and lists only);
- ``tuple[A, B]``: a list (YAML) or tuple/array (ROS) of exactly that length, each element by
  these rules; ``tuple[A, ...]`` and ``list[A]``: any length;
- a nested dataclass: a mapping, loaded by these rules from the base's value.

Errors are ``ValueError("<section.key> must be ..., got <value>")`` (at most
``settings.MAX_SHOWN`` characters of the value); the loaders that read a file put the file's
path in front. Every YAML file the package reads (node, CLI, training and lifter configs,
skeletons) goes through :func:`read_yaml`. Ranges and choices are :func:`settings.check_settings`'s job.
"""

from __future__ import annotations

import array
import dataclasses
import difflib
import os
import types
import typing
from typing import Any, TypeVar

import numpy as np
import yaml
from yaml.composer import ComposerError

from pose_perception.settings import clipped, shown

T = TypeVar("T")

MAX_CONFIG_BYTES = 1 << 20  # a config is a few kB; refuse to parse anything near this
MAX_DEPTH = 32  # nesting levels; the configs use 3, and deeper ones exhaust Python's recursion

_SCALAR_NAMES = {bool: "a bool", int: "an int", float: "a number", str: "a string"}
_SEQUENCES = (list, tuple, array.array, np.ndarray)  # YAML lists, code tuples, ROS arrays


def read_yaml(path: str | os.PathLike[str], kind: str = "config") -> dict[str, Any]:
    """The mapping in YAML file ``path`` (``{}`` if empty); ``ValueError`` naming the file (and
    ``kind``, what it should be) otherwise."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ValueError(f"larger than {MAX_CONFIG_BYTES} bytes")
        data = yaml.load(_utf8(raw), Loader=_BoundedLoader)  # a SafeLoader
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read {kind} {path}: {err}") from None
    except yaml.YAMLError as err:
        raise ValueError(f"cannot read {kind} {path}: {_one_line(err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"cannot read {kind} {path}: expected a mapping, got {type(data).__name__}")
    return data


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})") from None


def _one_line(err: yaml.YAMLError) -> str:
    """PyYAML's error without its multi-line source excerpt: what is wrong, and where."""
    if not isinstance(err, yaml.MarkedYAMLError) or err.problem is None:
        return clipped(" ".join(str(err).split()))
    mark = err.problem_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return clipped(" ".join(str(part) for part in (err.context, err.problem) if part)) + where


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases and nesting deeper than ``MAX_DEPTH`` (see the
    module doc): what it builds is never larger than the file."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None, None, f"aliases (*{clipped(str(event.anchor))}) are not allowed", event.start_mark
            )
        if self._depth >= MAX_DEPTH:
            raise ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_dataclass(
    cls: type[T], path: str | os.PathLike[str] | None, overrides: dict[str, Any] | None = None
) -> T:
    """``cls`` from YAML file ``path`` (none: the defaults), top-level ``overrides`` applied;
    errors name the file."""
    data = read_yaml(path) if path is not None else {}
    data.update(overrides or {})
    try:
        return from_dict(cls, data)
    except ValueError as err:
        raise ValueError(f"{path or cls.__name__}: {err}") from None


def from_dict(cls: type[T], data: Any, *, base: T | None = None, where: str = "") -> T:
    """Dataclass ``cls`` from plain data: ``base`` (default ``cls()``) with ``data``'s keys replaced."""
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__} must be a mapping, got {shown(data)}")
    assert dataclasses.is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(str(key) for key in set(data) - set(known))
    if unknown:
        named = clipped(", ".join(_dotted(where, key) for key in unknown[:10]))
        named += f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else ""
        close = difflib.get_close_matches(unknown[0], known, n=1)
        named += f" (did you mean {close[0]}?)" if close else ""
        # The known keys clipped: a long section (tracker) would not fit one readable line.
        listed = clipped(", ".join(known))
        raise ValueError(f"unknown key(s) {named}; known in {where or cls.__name__}: {listed}")
    start = cls() if base is None else base
    values = {key: coerce(hints[key], v, _dotted(where, key), getattr(start, key)) for key, v in data.items()}
    try:
        return dataclasses.replace(start, **values)  # type: ignore[type-var]
    except ValueError as err:  # a check in __post_init__: it names the key within the section
        raise ValueError(_dotted(where, err)) from None


def coerce(hint: Any, value: Any, where: str, base: Any = None) -> Any:
    """``value`` as type ``hint`` by the module's rules; ``base`` seeds a nested dataclass."""
    if dataclasses.is_dataclass(hint):
        return from_dict(typing.cast(type, hint), value, base=base, where=where)
    try:
        return _convert(hint, value)
    except _Mismatch:
        raise ValueError(f"{where} must be {_expected(hint)}, got {shown(_as_written(value))}") from None
    except TypeError as err:
        raise TypeError(f"{where}: {err}") from None


class _Mismatch(Exception):
    """``value`` does not fit ``hint``; :func:`coerce` says so with the key and the value."""


def _convert(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin in (tuple, list):
        items = list(np.asarray(value).reshape(-1)) if isinstance(value, np.ndarray) else value
        hints = _item_hints(hint, len(items) if isinstance(value, _SEQUENCES) else -1)
        if not isinstance(value, _SEQUENCES) or hints is None:
            raise _Mismatch
        converted = [_convert(h, item) for h, item in zip(hints, items, strict=True)]
        return tuple(converted) if origin is tuple else converted
    if hint in _SCALAR_NAMES:
        return _convert_scalar(hint, value)
    raise TypeError(f"the config loader has no rule for fields of type {hint}")


def _item_hints(hint: Any, length: int) -> list[Any] | None:
    """The element types of a ``length``-long ``tuple[...]``/``list[...]``; ``None``: wrong length."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is list or (len(args) == 2 and args[1] is ...):
        return [args[0]] * max(length, 0)
    return list(args) if length == len(args) else None


def _convert_scalar(hint: type, value: Any) -> Any:
    if isinstance(value, np.generic):  # an element of a ROS/numpy array
        value = value.item()
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not hint:
        raise _Mismatch
    return value


def _expected(hint: Any) -> str:
    """What a value of type ``hint`` looks like in YAML, for error messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _expected(a) for a in args)
    if origin is list or (origin is tuple and len(args) == 2 and args[1] is ...):
        return f"a list of {_plural(args[0])}"
    if origin is tuple:
        if any(a != args[0] for a in args):
            return f"a list of {len(args)} values ({', '.join(_expected(a) for a in args)})"
        return f"a list of {len(args)} {_plural(args[0])}"
    return _SCALAR_NAMES.get(hint, str(hint))


def _plural(hint: Any) -> str:
    return {float: "finite numbers", int: "integers", str: "strings", bool: "bools"}.get(hint, "values")


def _as_written(value: Any) -> Any:
    """``value`` as the user wrote it: a list for a tuple or a ROS/numpy array."""
    if isinstance(value, (array.array, np.ndarray)):
        return value.tolist()
    return list(value) if isinstance(value, tuple) else value


def _dotted(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)
