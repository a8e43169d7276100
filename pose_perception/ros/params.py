"""ROS parameters <-> the typed ``Config``, declared 1:1 from the config dataclasses.

Every config field ``<section>.<field>`` is a parameter with a descriptor built from the
field's ``setting()`` metadata (description, range, choices, read-only), so the node,
the YAML file and ``ros2 param describe`` agree. Values are checked by the same
``Config.validate`` the CLI uses; bad values are refused with a reason, never clamped.
A list setting (tuple-of-floats default, :func:`pose_perception.settings.is_list_setting`)
is a double-array parameter; ROS types arrays strictly, so write ``0.0``, not ``0``.
rclpy is imported only inside the functions that need it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pose_perception.config import Config
from pose_perception.config_loader import from_dict
from pose_perception.settings import is_list_setting

if TYPE_CHECKING:
    from rclpy.node import Node


class ParameterError(ValueError):
    """A parameter value the node cannot start with (the message names the parameter)."""


@dataclass(frozen=True)
class ParamSpec:
    name: str  # "<section>.<field>"
    default: Any
    kind: type
    description: str
    min: float | None
    max: float | None
    choices: tuple[str, ...]
    read_only: bool


def param_specs(config: Config | None = None) -> list[ParamSpec]:
    """One spec per config field, defaults taken from ``config`` (or the dataclass defaults)."""
    config = config if config is not None else Config()
    specs = []
    for section in dataclasses.fields(config):
        section_value = getattr(config, section.name)
        for f in dataclasses.fields(section_value):
            meta = f.metadata
            value = getattr(section_value, f.name)
            specs.append(
                ParamSpec(
                    name=f"{section.name}.{f.name}",
                    default=value,
                    kind=tuple if is_list_setting(f) else type(value),
                    description=meta.get("description", ""),
                    min=meta.get("min"),
                    max=meta.get("max"),
                    choices=tuple(meta.get("choices", ())),
                    read_only=bool(meta.get("read_only", False)),
                )
            )
    return specs


def config_from_values(values: dict[str, Any]) -> Config:
    """``{"estimator.model": ..., ...}`` -> validated ``Config`` (ParameterError names the key)."""
    nested: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        section, _, key = name.partition(".")
        nested.setdefault(section, {})[key] = value
    try:
        config = from_dict(Config, nested)
        config.validate()
    except ValueError as err:
        raise ParameterError(str(err)) from None
    return config


def config_values(config: Config) -> dict[str, Any]:
    return {spec.name: spec.default for spec in param_specs(config)}


# ------------------------------------------------------------------------ rclpy side


def descriptor(spec: ParamSpec) -> Any:
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER}
    types.update({float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING})
    types[tuple] = ParameterType.PARAMETER_DOUBLE_ARRAY
    desc = ParameterDescriptor(
        name=spec.name, type=types[spec.kind], description=spec.description, read_only=spec.read_only
    )
    if spec.choices:
        desc.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.kind is tuple:  # ROS ranges are for scalars: state the length and element range
        desc.additional_constraints = f"{_list_text(spec)}; elements in [{spec.min}, {spec.max}]"
        return desc
    if spec.kind is int and (spec.min is not None or spec.max is not None):
        lo = int(spec.min) if spec.min is not None else -(2**63)
        hi = int(spec.max) if spec.max is not None else 2**63 - 1
        desc.integer_range = [IntegerRange(from_value=lo, to_value=hi, step=0)]
    elif spec.kind is float and (spec.min is not None or spec.max is not None):
        lo_f = float(spec.min) if spec.min is not None else -1e308
        hi_f = float(spec.max) if spec.max is not None else 1e308
        desc.floating_point_range = [FloatingPointRange(from_value=lo_f, to_value=hi_f, step=0.0)]
    return desc


def declare_config(node: Node, defaults: Config | None = None) -> Config:
    """Declare all parameters (values from --params-file / -p override the defaults) and
    return the validated config; ParameterError with the parameter's name otherwise."""
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException

    values = {}
    for spec in param_specs(defaults):
        try:
            param = node.declare_parameter(spec.name, spec.default, descriptor(spec))
        except InvalidParameterTypeException as err:
            expected = f"a {spec.kind.__name__} value"
            if spec.kind is tuple:
                expected = f"{_list_text(spec)} (write 0.0, not 0)"
            raise ParameterError(f"{spec.name}: expected {expected} ({err})") from None
        except InvalidParameterValueException as err:
            raise ParameterError(f"{spec.name}: {_range_text(spec)} ({err})") from None
        values[spec.name] = param.value
    try:
        return config_from_values(values)
    except ParameterError as err:
        raise ParameterError(f"invalid parameters: {err}") from None


def _list_text(spec: ParamSpec) -> str:
    example = ", ".join(str(v) for v in spec.default)
    return f"a list of {len(spec.default)} floats, e.g. [{example}]"


def _range_text(spec: ParamSpec) -> str:
    return f"must be in [{spec.min}, {spec.max}]"


def updated_config(current: Config, changes: dict[str, Any]) -> Config:
    """``current`` with ``changes`` applied, validated (for set-parameter requests)."""
    values = config_values(current)
    unknown = sorted(set(changes) - set(values))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}")
    values.update(changes)
    return config_from_values(values)
