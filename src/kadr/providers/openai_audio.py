"""OpenAI-compatible speech recognition: `POST /v1/audio/transcriptions` (verbose_json).

Speaks the protocol of OpenAI's API and of the servers that copy it (faster-whisper-server,
LocalAI, vLLM, whisper.cpp's server). The answer is turned into kadr's transcript shape:
segments with the words spoken inside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

TIMEOUT_SECONDS = 600.0
#: Statuses that mean "this request will never succeed": the run must not retry it.
REFUSED_STATUSES = frozenset({400, 401, 403, 404, 413, 415, 422})


class RemoteTranscriptionError(RuntimeError):
    """The server is unreachable or failed (5xx, 429…): worth retrying later."""


class TranscriptionRefused(RuntimeError):
    """The server refused the request (bad key, bad file, unknown model): retrying cannot help."""


def _word(start: float, end: float, word: str) -> dict[str, Any]:
    return {"start": round(start, 3), "end": round(end, 3), "word": word, "probability": None}


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300]


def segments_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """verbose_json → segments, each holding the words that start inside it."""
    words = body.get("words") or []
    segments: list[dict[str, Any]] = []
    for raw in body.get("segments") or []:
        start, end = float(raw["start"]), float(raw["end"])
        inside = [
            _word(float(w["start"]), float(w["end"]), " " + str(w["word"]).strip())
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
    return segments


def transcribe(
    base_url: str,
    api_key: str,
    wav: Path,
    *,
    model: str,
    language: str | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> tuple[list[dict[str, Any]], str]:
    """Send a WAV file; return (segments with words, language as the server names it, or "")."""
    url = base_url.rstrip("/") + "/v1/audio/transcriptions"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    data: dict[str, str | list[str]] = {
        "model": model,
        "response_format": "verbose_json",
        "timestamp_granularities[]": ["word", "segment"],
    }
    if language:
        data["language"] = language
    try:
        with wav.open("rb") as handle:
            response = httpx.post(
                url,
                headers=headers,
                data=data,
                files={"file": ("audio.wav", handle, "audio/wav")},
                timeout=timeout,
            )
    except httpx.HTTPError as exc:
        raise RemoteTranscriptionError(f"transcription server unreachable: {exc}") from exc
    if response.status_code in REFUSED_STATUSES:
        raise TranscriptionRefused(
            f"transcription server refused the audio ({response.status_code}): {_error_message(response)}"
        )
    if response.status_code >= 400:
        raise RemoteTranscriptionError(
            f"transcription server error {response.status_code}: {_error_message(response)}"
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise RemoteTranscriptionError(f"transcription server answered no JSON: {exc}") from exc
    return segments_of(body), str(body.get("language") or "")
