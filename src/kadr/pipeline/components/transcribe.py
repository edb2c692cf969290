"""transcribe: timed segments and words, by local faster-whisper or a remote
OpenAI-compatible `/v1/audio/transcriptions` server (`kadr.providers.openai_audio`).

Locally the WAV is transcribed in pieces of about `piece_seconds`, each cut at the
quietest moment near its boundary and read from disk only when its turn comes:
faster-whisper holds a piece's samples, log-mel and VAD state at once, so memory stays
flat whatever the source's length. The language is detected once, on the first piece
with speech, and then fixed for the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact, edited_texts
from kadr.pipeline.components.audio import SAMPLE_RATE, wav_pieces
from kadr.pipeline.models import (
    AUTO_MODEL,
    BUNDLED_MODEL,
    MULTILINGUAL_MODEL,
    get_whisper_model,
    release_whisper_model,
    return_freed_memory,
)
from kadr.providers import openai_audio
from kadr.providers.openai_audio import RemoteTranscriptionError

__all__ = ["RemoteTranscriptionError", "Transcribe"]

#: `language: auto` (the default): detected from the speech.
AUTO_LANGUAGE = "auto"
#: What a remote OpenAI-compatible server is asked for when the model is `auto`.
REMOTE_AUTO_MODEL = "whisper-1"


def whisper_languages() -> frozenset[str]:
    """The language codes Whisper knows (imported only when a run names one: faster-whisper
    brings CTranslate2 into the process)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


#: How far from a piece's nominal end the cut may move to land in a pause.
BOUNDARY_SEARCH_SECONDS = 10.0
#: Pieces shorter than this would cost more in per-call overhead than they save.
MIN_PIECE_SECONDS = 5.0


def _word(start: float, end: float, word: str, probability: float | None) -> dict[str, Any]:
    return {"start": round(start, 3), "end": round(end, 3), "word": word, "probability": probability}


@dataclass
class HeardLanguage:
    """The language of a transcript, and how it was known: given by the run, or detected (with
    Whisper's probability for it)."""

    code: str
    probability: float | None = None
    source: str = "given"


def detect_language(model: Any, samples: Any) -> HeardLanguage:
    """The spoken language of `samples` by the multilingual model (speech only: VAD first)."""
    code, probability, _ = model.detect_language(samples, vad_filter=True)
    return HeardLanguage(code, round(float(probability), 3), "detected")


