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
from pathlib import Path
from typing import Any, ClassVar

from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact
from kadr.pipeline.components.audio import SAMPLE_RATE, wav_pieces
from kadr.pipeline.models import get_whisper_model, return_freed_memory
from kadr.providers import openai_audio
from kadr.providers.openai_audio import RemoteTranscriptionError

__all__ = ["RemoteTranscriptionError", "Transcribe"]

#: How far from a piece's nominal end the cut may move to land in a pause.
BOUNDARY_SEARCH_SECONDS = 10.0
#: Pieces shorter than this would cost more in per-call overhead than they save.
MIN_PIECE_SECONDS = 5.0


def _word(start: float, end: float, word: str, probability: float | None) -> dict[str, Any]:
    return {"start": round(start, 3), "end": round(end, 3), "word": word, "probability": probability}


def transcribe_locally(ctx: ComponentContext, wav: Path, duration: float) -> tuple[list[dict[str, Any]], str]:
    """faster-whisper over the WAV piece by piece; timestamps are offset to the whole source."""
    params = ctx.params
    model = get_whisper_model(
        params["model"], ctx.settings.asr_device, ctx.settings.asr_compute_type, ctx.settings.asr_threads
    )
    language: str | None = params["language"] or ("en" if str(params["model"]).endswith(".en") else None)
    detected = ""
    segments: list[dict[str, Any]] = []
    for offset, samples in wav_pieces(wav, float(params["piece_seconds"]), BOUNDARY_SEARCH_SECONDS):
        piece_segments, info = model.transcribe(
            samples,
            language=language,
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
            detected = detected or info.language
            done = offset + segment.end
            ctx.progress(min(0.99, done / duration) if duration else 0.5, f"{done:.0f}s transcribed")
        if language is None and detected:
            language = detected  # one language for the whole source, as one call would have said
        del samples  # the next piece is read only now
        return_freed_memory()
    return segments, language or detected


def transcribe_remotely(ctx: ComponentContext, wav: Path) -> tuple[list[dict[str, Any]], str]:
    """The whole WAV to an OpenAI-compatible server (streamed from disk)."""
    settings = ctx.settings
    ctx.progress(0.05, "sent to the transcription server")
    try:
        segments, language = openai_audio.transcribe(
            settings.asr_remote_url,
            settings.asr_remote_api_key.get_secret_value(),
            wav,
            model=str(ctx.params["model"]),
            language=ctx.params["language"] or None,
        )
    except openai_audio.TranscriptionRefused as exc:
        raise PermanentJobError(str(exc)) from exc
    return segments, language or str(ctx.params["language"] or "")


class Transcribe(Component):
    name = "transcribe"
    version = "3"
    requires = ("audio",)
    defaults: ClassVar[dict[str, Any]] = {
        "model": None,
        "language": None,
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
        if float(params["piece_seconds"]) < MIN_PIECE_SECONDS:
            raise ValueError(f"transcribe: piece_seconds must be at least {MIN_PIECE_SECONDS:g}")
        params["engine"] = "remote" if settings.asr_remote_url else "local"
        return params

    def run(self, ctx: ComponentContext) -> ComponentResult:
        wav = ctx.input("audio/audio.wav")
        duration = float(ctx.read_json("probe.json")["duration"])
        if ctx.params.get("engine") == "remote":
            segments, language = transcribe_remotely(ctx, wav)
            device = "remote"
        else:
            segments, language = transcribe_locally(ctx, wav, duration)
            device = ctx.settings.asr_device
        text = " ".join(s["text"] for s in segments).strip()
        transcript = {
            "language": language,
            "duration": duration,
            "model": ctx.params["model"],
            "text": text,
            "segments": segments,
        }
        out = ctx.output("transcript.json")
        out.write_text(json.dumps(transcript, indent=1, ensure_ascii=False))
        plain = ctx.output("transcript.txt")
        plain.write_text("\n".join(s["text"] for s in segments) + ("\n" if segments else ""))
        ctx.progress(1.0)
        return ComponentResult(
            [
                ProducedArtifact("transcript.json", out, "json", "application/json"),
                ProducedArtifact("transcript.txt", plain, "text", "text/plain; charset=utf-8"),
            ],
            {
                "language": language,
                "segments": len(segments),
                "words": sum(len(s["words"]) for s in segments),
                "device": device,
            },
        )
