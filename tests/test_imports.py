"""The package graph of kadr has no cycles, counting imports inside functions.

A cycle between two domains means each knows the other; the house rule is that one of the
two directions becomes an event (`notifications.outbox`) or a port instead. Imports under
`if TYPE_CHECKING:` do not run, so they do not count.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import kadr

SRC = Path(kadr.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(module: str) -> str:
    """`kadr.runs.service` -> `kadr.runs`; top-level modules (`kadr.cli`) are their own node."""
    return ".".join(module.split(".")[:2])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Every imported kadr module (absolute name, line), skipping `if TYPE_CHECKING:` bodies."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            # `from kadr import scheduler` imports the module kadr.scheduler.
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno
        stack.extend(ast.iter_child_nodes(node))


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def _package_graph() -> dict[str, dict[str, str]]:
    """package -> {imported package: "module:line" of one import that makes the edge}."""
    modules = _modules()
    graph: dict[str, dict[str, str]] = {}
    for module, path in modules.items():
        source = _package_of(module)
        graph.setdefault(source, {})
        tree = ast.parse(path.read_text(), str(path))
        for target, line in _runtime_imports(tree, module, path.name == "__init__.py"):
            if not target.startswith("kadr.") or target not in modules:
                continue
            imported = _package_of(target)
            if imported != source and imported != "kadr":
                graph[source].setdefault(imported, f"{module}:{line}")
    return graph


def _find_cycle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph.get(node, {})):
            if state.get(child) == 1:
                return [*path[path.index(child) :], child]
            if child not in state and (found := visit(child)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_graph_sees_imports_inside_functions() -> None:
    """The walker counts a function-level import and skips a TYPE_CHECKING one."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kadr.runs import service\n"
        "def f():\n    from kadr.videos.service import VideoService\n"
    )
    targets = {target for target, _ in _runtime_imports(tree, "kadr.x.y", False)}
    assert "kadr.videos.service" in targets
    assert not any(target.startswith("kadr.runs") for target in targets)


def test_no_import_cycles_between_packages() -> None:
    graph = _package_graph()
    assert "kadr.runs" in graph and "kadr.jobs" in graph  # the walk found the packages
    cycle = _find_cycle(graph)
    if cycle is not None:
        edges = [f"{a} -> {b} ({graph[a][b]})" for a, b in itertools.pairwise(cycle)]
        raise AssertionError("import cycle between packages:\n  " + "\n  ".join(edges))


def test_endpoints_import_nothing_inside_functions() -> None:
    offenders = []
    for module, path in _modules().items():
        if not module.endswith(".endpoints"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                offenders += [
                    f"{module}:{node.lineno}"
                    for node in ast.walk(function)
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                ]
    assert not offenders, f"imports inside endpoint functions: {offenders}"
