"""transcribe: timed segments and words, by local faster-whisper or a remote
OpenAI-compatible `/v1/audio/transcriptions` server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import httpx

from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact
from kadr.pipeline.models import get_whisper_model

REMOTE_TIMEOUT_SECONDS = 600.0


class RemoteTranscriptionError(RuntimeError):
    """The remote transcription server failed (retried as a transient error)."""


def _word(start: float, end: float, word: str, probability: float | None) -> dict[str, Any]:
    return {"start": round(start, 3), "end": round(end, 3), "word": word, "probability": probability}


def transcribe_locally(ctx: ComponentContext, wav: Path, duration: float) -> tuple[list[dict[str, Any]], str]:
    params = ctx.params
    model = get_whisper_model(
        params["model"], ctx.settings.asr_device, ctx.settings.asr_compute_type, ctx.settings.asr_threads
    )
    language = params["language"] or ("en" if str(params["model"]).endswith(".en") else None)
    segments_iter, info = model.transcribe(
        str(wav),
        language=language,
        beam_size=int(params["beam_size"]),
        vad_filter=bool(params["vad"]),
        word_timestamps=True,
        condition_on_previous_text=False,
    )
    segments: list[dict[str, Any]] = []
    for segment in segments_iter:
        words = [_word(w.start, w.end, w.word, round(w.probability, 3)) for w in segment.words or []]
        segments.append(
            {
                "id": len(segments),
                "start": round(segment.start, 3),
                "end": round(segment.end, 3),
                "text": segment.text.strip(),
                "words": words,
            }
        )
        ctx.progress(
            min(0.99, segment.end / duration) if duration else 0.5, f"{segment.end:.0f}s transcribed"
        )
    return segments, info.language


def transcribe_remotely(ctx: ComponentContext, wav: Path) -> tuple[list[dict[str, Any]], str]:
    settings = ctx.settings
    url = settings.asr_remote_url.rstrip("/") + "/v1/audio/transcriptions"
    headers = {}
    if settings.asr_remote_api_key.get_secret_value():
        headers["Authorization"] = f"Bearer {settings.asr_remote_api_key.get_secret_value()}"
    data: dict[str, str | list[str]] = {
        "model": str(ctx.params["model"]),
        "response_format": "verbose_json",
        "timestamp_granularities[]": ["word", "segment"],
    }
    if ctx.params["language"]:
        data["language"] = str(ctx.params["language"])
    ctx.progress(0.05, "sent to the transcription server")
    try:
        with wav.open("rb") as handle:
            response = httpx.post(
                url,
                headers=headers,
                data=data,
                files={"file": ("audio.wav", handle, "audio/wav")},
                timeout=REMOTE_TIMEOUT_SECONDS,
            )
    except httpx.HTTPError as exc:
        raise RemoteTranscriptionError(f"transcription server unreachable: {exc}") from exc
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        if response.status_code in (400, 401, 403, 404, 413, 415, 422):
            raise PermanentJobError(
                f"transcription server refused the audio ({response.status_code}): {message}"
            )
        raise RemoteTranscriptionError(f"transcription server error {response.status_code}: {message}")
    body = response.json()
    words = body.get("words") or []
    segments: list[dict[str, Any]] = []
    for raw in body.get("segments") or []:
        start, end = float(raw["start"]), float(raw["end"])
        inside = [
            _word(float(w["start"]), float(w["end"]), " " + str(w["word"]).strip(), None)
            for w in words
            if start <= float(w["start"]) < end
        ]
        segments.append(
            {
                "id": len(segments),
                "start": round(start, 3),
                "end": round(end, 3),
                "text": str(raw.get("text", "")).strip(),
                "words": inside,
            }
        )
    return segments, str(body.get("language") or ctx.params["language"] or "")


class Transcribe(Component):
    name = "transcribe"
    version = "1"
    requires = ("audio",)
    defaults: ClassVar[dict[str, Any]] = {"model": None, "language": None, "beam_size": 5, "vad": True}
    weight = 4.0

    @classmethod
    def resolve_params(cls, settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
        params = super().resolve_params(settings, overrides)
        if params["model"] is None:
            params["model"] = settings.asr_model
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
