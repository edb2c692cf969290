"""highlights: ranked moments, whole sentences only, scored on speech pace, loudness and hooks.

The local scorer explains every score in words (the `reason`), so a person can see why a
moment was picked and tune `keywords`, `min_seconds` and `max_seconds`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from statistics import median
from typing import Any, ClassVar

from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact

HOOK_WORDS = frozenset(
    [
        "secret",
        "secrets",
        "mistake",
        "mistakes",
        "important",
        "never",
        "always",
        "best",
        "worst",
        "why",
        "how",
        "surprising",
        "surprise",
        "problem",
        "truth",
        "biggest",
        "first",
        "finally",
        "remember",
        "key",
        "lesson",
        "trick",
        "actually",
        "imagine",
        "nobody",
        "everyone",
        "stop",
        "must",
        "free",
        "simple",
        "fastest",
        "easiest",
        "wrong",
        "right",
        "number",
    ]
)
SENTENCE_END = re.compile(r"[.!?…]['\"”)]*$")
PAUSE_SPLIT_SECONDS = 1.2
#: Padding around the spoken words, so a clip does not start or end on a clipped syllable.
LEAD_IN, TAIL_OUT = 0.15, 0.3


@dataclass
class Sentence:
    start: float
    end: float
    text: str
    words: int


def sentences_of(transcript: dict[str, Any]) -> list[Sentence]:
    """Split the word stream at sentence punctuation or long pauses."""
    sentences: list[Sentence] = []
    current: list[dict[str, Any]] = []

    def close() -> None:
        if current:
            text = "".join(w["word"] for w in current).strip()
            sentences.append(Sentence(current[0]["start"], current[-1]["end"], text, len(current)))
            current.clear()

    for segment in transcript.get("segments", []):
        words = segment.get("words") or [
            {"start": segment["start"], "end": segment["end"], "word": " " + segment["text"]}
        ]
        for word in words:
            if current and word["start"] - current[-1]["end"] > PAUSE_SPLIT_SECONDS:
                close()
            current.append(word)
            if SENTENCE_END.search(word["word"].strip()):
                close()
    close()
    return sentences


def _level_db(curve: list[float], window: float, start: float, end: float) -> float | None:
    """The window's typical level: a median, so pauses between sentences do not drag it down."""
    lo, hi = int(start / window), max(int(start / window) + 1, math.ceil(end / window))
    values = curve[lo:hi]
    return median(values) if values else None


def _hooks(text: str, keywords: set[str]) -> list[str]:
    found: list[str] = []
    for token in re.findall(r"[\w']+", text.lower()):
        if (token in HOOK_WORDS or token in keywords or token.isdigit()) and token not in found:
            found.append(token)
    if "?" in text:
        found.append("a question")
    return found


def _title(window: list[Sentence], keywords: set[str]) -> str:
    best = max(window, key=lambda s: (len(_hooks(s.text, keywords)), -window.index(s)))
    text = best.text.strip().rstrip(".!?…,;:")
    if len(text) > 70:
        text = text[:70].rsplit(" ", 1)[0] + "…"
    return text[:1].upper() + text[1:]


