"""The one YAML → dataclass loader (``pose_perception.config_loader``): its rules, checked once,
and that the node's ``Config`` and the training configs both go through it."""

from __future__ import annotations

import array
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pose_perception.config import Config
from pose_perception.config_loader import MAX_CONFIG_BYTES, from_dict, load_dataclass, read_yaml
from pose_perception.settings import check_settings, setting


@dataclass(frozen=True)
class Inner:
    ratio: float = setting(0.5, "a fraction", min=0.0, max=1.0)
    name: str = setting("a", "a name")


@dataclass(frozen=True)
class Outer:
    count: int = setting(1, "a count", min=0)
    scale: float = setting(1.0, "a scale")
    enabled: bool = setting(True, "a switch")
    size: tuple[int, int] | None = setting(None, "optional pair")
    range_: tuple[float, float] = setting((0.0, 1.0), "a pair of numbers")
    values: tuple[float, ...] = setting((), "any number of numbers")
    names: list[str] = dataclasses.field(default_factory=list)
    limit: float | None = setting(None, "optional number")
    inner: Inner = Inner()
    second: Inner = Inner(ratio=0.25, name="b")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"scale": 2}, {"scale": 2.0}),  # int accepted for float, stored as float
        ({"count": 3}, {"count": 3}),
        ({"size": [4, 5]}, {"size": (4, 5)}),  # a YAML list for a tuple of the right length
        ({"size": None}, {"size": None}),
        ({"range_": [1, 2.5]}, {"range_": (1.0, 2.5)}),
        ({"range_": array.array("d", [0.5, 0.75])}, {"range_": (0.5, 0.75)}),  # a ROS double array
        ({"range_": np.array([0.5, 0.75])}, {"range_": (0.5, 0.75)}),
        ({"values": [1, 2, 3]}, {"values": (1.0, 2.0, 3.0)}),
        ({"values": []}, {"values": ()}),
        ({"names": ["x", "y"]}, {"names": ["x", "y"]}),
        ({"limit": 3}, {"limit": 3.0}),
        ({"limit": None}, {"limit": None}),
    ],
)
def test_values_are_coerced_by_the_rules(data: dict[str, Any], expected: dict[str, Any]) -> None:
    loaded = from_dict(Outer, data)
    for key, value in expected.items():
        assert getattr(loaded, key) == value and type(getattr(loaded, key)) is type(value)
    untouched = set(dataclasses.asdict(Outer())) - set(data)
    assert all(getattr(loaded, k) == getattr(Outer(), k) for k in untouched)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"count": True}, "count must be an int, got True"),  # bool never accepted for int
        ({"count": 1.0}, "count must be an int, got 1.0"),
        ({"scale": False}, "scale must be a number, got False"),
        ({"scale": "1"}, "scale must be a number, got '1'"),
        ({"enabled": 1}, "enabled must be a bool, got 1"),
        ({"enabled": "yes"}, "enabled must be a bool"),
        ({"size": [1, 2, 3]}, "size must be a list of 2 integers or null, got [1, 2, 3]"),
        ({"size": [1, 2.5]}, "size must be a list of 2 integers"),
        ({"size": 3}, "size must be a list of 2 integers"),
        ({"range_": [0.0]}, "range_ must be a list of 2 finite numbers, got [0.0]"),
        ({"range_": [True, 1.0]}, "range_ must be a list of 2 finite numbers"),
        ({"range_": "0 1"}, "range_ must be a list of 2 finite numbers"),
        ({"names": "x"}, "names must be a list of strings"),
        ({"limit": "high"}, "limit must be a number or null, got 'high'"),
        ({"inner": {"ratio": "half"}}, "inner.ratio must be a number"),
        ({"inner": 3}, "inner must be a mapping"),
        ({"inner": {"typo": 1}}, "unknown key(s) inner.typo"),
        ({"typo": 1, "other": 2}, "unknown key(s) other, typo"),
    ],
)
def test_wrong_values_name_the_dotted_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        from_dict(Outer, data)
    assert message in str(err.value)


def test_a_partial_nested_mapping_keeps_the_rest_of_its_default() -> None:
    loaded = from_dict(Outer, {"second": {"name": "c"}, "inner": {"ratio": 1}})
    assert loaded.second == Inner(ratio=0.25, name="c")  # not Inner()'s ratio
    assert loaded.inner == Inner(ratio=1.0)


def test_ranges_are_check_settings_job_not_the_loaders() -> None:
    loaded = from_dict(Outer, {"inner": {"ratio": 2}})  # types fine: loaded ...
    with pytest.raises(ValueError, match=r"ratio must be <= 1.0, got 2.0"):
        check_settings(loaded.inner)  # ... and refused by the declared range


