"""The local backend: files under its root, no presigned URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kadr.storage import PresignNotSupported
from kadr.storage.local import LocalStorage


def test_objects_are_files_under_the_root_and_nothing_else_is_left(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    storage.put_bytes("runs/r/x.json", b"{}")
    assert storage.local_path("runs/r/x.json") == tmp_path / "root" / "runs" / "r" / "x.json"
    assert storage.local_path("runs/r/missing") is None
    storage.delete("runs/r/x.json")
    assert list((tmp_path / "root").iterdir()) == [], "empty folders are pruned"


def test_presigning_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert storage.supports_presigned is False
    with pytest.raises(PresignNotSupported):
        storage.presigned_get("a/b")
    with pytest.raises(PresignNotSupported):
        storage.presigned_put("a/b")