def transcribe_locally(
    ctx: ComponentContext, wav: Path, duration: float
) -> tuple[list[dict[str, Any]], HeardLanguage, str]:
    """faster-whisper over the WAV piece by piece; timestamps are offset to the whole source.
    With the `auto` model the language is detected on the first piece by the multilingual model,
    and English goes to `tiny.en` (faster), every other language to `base`."""
    params, settings = ctx.params, ctx.settings

    def load(name: str) -> Any:
        return get_whisper_model(
            name,
            settings.asr_device,
            settings.asr_compute_type,
            settings.asr_threads,
            settings.model_cache_dir,
        )

    chosen = str(params["model"])
    given = params["language"] if params["language"] != AUTO_LANGUAGE else None
    if given is None and chosen.endswith(".en"):
        given = "en"
    heard = HeardLanguage(given) if given else None
    model: Any = None
    segments: list[dict[str, Any]] = []
    for offset, samples in wav_pieces(wav, float(params["piece_seconds"]), BOUNDARY_SEARCH_SECONDS):
        if model is None:
            if chosen == AUTO_MODEL:
                if heard is None:
                    ctx.progress(0.0, "detecting the language")
                    heard = detect_language(load(MULTILINGUAL_MODEL), samples)
                chosen = BUNDLED_MODEL if heard.code == "en" else MULTILINGUAL_MODEL
                if chosen == BUNDLED_MODEL:
                    release_whisper_model(MULTILINGUAL_MODEL)  # loaded only to hear it was English
            model = load(chosen)
        piece_segments, info = model.transcribe(
            samples,
            language=heard.code if heard else None,
            beam_size=int(params["beam_size"]),
            vad_filter=bool(params["vad"]),
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        piece_end = offset + len(samples) / SAMPLE_RATE
        for segment in piece_segments:
            # Whisper may place an end a little past the audio it was given: clamp to the piece.
            words = [
                _word(offset + w.start, min(offset + w.end, piece_end), w.word, round(w.probability, 3))
                for w in segment.words or []
            ]
            segments.append(
                {
                    "id": len(segments),
                    "start": round(offset + segment.start, 3),
                    "end": round(min(offset + segment.end, piece_end), 3),
                    "text": segment.text.strip(),
                    "words": words,
                }
            )
            done = offset + segment.end
            ctx.progress(min(0.99, done / duration) if duration else 0.5, f"{done:.0f}s transcribed")
        if heard is None and segments:
            # one language for the whole source, as one call would have said
            heard = HeardLanguage(info.language, round(float(info.language_probability), 3), "detected")
        del samples  # the next piece is read only now
        return_freed_memory()
    return segments, heard or HeardLanguage(""), chosen


def transcribe_remotely(ctx: ComponentContext, wav: Path) -> tuple[list[dict[str, Any]], HeardLanguage, str]:
    """The whole WAV to an OpenAI-compatible server (streamed from disk)."""
    settings = ctx.settings
    given = ctx.params["language"] if ctx.params["language"] != AUTO_LANGUAGE else None
    model = str(ctx.params["model"])
    model = REMOTE_AUTO_MODEL if model == AUTO_MODEL else model
    ctx.progress(0.05, "sent to the transcription server")
    try:
        segments, language = openai_audio.transcribe(
            settings.asr_remote_url,
            settings.asr_remote_api_key.get_secret_value(),
            wav,
            model=model,
            language=given,
        )
    except openai_audio.TranscriptionRefused as exc:
        raise PermanentJobError(str(exc)) from exc
    heard = HeardLanguage(given) if given else HeardLanguage(language or "", None, "detected")
    return segments, heard, model


def write_transcript(transcript: dict[str, Any], folder: Path) -> list[ProducedArtifact]:
    """transcript.json and its plain text, transcript.txt, under `folder`."""
    segments = transcript["segments"]
    document, plain = folder / "transcript.json", folder / "transcript.txt"
    document.write_text(json.dumps(transcript, indent=1, ensure_ascii=False))
    plain.write_text("\n".join(s["text"] for s in segments) + ("\n" if segments else ""))
    return [
        ProducedArtifact("transcript.json", document, "json", "application/json"),
        ProducedArtifact("transcript.txt", plain, "text", "text/plain; charset=utf-8"),
    ]


def spread_words(text: str, start: float, end: float) -> list[dict[str, Any]]:
    """Words of a text nobody timed (a person's edit, a translation) over [start, end), each
    given time by its length: what subtitles and captions need of a word."""
    words = text.split()
    per_char = (end - start) / (sum(len(w) + 1 for w in words) or 1)
    spread, at = [], start
    for word in words:
        length = (len(word) + 1) * per_char
        spread.append(_word(at, at + length, f" {word}", None))
        at += length
    return spread


def respoken_words(segment: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Words for a segment whose text a person may have changed: the words Whisper timed where
    the text is the same, otherwise the new text spread over the segment (not heard again)."""
    if text == segment["text"].strip():
        return list(segment["words"])
    return spread_words(text, float(segment["start"]), float(segment["end"]))


class Transcribe(Component):
    name = "transcribe"
    version = "4"  # 4: `auto` picks the model by language; the language's source and probability
    requires = ("audio",)
    defaults: ClassVar[dict[str, Any]] = {
        "model": None,
        "language": AUTO_LANGUAGE,
        "beam_size": 5,
        "vad": True,
        #: Whisper's peak memory grows with the piece (Silero VAD batches the whole piece):
        #: 120 s pieces peak ~440 MB where 300 s pieces reached ~690 MB (bench/pipeline.py).
        "piece_seconds": 120,
    }
    weight = 4.0

    @classmethod
    def resolve_params(cls, settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
        params = super().resolve_params(settings, overrides)
        if params["model"] is None:
            params["model"] = settings.asr_model
        params["language"] = str(params["language"] or AUTO_LANGUAGE).lower()
        if params["language"] != AUTO_LANGUAGE and params["language"] not in whisper_languages():
            raise ValueError(
                f"transcribe: language {params['language']!r} is not one Whisper knows; use a code "
                "such as ru, en, uk, de, or auto"
            )
        if str(params["model"]).endswith(".en") and params["language"] not in (AUTO_LANGUAGE, "en"):
            raise ValueError(
                f"transcribe: the model {params['model']} hears English only; for "
                f"{params['language']!r} use the model auto or base"
            )
        if float(params["piece_seconds"]) < MIN_PIECE_SECONDS:
            raise ValueError(f"transcribe: piece_seconds must be at least {MIN_PIECE_SECONDS:g}")
        params["engine"] = "remote" if settings.asr_remote_url else "local"
        return params

    reviewable = ("transcript.json",)

    @classmethod
    def review_edit(
        cls, name: str, edited: Any, original: Any, params: dict[str, Any], folder: Path
    ) -> list[ProducedArtifact]:
        texts = edited_texts(edited, original, "segments")
        segments = [
            {**segment, "text": text, "words": respoken_words(segment, text)}
            for segment, text in zip(original["segments"], texts, strict=True)
        ]
        transcript = {**original, "text": " ".join(texts), "segments": segments, "reviewed": True}
        return write_transcript(transcript, folder)

    def run(self, ctx: ComponentContext) -> ComponentResult:
        wav = ctx.input("audio/audio.wav")
        duration = float(ctx.read_json("probe.json")["duration"])
        if ctx.params.get("engine") == "remote":
            segments, heard, model = transcribe_remotely(ctx, wav)
            device = "remote"
        else:
            segments, heard, model = transcribe_locally(ctx, wav, duration)
            device = ctx.settings.asr_device
        text = " ".join(s["text"] for s in segments).strip()
        language = {
            "language": heard.code,
            "language_probability": heard.probability,
            "language_source": heard.source,
        }
        transcript = {**language, "duration": duration, "model": model, "text": text, "segments": segments}
        ctx.progress(1.0)
        return ComponentResult(
            write_transcript(transcript, ctx.workdir),
            {
                **language,
                "model": model,
                "segments": len(segments),
                "words": sum(len(s["words"]) for s in segments),
                "device": device,
            },
        )
