"""highlights: ranked moments, whole sentences only, scored on speech pace, loudness and hooks.

The local scorer explains every score in words (the `reason`), so a person can see why a
moment was picked and tune `keywords`, `min_seconds` and `max_seconds`. With `engine: llm` it
only proposes candidates, and the language model chooses and titles them (`highlights_llm`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any, ClassVar

from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.pipeline.base import Component, ComponentContext, ComponentResult, ProducedArtifact
from kadr.pipeline.components.highlights_llm import (
    CANDIDATES_PER_MOMENT,
    MAX_MOMENTS,
    Candidate,
    rank_with_model,
)
from kadr.pipeline.model_calls import ModelCalls, signature_param

ENGINES = ("local", "llm")

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


@dataclass
class Window:
    """A run of whole sentences `first`..`last`, with the local scorer's verdict."""

    raw: float
    first: int
    last: int
    reason: str


def score_windows(
    sentences: list[Sentence],
    loudness: dict[str, Any] | None,
    *,
    min_seconds: float,
    max_seconds: float,
    keywords: set[str],
) -> list[Window]:
    """Every window of whole sentences between min and max seconds long, best first."""
    if not sentences:
        return []
    curve = loudness["db"] if loudness else []
    window_size = float(loudness["window_seconds"]) if loudness else 0.5
    typical_db = median(curve) if curve else None
    spoken = sum(s.end - s.start for s in sentences) or 1.0
    pace = sum(s.words for s in sentences) / spoken

    windows: list[Window] = []
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
        hooks = _hooks(" ".join(s.text for s in window), keywords)
        loud = _level_db(curve, window_size, start, end) if curve else None
        loud_delta = (loud - typical_db) if loud is not None and typical_db is not None else 0.0
        hook_rate = len(hooks) / (length / 60)
        asked_for = [h for h in hooks if h in keywords]
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
        windows.append(Window(raw, i, j, "; ".join(reasons)))
    windows.sort(key=lambda w: (-w.raw, sentences[w.first].start))
    return windows


def cut_points(sentences: list[Sentence], window: Window, duration: float) -> tuple[float, float]:
    """Where a clip of the window starts and ends: just around its first and last words."""
    start = max(0.0, sentences[window.first].start - LEAD_IN)
    end = sentences[window.last].end + TAIL_OUT
    return round(start, 3), round(min(duration, end) if duration else end, 3)


def _local_score(window: Window) -> float:
    return round(1 / (1 + math.exp(-window.raw)), 4)


def _overlaps(start: float, end: float, taken: list[tuple[float, float]]) -> bool:
    return any(start < t_end and t_start < end for t_start, t_end in taken)


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
    """The local ranking: the best-scored windows that do not overlap, best first."""
    sentences = sentences_of(transcript)
    wanted = {k.lower() for k in keywords}
    windows = score_windows(
        sentences, loudness, min_seconds=min_seconds, max_seconds=max_seconds, keywords=wanted
    )
    chosen: list[dict[str, Any]] = []
    taken: list[tuple[float, float]] = []
    for window in windows:
        start, end = cut_points(sentences, window, duration)
        if _overlaps(start, end, taken):
            continue
        taken.append((start, end))
        chosen.append(
            {
                "rank": len(chosen) + 1,
                "start": start,
                "end": end,
                "duration": round(end - start, 3),
                "score": _local_score(window),
                "title": _title(sentences[window.first : window.last + 1], wanted),
                "reason": window.reason,
            }
        )
        if len(chosen) >= count:
            break
    return chosen


