"""Module size limits (issue 13): each module of the package has one job, and the node stays thin.

A module that outgrows its limit is doing a second job: split it along that seam
(docs/architecture.md, "Files") rather than raising the limit.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pose_perception"
MAX_MODULE_LINES = 550
MAX_NODE_LINES = 300  # ros/rtmpose_node.py: converts, calls the pipeline, publishes


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_over_the_limit() -> None:
    sizes = {str(p.relative_to(PACKAGE)): _lines(p) for p in sorted(PACKAGE.rglob("*.py"))}
    assert len(sizes) > 50, f"found only {len(sizes)} modules under {PACKAGE}"
    too_long = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_the_node_is_thin() -> None:
    lines = _lines(PACKAGE / "ros" / "rtmpose_node.py")
    assert lines <= MAX_NODE_LINES, f"ros/rtmpose_node.py has {lines} lines (limit {MAX_NODE_LINES})"