def rank_highlights(
    transcript: dict[str, Any],
    loudness: dict[str, Any] | None,
    *,
    count: int,
    min_seconds: float,
    max_seconds: float,
    keywords: list[str],
    duration: float,
) -> list[dict[str, Any]]:
    sentences = sentences_of(transcript)
    if not sentences:
        return []
    wanted = {k.lower() for k in keywords}
    curve = loudness["db"] if loudness else []
    window_size = float(loudness["window_seconds"]) if loudness else 0.5
    typical_db = median(curve) if curve else None
    spoken = sum(s.end - s.start for s in sentences) or 1.0
    pace = sum(s.words for s in sentences) / spoken

    candidates: list[tuple[float, int, int, str]] = []
    if sentences[-1].end - sentences[0].start < min_seconds:
        spans = [(0, len(sentences) - 1)]
    else:
        spans = []
        for i in range(len(sentences)):
            for j in range(i, len(sentences)):
                length = sentences[j].end - sentences[i].start
                if length > max_seconds:
                    break
                if length >= min_seconds:
                    spans.append((i, j))
    for i, j in spans:
        window = sentences[i : j + 1]
        start, end = window[0].start, window[-1].end
        length = max(end - start, 0.1)
        words = sum(s.words for s in window)
        window_pace = words / max(sum(s.end - s.start for s in window), 0.1)
        hooks = _hooks(" ".join(s.text for s in window), wanted)
        loud = _level_db(curve, window_size, start, end) if curve else None
        loud_delta = (loud - typical_db) if loud is not None and typical_db is not None else 0.0
        hook_rate = len(hooks) / (length / 60)
        asked_for = [h for h in hooks if h in wanted]
        raw = (
            1.5 * (window_pace / pace - 1)
            + 0.15 * max(-6.0, min(6.0, loud_delta))
            + 0.6 * min(hook_rate / 6, 1.0)
            + 0.3 * (words / length) / max(pace, 0.1)  # little silence inside the window
            + 0.8 * min(len(asked_for), 3)  # the user's own keywords weigh most
        )
        reasons = [f"speech at {window_pace:.1f} words/s ({window_pace / pace:.2f}x the talk's pace)"]
        if loud is not None:
            reasons.append(
                f"{abs(loud_delta):.1f} dB {'louder' if loud_delta >= 0 else 'quieter'} than usual"
            )
        if hooks:
            reasons.append("mentions " + ", ".join(f"'{h}'" if h != "a question" else h for h in hooks[:5]))
        if len(spans) == 1 and end - start < min_seconds:
            reasons.append(f"the whole speech is shorter than {min_seconds:g}s, so it is one highlight")
        candidates.append((raw, i, j, "; ".join(reasons)))

    candidates.sort(key=lambda c: (-c[0], sentences[c[1]].start))
    chosen: list[dict[str, Any]] = []
    taken: list[tuple[float, float]] = []
    for raw, i, j, reason in candidates:
        start = max(0.0, sentences[i].start - LEAD_IN)
        end = min(duration, sentences[j].end + TAIL_OUT) if duration else sentences[j].end + TAIL_OUT
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        taken.append((start, end))
        chosen.append(
            {
                "rank": len(chosen) + 1,
                "start": round(start, 3),
                "end": round(end, 3),
                "duration": round(end - start, 3),
                "score": round(1 / (1 + math.exp(-raw)), 4),
                "title": _title(sentences[i : j + 1], wanted),
                "reason": reason,
            }
        )
        if len(chosen) >= count:
            break
    return chosen


class Highlights(Component):
    name = "highlights"
    version = "1"
    requires = ("transcribe", "audio")
    defaults: ClassVar[dict[str, Any]] = {
        "count": 5,
        "min_seconds": 15.0,
        "max_seconds": 60.0,
        "keywords": [],
    }
    weight = 0.3

    def run(self, ctx: ComponentContext) -> ComponentResult:
        transcript = ctx.read_json("transcript.json")
        loudness = ctx.read_json("audio/loudness.json")
        params = ctx.params
        if float(params["min_seconds"]) > float(params["max_seconds"]):
            from kadr.core.errors import PermanentJobError

            raise PermanentJobError("highlights: min_seconds must not exceed max_seconds")
        highlights = rank_highlights(
            transcript,
            loudness,
            count=int(params["count"]),
            min_seconds=float(params["min_seconds"]),
            max_seconds=float(params["max_seconds"]),
            keywords=list(params["keywords"]),
            duration=float(transcript.get("duration") or 0),
        )
        out = ctx.output("highlights.json")
        out.write_text(json.dumps({"highlights": highlights}, indent=1, ensure_ascii=False))
        ctx.progress(1.0)
        summary: dict[str, Any] = {"highlights": len(highlights)}
        if not highlights:
            summary["note"] = "no speech was found, so there is nothing to rank"
        return ComponentResult(
            [ProducedArtifact("highlights.json", out, "json", "application/json")], summary
        )
