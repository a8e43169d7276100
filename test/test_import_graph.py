"""pose_perception's modules import each other without a cycle.

A cycle makes the import order decide which names exist yet (a deferred import inside a
function only hides it until that function runs), so the graph counts module-level and
deferred imports alike; imports under ``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pose_perception

PACKAGE_DIR = Path(pose_perception.__file__).resolve().parent


def module_files() -> dict[str, Path]:
    """Dotted module name → file; a package is its ``__init__.py``."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = ("pose_perception", *path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, skipping ``if TYPE_CHECKING:`` bodies."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [node]
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        children: list[ast.AST] = list(node.orelse)
    else:
        children = list(ast.iter_child_nodes(node))
    return [found for child in children for found in _import_nodes(child)]


def _base_of(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` reads from (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The pose_perception modules that ``module`` imports (a submodule named in
    ``from package import name`` counts as that submodule, other names as the package)."""
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = _base_of(node, module, path.name == "__init__.py")
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            found.add(submodule if submodule in known else base)
    return {name for name in found if name in known and name != module}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {module: imported_modules(module, path, set(files)) for module, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles (a → b → … → a) until every module that lies on one is in one of them."""
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if any(start in cycle for cycle in cycles):
            continue
        cycle = _cycle_through(graph, start)
        if cycle:
            cycles.append(cycle)
    return cycles


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str]:
    """The shortest import chain from ``start`` back to itself (breadth first), or []."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module]):
                if target == start:
                    chain = [start, module]
                    while chain[-1] != start:
                        chain.append(came_from[chain[-1]])
                    return chain[::-1]
                if target not in came_from:
                    came_from[target] = module
                    following.append(target)
        frontier = following
    return []


def test_graph_sees_module_level_deferred_and_relative_imports(tmp_path):
    package = tmp_path / "pose_perception"
    (package / "sub").mkdir(parents=True)
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pose_perception import top\n"
        "def later():\n    from ..top import thing\n"
    )
    (package / "top.py").write_text("import pose_perception.sub.leaf\nfrom pose_perception import sub\n")
    known = {"pose_perception.sub", "pose_perception.sub.leaf", "pose_perception.top"}
    assert imported_modules("pose_perception.sub", package / "sub" / "__init__.py", known) == {
        "pose_perception.sub.leaf"
    }
    assert imported_modules("pose_perception.sub.leaf", package / "sub" / "leaf.py", known) == {
        "pose_perception.top"
    }
    graph = {
        module: imported_modules(module, package / path, known)
        for module, path in (
            ("pose_perception.sub", "sub/__init__.py"),
            ("pose_perception.sub.leaf", "sub/leaf.py"),
            ("pose_perception.top", "top.py"),
        )
    }
    assert find_cycles(graph) == [["pose_perception.sub", "pose_perception.sub.leaf", "pose_perception.top",
                                   "pose_perception.sub"]]  # fmt: skip


def test_type_checking_imports_are_not_edges(tmp_path):
    path = tmp_path / "a.py"
    path.write_text(
        "import typing\nif typing.TYPE_CHECKING:\n    import pose_perception.b\n"
        "else:\n    import pose_perception.c\n"
    )
    known = {"pose_perception.a", "pose_perception.b", "pose_perception.c"}
    assert imported_modules("pose_perception.a", path, known) == {"pose_perception.c"}


def test_pose_perception_has_no_import_cycle():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(cycle) for cycle in cycles)
