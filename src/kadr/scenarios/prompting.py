"""The scenario prompts filled in (templates: `llm/prompts/scenario.*.toml`), and how long their
answers are expected to be (for progress and `max_tokens`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kadr.llm.language import LANGUAGE_SCRIPTS, language_name
from kadr.llm.prompts import RenderedPrompt, get_prompt
from kadr.scenarios.checks import count_words, max_words, nominal_words
from kadr.scenarios.schemas import Scene

PLATFORM_NAMES = {
    "youtube_shorts": "YouTube Shorts",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "reels": "Instagram Reels",
    "telegram": "Telegram",
    "vk_clips": "VK Clips",
    "other": "online video",
}
#: About how long a scene of a short is; long videos get longer scenes, never more than this many.
SECONDS_PER_SCENE = 8
MAX_SUGGESTED_SCENES = 24
#: How much of a transcript a re-cut prompt carries (a small model's context is 4096 tokens).
MAX_TRANSCRIPT_CHARACTERS = 6000
MAX_HIGHLIGHTS = 8
#: Around a highlight, what of the transcript is kept when all of it does not fit.
HIGHLIGHT_CONTEXT_SECONDS = 5.0


def suggested_scene_count(duration_s: float) -> int:
    return max(3, min(MAX_SUGGESTED_SCENES, round(duration_s / SECONDS_PER_SCENE)))


def expected_answer_tokens(duration_s: float, words_per_minute: int, language: str) -> int:
    """About how many tokens a scenario's JSON takes: the narration's words (more tokens per word
    outside the Latin script) and each scene's fields and visual description."""
    words = duration_s * words_per_minute / 60
    latin = LANGUAGE_SCRIPTS.get(language.split("-", 1)[0].lower()) == "LATIN"
    return round(120 + suggested_scene_count(duration_s) * 70 + words * (1.4 if latin else 2.5))


def answer_token_limit(expected: int) -> int:
    """`max_tokens` for an answer expected to take `expected`: room for a wordy model, within
    what the embedded model's context leaves beside the prompt."""
    return max(768, min(3072, 2 * expected))


def _brief_values(brief: dict[str, Any]) -> dict[str, Any]:
    """The brief as the templates say it, with a plan a small model can follow: how many scenes,
    how long each, how many words each (it copies numbers better than it does sums)."""
    duration_s = brief["duration_s"]
    words_per_minute = brief["words_per_minute"]
    scene_count = suggested_scene_count(duration_s)
    scene_seconds = round(duration_s / scene_count, 1)
    return {
        "topic": brief.get("topic") or "the video's best moments",
        "audience": brief.get("audience") or "a general audience",
        "tone": brief.get("tone") or "lively and clear",
        "platform": brief["platform"],
        "platform_name": PLATFORM_NAMES.get(brief["platform"], brief["platform"]),
        "aspect": brief["aspect"],
        "language": brief["language"],
        "language_name": language_name(brief["language"]),
        "duration_s": str(duration_s),
        "words_per_minute": str(words_per_minute),
        "scene_count": str(scene_count),
        "scene_seconds": f"{scene_seconds:g}",
        # A little under the most the scene holds: models run a word or two over what they are told.
        "scene_words": str(max(1, nominal_words(scene_seconds, words_per_minute) - 2)),
    }


def generate_prompt(brief: dict[str, Any]) -> RenderedPrompt:
    return get_prompt("scenario.generate").render(**_brief_values(brief))


def recut_prompt(
    brief: dict[str, Any], transcript: dict[str, Any], highlights: Sequence[dict[str, Any]]
) -> RenderedPrompt:
    source_duration = source_duration_of(transcript)
    return get_prompt("scenario.from_run").render(
        **_brief_values(brief),
        source_duration=f"{source_duration:.1f}",
        highlights=_highlight_lines(highlights),
        transcript=_transcript_lines(transcript, highlights),
    )


def _end_of(transcript: dict[str, Any]) -> float:
    return max((float(s["end"]) for s in transcript.get("segments", [])), default=0.0)


def source_duration_of(transcript: dict[str, Any]) -> float:
    return float(transcript.get("duration") or 0.0) or _end_of(transcript)


def _highlight_lines(highlights: Sequence[dict[str, Any]]) -> str:
    lines = [
        f"{h.get('rank', i + 1)}. {float(h['start']):.1f}-{float(h['end']):.1f} s: "
        f"{h.get('title', '')} ({h.get('reason', '')})"
        for i, h in enumerate(highlights[:MAX_HIGHLIGHTS])
    ]
    return "\n".join(lines) or "(none found: choose from the transcript)"


def _transcript_lines(transcript: dict[str, Any], highlights: Sequence[dict[str, Any]]) -> str:
    """Every segment as `[start-end] text`; when that is too long, the segments around the
    highlights first, then cut at MAX_TRANSCRIPT_CHARACTERS."""
    segments = transcript.get("segments", [])
    lines = [(s, f"[{float(s['start']):.1f}-{float(s['end']):.1f}] {s['text'].strip()}") for s in segments]
    if sum(len(line) + 1 for _, line in lines) > MAX_TRANSCRIPT_CHARACTERS and highlights:
        windows = [
            (float(h["start"]) - HIGHLIGHT_CONTEXT_SECONDS, float(h["end"]) + HIGHLIGHT_CONTEXT_SECONDS)
            for h in highlights[:MAX_HIGHLIGHTS]
        ]
        lines = [
            (s, line)
            for s, line in lines
            if any(float(s["start"]) < end and start < float(s["end"]) for start, end in windows)
        ]
    kept: list[str] = []
    used = 0
    for _, line in lines:
        if used + len(line) + 1 > MAX_TRANSCRIPT_CHARACTERS:
            kept.append("[…]")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept) or "(nothing was said)"


def titles_prompt(scenario: Any, n: int, max_characters: int) -> RenderedPrompt:
    narration = "\n".join(scene["narration"] for scene in scenario.scenes)[:3000]
    return get_prompt("scenario.titles").render(
        n=str(n),
        max_characters=str(max_characters),
        platform_name=PLATFORM_NAMES.get(scenario.platform, scenario.platform),
        language_name=language_name(scenario.language),
        title=scenario.title,
        logline=scenario.logline or "-",
        hook=scenario.hook or "-",
        narration=narration or "-",
    )


def rewrite_prompt(scenario: Any, scene: Scene, instruction: str) -> RenderedPrompt:
    outline = "\n".join(f"{s['n']}. {float(s['duration_s']):g} s: {s['narration']}" for s in scenario.scenes)
    recut = scene.source_start is not None and scene.source_end is not None
    return get_prompt("scenario.rewrite_scene").render(
        language_name=language_name(scenario.language),
        scene_number=str(scene.n),
        duration_s=f"{scene.duration_s:g}",
        words_per_minute=str(scenario.words_per_minute),
        title=scenario.title,
        logline=scenario.logline,
        scenes=outline[:4000],
        scene=scene.model_dump_json(),
        instruction=instruction,
        source_fields=", source_start, source_end" if recut else "",
    )


def rewrite_token_limit(scene: Scene, words_per_minute: int) -> int:
    words = max(count_words(scene.narration), max_words(scene.duration_s, words_per_minute))
    return max(256, min(1024, 150 + 3 * words))