def test_unsupported_field_types_are_a_programming_error() -> None:
    @dataclass
    class Odd:
        mapping: dict[str, int] = dataclasses.field(default_factory=dict)

    with pytest.raises(TypeError, match="mapping: the config loader has no rule"):
        from_dict(Odd, {"mapping": {"a": 1}})


def test_files_are_bounded_and_named_in_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert read_yaml(empty) == {} and load_dataclass(Outer, empty) == Outer()
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"big\.yaml.*larger than"):
        read_yaml(big)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"list\.yaml.*expected a mapping"):
        read_yaml(listed)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("count: !!python/object/apply:os.getcwd []\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unsafe\.yaml"):
        read_yaml(unsafe)
    bad = tmp_path / "bad.yaml"
    bad.write_text("inner:\n  ratio: [1]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^\S*bad\.yaml: inner\.ratio must be a number, got \[1\]$"):
        load_dataclass(Outer, bad)
    assert load_dataclass(Outer, None, {"count": 4}).count == 4


def _plain(value: Any) -> Any:
    """What YAML hands over for ``value``: lists for tuples, mappings for dataclasses."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def _training_configs() -> list[Any]:
    pytest.importorskip("torch")
    from pose_perception.training.config import TrainConfig
    from pose_perception.training.lifter import LifterConfig

    return [TrainConfig(input_size=(192, 256), sigma=(4.9, 5.66), grad_clip=1.0), LifterConfig()]


@pytest.mark.parametrize("which", ["node", "training"])
def test_every_config_round_trips_through_plain_data(which: str) -> None:
    """The node's Config and the training configs use the same loader: every field type they
    declare has a rule, and their defaults survive YAML-shaped data unchanged."""
    configs = [Config()] if which == "node" else _training_configs()
    for config in configs:
        assert from_dict(type(config), _plain(config)) == config


def test_training_configs_declare_every_field_with_a_description() -> None:
    """As the node's settings do: the description is what ``--help``/docs show for a key."""
    sections = _training_configs()
    sections += [getattr(c, f.name) for c in sections for f in dataclasses.fields(c)]
    for section in filter(dataclasses.is_dataclass, sections):
        for f in dataclasses.fields(section):
            assert dataclasses.is_dataclass(getattr(section, f.name)) or f.metadata.get("description"), f.name


def test_training_configs_use_the_same_rules(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from pose_perception.training.config import load_config
    from pose_perception.training.lifter import load_lifter_config

    path = tmp_path / "train.yaml"
    path.write_text("input_size: [192, 256]\nlr: 1\naugment:\n  scale_range: [1, 2]\n", encoding="utf-8")
    cfg = load_config(path, epochs=3)
    assert (cfg.input_size, cfg.lr, cfg.augment.scale_range, cfg.epochs) == ((192, 256), 1.0, (1.0, 2.0), 3)
    path.write_text("augment:\n  hsv_deltas: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.yaml: augment\.hsv_deltas must be a list of 3 integers"):
        load_config(path)
    path.write_text("augment:\n  flip_prob: 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.yaml: augment\.flip_prob must be <= 1.0"):
        load_config(path)
    path.write_text("fps: [10, 20]\nchannels: 1.5\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.yaml: channels must be an int, got 1\.5"):
        load_lifter_config(str(path))
    assert load_lifter_config(None, seed=3, iters=None).seed == 3


def test_settings_help_lists_nested_keys_with_defaults_and_descriptions() -> None:
    from pose_perception.settings import settings_help

    lines = settings_help(Outer()).splitlines()
    assert "  count = 1: a count" in lines
    assert "  range_ = [0.0, 1.0]: a pair of numbers" in lines
    assert "  second.ratio = 0.25: a fraction" in lines


def test_list_settings_keep_their_element_type() -> None:
    """check_settings: a tuple setting's elements are of its default's type (int tuples stay ints)."""

    @dataclass(frozen=True)
    class Pairs:
        sizes: tuple[int, int] = setting((1, 2), "integers", min=0)
        ratios: tuple[float, float] = setting((0.5, 1.0), "numbers", min=0.0)

    check_settings(Pairs(sizes=(3, 4), ratios=(np.float64(0.1), 2.0)))
    for bad, message in [
        (Pairs(sizes=(3.0, 4.0)), r"sizes must be a list of 2 integers"),  # type: ignore[arg-type]
        (Pairs(sizes=(True, 4)), r"sizes must be a list of 2 integers"),
        (Pairs(ratios=(float("nan"), 1.0)), r"ratios must be a list of 2 finite numbers"),
        (Pairs(sizes=(-1, 4)), r"sizes elements must be >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_settings(bad)
