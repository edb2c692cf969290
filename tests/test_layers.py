"""House rules the code must keep true: endpoints translate HTTP and publishers talk to a
platform, neither commits a transaction nor decides about storage (services do); statuses are
enums defined once, never string literals."""

from __future__ import annotations

import ast
from pathlib import Path

import kadr

SRC = Path(kadr.__file__).parent
#: Fields whose values are an enum's members (a status, or why a job failed).
ENUM_FIELDS = {"status", "error_kind"}
ENDPOINTS = sorted(SRC.glob("*/endpoints.py"))
PUBLISHERS = sorted((SRC / "publications" / "publishers").glob("*.py"))


def _calls_to(path: Path, name: str) -> list[str]:
    """`file:line` of every call of a method or function called `name`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def _imports_of(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_the_layers_exist_where_the_rules_look() -> None:
    assert len(ENDPOINTS) >= 6 and len(PUBLISHERS) >= 3


def test_no_endpoint_or_publisher_commits() -> None:
    commits = [hit for path in ENDPOINTS + PUBLISHERS for hit in _calls_to(path, "commit")]
    assert commits == [], "services commit; endpoints and publishers call them"


def test_no_endpoint_decides_about_storage() -> None:
    deciding = [
        str(path.relative_to(SRC))
        for path in ENDPOINTS
        if any(module == "kadr.storage" or module.startswith("kadr.storage.") for module in _imports_of(path))
        or _calls_to(path, "get_storage")
    ]
    assert deciding == [], "where bytes live (local file, presigned URL, stream) is the service's decision"


def _strings(node: ast.AST | None) -> bool:
    """A string literal (no status is empty), or a tuple/list/set of them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value != ""
    return isinstance(node, ast.Tuple | ast.List | ast.Set) and any(_strings(e) for e in node.elts)


def _names_field(node: ast.AST) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
    return name in ENUM_FIELDS


def _status_literals(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_names_field(side) for side in sides) and any(_strings(side) for side in sides):
                found.append(where)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_names_field(t) for t in targets) and _strings(node.value):
                found.append(where)
        elif isinstance(node, ast.keyword) and node.arg in ENUM_FIELDS and _strings(node.value):
            found.append(where)
    return found


def test_statuses_are_enums_not_string_literals() -> None:
    literals = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if "migrations" not in path.parts
        for hit in _status_literals(path)
    ]
    assert literals == [], "compare and set statuses with their StrEnum (pipeline.base, <domain>.models)"


def test_the_runs_domain_stores_the_pipelines_statuses() -> None:
    from kadr.pipeline import base
    from kadr.runs import models

    assert models.ComponentStatus is base.ComponentStatus and models.RunStatus is base.RunStatus
