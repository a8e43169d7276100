"""Hostile config input: every YAML entry point refuses alias bombs, deep nesting and
non-UTF-8 bytes with one short line naming the file; every float setting refuses NaN and
±inf, wherever the value comes from (YAML, dataclass, CLI flag, ROS parameter); errors
name ``section.key`` and never show more than ``settings.MAX_SHOWN`` characters of a value."""

from __future__ import annotations

import dataclasses
import math
import os
import random
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pose_perception import cli
from pose_perception.config import Config, load_config
from pose_perception.config_loader import MAX_DEPTH, from_dict, read_yaml
from pose_perception.detection import DetectorConfig
from pose_perception.ros.params import ParameterError, updated_config
from pose_perception.settings import MAX_SHOWN, shown
from pose_perception.skeletons import load_skeleton
from pose_perception.tracking import TrackerConfig

REPO = Path(__file__).resolve().parents[1]
MAX_LINE = 400  # a path, a key, a rule and MAX_SHOWN characters of the value fit in this

# (section, key) of the float settings NaN used to pass (issue 14, item 7)
NAN_SETTINGS = [
    ("estimator", "keypoint_threshold"),
    ("detector", "score_threshold"),
    ("output", "min_person_score"),
    ("detector", "box_padding"),
    ("tracker", "max_missing_s"),
]


def alias_bomb(key: str, levels: int = 9) -> str:
    """About 400 bytes of YAML whose ``key`` holds a list of ``levels`` + 1 lists, each of ten
    references to the one before: 10**levels strings in the last, all inside the value."""
    names = "abcdefghijklmnopqrstuvwxyz"
    items = ["&a [x,x,x,x,x,x,x,x,x,x]"]
    items += [f"&{names[i]} [{','.join([f'*{names[i - 1]}'] * 10)}]" for i in range(1, levels + 1)]
    section, field = key.split(".")
    return f"{section}:\n  {field}: [{', '.join(items)}]\n"


