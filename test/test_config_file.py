"""config/rtmpose.yaml is scripts/gen_config.py's output: the defaults, commented from the
``setting()`` descriptions, and a parameter file that both the node and ``--config`` read."""

from __future__ import annotations

import dataclasses
import importlib.util
import types
from pathlib import Path

import pytest

from pose_perception.config import Config, load_config

REPO = Path(__file__).resolve().parents[1]
CONFIG_FILE = REPO / "config" / "rtmpose.yaml"


@pytest.fixture(scope="module")
def gen_config() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_under_test", REPO / "scripts" / "gen_config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_config_is_generated_from_the_defaults(gen_config: types.ModuleType) -> None:
    assert CONFIG_FILE.read_text(encoding="utf-8") == gen_config.config_yaml(), (
        "config/rtmpose.yaml is stale: run python scripts/gen_config.py --write config/rtmpose.yaml"
    )
    assert load_config(CONFIG_FILE) == Config()


def _key_comments(text: str) -> dict[str, str]:
    """``{"section.key": first comment line}`` of a generated file."""
    comments, section = {}, ""
    for line in text.splitlines():
        if line.startswith("    ") and not line.startswith("     "):
            section = line.strip().rstrip(":")
        elif line.startswith("      ") and not line.lstrip().startswith("#"):
            key, _, comment = line.strip().partition(":")
            comments[f"{section}.{key}"] = comment.split("# ", 1)[1]
    return comments


def test_every_key_carries_its_description(gen_config: types.ModuleType) -> None:
    """One commented line per key, in field order, (ro) exactly on the read-only ones."""
    comments = _key_comments(gen_config.config_yaml())
    expected = []
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(getattr(Config(), section.name)):
            name = f"{section.name}.{f.name}"
            expected.append(name)
            assert comments[name].startswith("(ro) ") == f.metadata["read_only"], name
            assert f.metadata["description"].startswith(comments[name].removeprefix("(ro) ")[:15]), name
    assert list(comments) == expected


def test_check_mode_fails_on_a_stale_file(gen_config: types.ModuleType, tmp_path: Path, capsys) -> None:
    stale = tmp_path / "rtmpose.yaml"
    stale.write_text(gen_config.config_yaml().replace("rtmpose-t", "rtmpose-s", 1), encoding="utf-8")
    assert gen_config.main(["--check", str(stale)]) == 1
    assert "stale" in capsys.readouterr().out
    assert gen_config.main(["--write", str(stale)]) == 0
    assert gen_config.main(["--check", str(stale)]) == 0
    modified = Config()
    modified.output.tf_prefix = "off"  # a value YAML would read as a bool unless quoted
    path = tmp_path / "modified.yaml"
    path.write_text(gen_config.config_yaml(modified), encoding="utf-8")
    assert load_config(path) == modified