def propose_candidates(
    transcript: dict[str, Any],
    loudness: dict[str, Any] | None,
    *,
    limit: int,
    min_seconds: float,
    max_seconds: float,
    keywords: list[str],
    duration: float,
) -> list[Candidate]:
    """Up to `limit` windows for the model to choose from, best-scored first. Windows that
    mostly repeat a better one (more than half of either inside it) are left out, so the
    model chooses between moments, not between one moment cut a sentence longer or shorter."""
    sentences = sentences_of(transcript)
    windows = score_windows(
        sentences,
        loudness,
        min_seconds=min_seconds,
        max_seconds=max_seconds,
        keywords={k.lower() for k in keywords},
    )
    candidates: list[Candidate] = []
    for window in windows:
        start, end = cut_points(sentences, window, duration)
        if any(_shared(start, end, c.start, c.end) > 0.5 for c in candidates):
            continue
        text = " ".join(s.text for s in sentences[window.first : window.last + 1])
        candidates.append(
            Candidate(
                len(candidates) + 1,
                start,
                end,
                text,
                _local_score(window),
                window.reason,
                window.first,
                window.last,
            )
        )
        if len(candidates) >= limit:
            break
    return candidates


def _shared(start: float, end: float, other_start: float, other_end: float) -> float:
    """How much of the shorter of two spans lies inside the other (0..1)."""
    inside = min(end, other_end) - max(start, other_start)
    shorter = min(end - start, other_end - other_start)
    return max(0.0, inside) / shorter if shorter > 0 else 0.0


class Highlights(Component):
    name = "highlights"
    version = "2"  # 2: the AI ranking prompt names the language (highlights.rank v2)
    requires = ("transcribe", "audio")
    defaults: ClassVar[dict[str, Any]] = {
        "count": 5,
        "min_seconds": 15.0,
        "max_seconds": 60.0,
        "keywords": [],
        #: "local": the scorer ranks and titles; "llm": the scorer proposes, the model chooses.
        "engine": "local",
    }
    weight = 0.3

    @classmethod
    def resolve_params(cls, settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
        params = super().resolve_params(settings, overrides)
        if params["engine"] not in ENGINES:
            raise ValueError(f"highlights: engine must be one of {', '.join(ENGINES)}")
        if params["engine"] == "llm":
            if not 1 <= int(params["count"]) <= MAX_MOMENTS:
                raise ValueError(f"highlights: count must be between 1 and {MAX_MOMENTS} with engine llm")
            # Which model chooses is part of the config_hash: cached runs never mix models.
            params["llm"] = signature_param("highlights with engine llm", settings)
        return params

    def run(self, ctx: ComponentContext) -> ComponentResult:
        transcript = ctx.read_json("transcript.json")
        loudness = ctx.read_json("audio/loudness.json")
        params = ctx.params
        if float(params["min_seconds"]) > float(params["max_seconds"]):
            raise PermanentJobError("highlights: min_seconds must not exceed max_seconds")
        options: dict[str, Any] = {
            "min_seconds": float(params["min_seconds"]),
            "max_seconds": float(params["max_seconds"]),
            "keywords": list(params["keywords"]),
            "duration": float(transcript.get("duration") or 0),
        }
        count = int(params["count"])
        document: dict[str, Any] = {"engine": params["engine"]}
        summary: dict[str, Any] = {"engine": params["engine"]}
        model = ModelCalls(ctx, self.name)
        if params["engine"] == "llm":
            candidates = propose_candidates(
                transcript, loudness, limit=CANDIDATES_PER_MOMENT * count, **options
            )
            highlights: list[dict[str, Any]] = []
            if candidates:
                ctx.progress(0.1, f"asking the model to choose among {len(candidates)} moments")
                highlights, dropped = rank_with_model(
                    model, candidates, count=count, language=transcript.get("language") or None
                )
                document["model"] = model.signature
                summary.update(model.summary(), candidates=len(candidates))
                if dropped:
                    summary["dropped_overlapping"] = dropped
            document["candidates"] = [asdict(candidate) for candidate in candidates]
        else:
            highlights = rank_highlights(transcript, loudness, count=count, **options)
        out = ctx.output("highlights.json")
        out.write_text(json.dumps({"highlights": highlights, **document}, indent=1, ensure_ascii=False))
        ctx.progress(1.0)
        summary["highlights"] = len(highlights)
        if not highlights:
            summary["note"] = "no speech was found, so there is nothing to rank"
        return ComponentResult(
            [ProducedArtifact("highlights.json", out, "json", "application/json")],
            summary,
            llm_calls=model.calls,
        )
