"""The house rules of the layers: endpoints translate HTTP and publishers talk to a platform;
neither commits a transaction (services do) nor decides about storage (services do)."""

from __future__ import annotations

import ast
from pathlib import Path

import kadr

SRC = Path(kadr.__file__).parent
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