def _one_short_line(message: str, path: Path | None = None) -> None:
    assert "\n" not in message and len(message) < MAX_LINE, message[:1000]
    if path is not None:
        assert str(path) in message


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("key", ["estimator.model", "depth.extrinsic_translation_m"])  # a string, a list
def test_an_alias_bomb_is_refused_not_expanded(tmp_path: Path, key: str) -> None:
    """Run where a hang or a blow-up fails the test instead of the machine: 2 GiB of address
    space; the timeout only bounds a hang (the refusal itself is immediate)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(key), encoding="utf-8")
    assert path.stat().st_size < 450
    code = "import sys\nfrom pose_perception.config import load_config\nload_config(sys.argv[1])"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_memory,
        env=env,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: cannot read config") and "aliases (*a) are not allowed" in last
    _one_short_line(last.removeprefix("ValueError: "), path)


def _train_config(path: Path) -> Any:
    pytest.importorskip("torch")
    from pose_perception.training.config import load_config as load_train_config

    return load_train_config(path)


def _lifter_config(path: Path) -> Any:
    pytest.importorskip("torch")
    from pose_perception.training.lifter import load_lifter_config

    return load_lifter_config(str(path))


ENTRY_POINTS: dict[str, Callable[[Path], Any]] = {
    "node config": load_config,
    "training config": _train_config,
    "lifter config": _lifter_config,
    "skeleton": load_skeleton,
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"name: &n abc\nother: *n\n", "aliases (*n) are not allowed"),
        (b"name: " + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"\n", "nested deeper than"),
        (b"name: " + b"[" * 5000 + b"\n", "nested deeper than"),  # deep enough to exhaust recursion
        (b"name: caf\xe9\n", "not UTF-8 text (byte 0xe9 at offset 9)"),
    ],
)
def test_every_yaml_entry_point_uses_the_bounded_reader(
    tmp_path: Path, entry: str, content: bytes, problem: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        ENTRY_POINTS[entry](path)
    assert problem in str(err.value)
    _one_short_line(str(err.value), path)


def test_a_huge_value_gives_a_short_error(tmp_path: Path) -> None:
    """A 1 MB value used to be repeated whole in the message (7.2 MB lines at 10**6 leaves)."""
    cases = {
        "estimator": {"model": ["x" * 1000] * 900},  # wrong type
        "three_d": {"mode": "x" * 900_000},  # not a choice
        "output": {"frame_id": list(range(100_000))},
    }
    for section, values in cases.items():
        path = tmp_path / f"{section}.yaml"
        path.write_text(f"{section}: {values!r}\n".replace("'", '"'), encoding="utf-8")
        with pytest.raises(ValueError, match=rf"{section}\.") as err:
            load_config(path)
        _one_short_line(str(err.value), path)
    with pytest.raises(ValueError) as err:
        from_dict(Config, {"input": {"image_topic": np.zeros(10**6)}})
    _one_short_line(str(err.value))
    with pytest.raises(ValueError, match=r"\(and 9990 more\)") as err:
        from_dict(Config, {f"unknown_{i}": 0 for i in range(10_000)})
    _one_short_line(str(err.value))


def test_shown_is_bounded_for_any_value() -> None:
    nested: list[Any] = [[]]
    for _ in range(12):
        nested = [nested] * 10  # 10**12 leaves by reference: must not be walked
    for value in ("x" * 10**6, list(range(10**6)), {str(i): i for i in range(10**5)}, nested, 1.5):
        assert len(shown(value)) <= MAX_SHOWN
    assert shown("abc") == "'abc'" and shown([1, 2]) == "[1, 2]"
    assert len(shown(10**5000)) <= MAX_SHOWN  # str(int) refuses > 4300 digits on Python >= 3.11


@pytest.mark.parametrize(("section", "key"), NAN_SETTINGS)
@pytest.mark.parametrize("written", [".nan", ".inf", "-.inf"])
def test_nan_and_inf_are_refused_from_yaml(tmp_path: Path, section: str, key: str, written: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"{section}:\n  {key}: {written}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{section}\.{key} must be a finite number, got -?(nan|inf)$"):
        load_config(path)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_are_refused_by_the_dataclasses(value: float) -> None:
    with pytest.raises(ValueError, match="score_threshold must be a finite number"):
        DetectorConfig(score_threshold=value).validate()
    with pytest.raises(ValueError, match="max_missing_s must be a finite number"):
        TrackerConfig(max_missing_s=value).validate()
    for section, key in NAN_SETTINGS:
        config = Config()
        setattr(getattr(config, section), key, value)
        with pytest.raises(ValueError, match=rf"^{section}\.{key} must be a finite number"):
            config.validate()


def test_every_float_setting_refuses_nan() -> None:
    """Not only the five found: every float setting of the node, with or without a range."""
    checked = 0
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(getattr(Config(), section.name)):
            config = Config()
            if type(getattr(getattr(config, section.name), f.name)) is not float:
                continue
            setattr(getattr(config, section.name), f.name, math.nan)
            with pytest.raises(ValueError, match=rf"^{section.name}\.{f.name} must be a finite number"):
                config.validate()
            checked += 1
    assert checked > 20


def test_nan_is_refused_from_a_cli_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "img.png"
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    for flag, name in (
        ("--min-score", "output.min_person_score"),
        ("--threshold", "estimator.keypoint_threshold"),
    ):
        assert cli.main(["run", str(image), "--model", str(tmp_path / "none.onnx"), flag, "nan"]) == 2
        err = capsys.readouterr().err
        assert f"pose-perception: error: {name} must be a finite number, got nan" in err
        assert "Traceback" not in err


def test_nan_is_refused_by_the_ros_parameter_path() -> None:
    """``ros2 param set`` goes through ``updated_config`` -> ``Config.validate``: the same check."""
    for section, key in NAN_SETTINGS:
        with pytest.raises(ParameterError, match=rf"^{section}\.{key} must be a finite number, got nan"):
            updated_config(Config(), {f"{section}.{key}": math.nan})


def test_nan_is_refused_by_the_training_configs() -> None:
    pytest.importorskip("torch")
    from pose_perception.training.config import AugmentConfig, TrainConfig
    from pose_perception.training.lifter import LifterConfig

    with pytest.raises(ValueError, match=r"^lr must be a finite number, got nan"):
        TrainConfig(lr=math.nan)
    with pytest.raises(ValueError, match=r"^grad_clip must be a finite number, got inf"):
        TrainConfig(grad_clip=math.inf)  # an optional float, without a range
    with pytest.raises(ValueError, match=r"^flip_prob must be a finite number"):
        AugmentConfig(flip_prob=math.nan)
    with pytest.raises(ValueError, match=r"^minutes must be a finite number"):
        LifterConfig(minutes=math.inf)


def test_range_errors_name_the_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("output:\n  min_person_score: 2\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"config\.yaml: output\.min_person_score must be <= 1\.0, got 2\.0$"
    ):
        load_config(path)
    path.write_text("estimator:\n  device: gpu9\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"config\.yaml: estimator\.device: unknown device 'gpu9'"):
        load_config(path)
    with pytest.raises(ParameterError, match=r"^tracker\.min_oks must be <= 1\.0"):
        updated_config(Config(), {"tracker.min_oks": 2.0})


def _mutations(text: bytes, rng: random.Random) -> bytes:
    """``text`` with a few random edits: byte flips, cuts, hostile YAML tokens."""
    tokens = [
        b"*a", b"&a ", b".nan", b"-.inf", b"[[[[", b"{", b"!!python/object:os.system", b"\xff\xfe",
        b"1e999", b"9" * 5000, b": ", b"\n  - ", b"~", b"!!binary AAAA", b"? [a]\n: 1\n", b"\t",
    ]  # fmt: skip
    data = bytearray(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        kind = rng.randrange(3)
        if kind == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif kind == 1:
            del data[at : at + rng.randint(1, 200)]
        else:
            data[at:at] = rng.choice(tokens)
    return bytes(data)


@pytest.mark.parametrize(
    ("source", "load"),
    [("config/rtmpose.yaml", load_config), ("config/skeleton_example.yaml", load_skeleton)],
)
def test_fuzzed_files_load_or_fail_with_one_line_naming_the_file(
    tmp_path: Path, source: str, load: Callable[[Path], Any]
) -> None:
    """Seeded: a failure reproduces. Anything but a loaded config or a ValueError is a bug."""
    rng = random.Random(14)
    original = (REPO / source).read_bytes()
    path = tmp_path / "fuzzed.yaml"
    for _ in range(150):
        path.write_bytes(_mutations(original, rng))
        try:
            load(path)
        except ValueError as err:
            _one_short_line(str(err), path)


def test_read_yaml_names_what_it_reads(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("- a\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^cannot read skeleton \S*s\.yaml: expected a mapping, got list$"):
        read_yaml(path, kind="skeleton")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("keypoints: 5\n", "keypoints must be a list of strings, got 5"),
        ("keypoints: [a, [b]]\n", "keypoints must be a list of strings"),
        ("keypoints: [a, b]\nlinks: [5]\n", "links must be a list of lists, got [5]"),
        ("keypoints: [a, b]\nlinks: [[a, true]]\n", "unknown keypoint name True"),
        ("keypoints: [a]\nkeypoint_colors: [[.inf, 0, 0]]\n", "cannot convert float infinity"),
        ("keypoints: [a]\nkeypoint_colors: [[null, 0, 0]]\n", "int() argument"),
        ("keypoints: [a]\nsigmas: [.nan]\n", "sigmas must be finite and > 0"),
        ("keypoints: [a]\nsigmas: {a: 1}\n", "sigmas must be a list of numbers"),
        (f"name: {'x' * 100_000}\nkeypoints: []\n", "no keypoints"),
    ],
)
def test_malformed_skeletons_fail_with_one_line_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    """Types that used to escape as TypeError/OverflowError tracebacks, and a huge name."""
    path = tmp_path / "skeleton.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_skeleton(path)
    assert problem in str(err.value)
    _one_short_line(str(err.value), path)
