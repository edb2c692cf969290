"""metadata: a title, description, Telegram caption, tags and hashtags for each clip and for
the whole video, written by the language model in the transcript's language.

What the model writes is then fitted to the platforms' limits here, in code, whatever the
model did: YouTube titles of at most 100 characters and descriptions of at most 5000 bytes,
neither with `<` or `>`; at most 500 characters of tags; at most 15 hashtags, each one `#word`;
Telegram captions of at most 1024 characters. Text is cut at a word boundary, with an ellipsis.

`metadata.json` names, for each described highlight, the clip files cut from it (when clips
ran first), so a publication of a clip finds its texts (`metadata_of_clip`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field

from kadr.config import Settings
from kadr.llm.language import transcript_language_name
from kadr.llm.prompts import get_prompt
from kadr.pipeline.base import (
    Component,
    ComponentContext,
    ComponentInputMissing,
    ComponentResult,
    ProducedArtifact,
)
from kadr.pipeline.model_calls import ModelCalls, signature_param

METADATA_ARTIFACT = "metadata.json"
YOUTUBE_TITLE_CHARS = 100
YOUTUBE_DESCRIPTION_BYTES = 5000
#: All tags together, commas between them included, and a tag with a space counted with the
#: quotes YouTube puts around it.
YOUTUBE_TAGS_CHARS = 500
#: YouTube ignores every hashtag of a video that has more than this many.
MAX_HASHTAGS = 15
#: Telegram counts a caption in UTF-16 code units (an emoji is two).
TELEGRAM_CAPTION_CHARS = 1024
ELLIPSIS = "…"
#: The transcript shown to the model for the whole video: its opening, within a small
#: model's context; the highlights' titles stand for the rest.
VIDEO_TEXT_CHARS = 4000
CLIP_TEXT_CHARS = 3000

Unit = Literal["chars", "bytes", "utf16"]
Tag = Annotated[str, Field(min_length=1, max_length=100)]


class PublishingText(BaseModel):
    """The model's answer. Its bounds keep generation short; the platforms' limits are applied
    after it, in code (`fit_metadata`)."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=6000)
    telegram_caption: str = Field(min_length=1, max_length=2000)
    tags: list[Tag] = Field(max_length=30)
    hashtags: list[Tag] = Field(max_length=30)


def _size(text: str, unit: Unit) -> int:
    if unit == "bytes":
        return len(text.encode("utf-8"))
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def truncate_words(text: str, limit: int, unit: Unit = "chars") -> str:
    """`text` if it fits in `limit` units; otherwise its longest start that ends on a word
    boundary and fits with an ellipsis (cut inside the word only when one word is too long)."""
    text = text.strip()
    if _size(text, unit) <= limit:
        return text
    room = limit - _size(ELLIPSIS, unit)
    used = end = 0
    for char in text:  # the longest start within `room` (a character may take several units)
        used += _size(char, unit)
        if used > room:
            break
        end += 1
    head = text[:end]
    if not text[len(head)].isspace():
        boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if boundary > 0:
            head = head[:boundary]
    head = head.rstrip(" \t\n.,;:-\u2013\u2014")  # no dangling stop, dash or comma before it
    return (head or text[: max(0, room)]) + ELLIPSIS


def _without_angle_brackets(text: str) -> str:
    """YouTube refuses `<` and `>` in titles and descriptions."""
    return re.sub(r"[ \t]{2,}", " ", text.replace("<", "").replace(">", ""))


def fit_title(title: str) -> str:
    return truncate_words(" ".join(_without_angle_brackets(title).split()), YOUTUBE_TITLE_CHARS)


def fit_description(description: str) -> str:
    return truncate_words(_without_angle_brackets(description), YOUTUBE_DESCRIPTION_BYTES, "bytes")


def fit_caption(caption: str) -> str:
    return truncate_words(caption, TELEGRAM_CAPTION_CHARS, "utf16")


def _tag_cost(tag: str) -> int:
    return len(tag) + (2 if " " in tag else 0)


def fit_tags(tags: Iterable[str]) -> list[str]:
    """Clean tags (no `#`, commas or angle brackets), each once, while they fit in 500 characters."""
    kept: list[str] = []
    seen: set[str] = set()
    used = 0
    for raw in tags:
        tag = " ".join(re.sub(r"[<>,#]", " ", raw).split())
        if not tag or tag.casefold() in seen:
            continue
        cost = _tag_cost(tag) + (1 if kept else 0)
        if used + cost > YOUTUBE_TAGS_CHARS:
            continue  # a shorter one later may still fit
        kept.append(tag)
        seen.add(tag.casefold())
        used += cost
    return kept


def fit_hashtags(hashtags: Iterable[str], limit: int = MAX_HASHTAGS) -> list[str]:
    """`#word` each (letters, digits and `_` only), each once, at most `limit` (≤ 15)."""
    kept: list[str] = []
    limit = min(limit, MAX_HASHTAGS)
    for raw in hashtags:
        if len(kept) >= limit:
            break
        word = "".join(char for char in raw if char.isalnum() or char == "_")
        if word and ("#" + word).casefold() not in {tag.casefold() for tag in kept}:
            kept.append("#" + word)
    return kept


def fit_metadata(answer: PublishingText, hashtags: int = MAX_HASHTAGS) -> dict[str, Any]:
    """The model's texts within every platform's limits."""
    return {
        "title": fit_title(answer.title),
        "description": fit_description(answer.description),
        "telegram_caption": fit_caption(answer.telegram_caption),
        "tags": fit_tags(answer.tags),
        "hashtags": fit_hashtags(answer.hashtags, hashtags),
    }


def metadata_of_clip(document: dict[str, Any], artifact_name: str) -> dict[str, Any] | None:
    """The texts `metadata.json` holds for the clip file `artifact_name`, or None."""
    for entry in document.get("clips", []):
        if artifact_name in entry.get("clips", []):
            return dict(entry)
    return None


def _clip_text(transcript: dict[str, Any], start: float, end: float) -> str:
    words = [
        word["word"]
        for segment in transcript.get("segments", [])
        for word in segment.get("words") or []
        if start <= word["start"] < end
    ]
    if words:
        return "".join(words).strip()
    return " ".join(
        s["text"] for s in transcript.get("segments", []) if s["start"] < end and start < s["end"]
    ).strip()


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " …"


class Metadata(Component):
    name = "metadata"
    version = "2"  # 2: the prompts name the language (metadata.clip/video v2)
    # Registered after clips: when both are in a plan, this runs after it and names its files.
    requires = ("highlights", "transcribe")
    defaults: ClassVar[dict[str, Any]] = {
        #: How many hashtags to ask for (at most 15).
        "hashtags": 5,
        #: Also describe the whole video, not only its clips.
        "video": True,
    }
    weight = 0.5

    @classmethod
    def resolve_params(cls, settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
        params = super().resolve_params(settings, overrides)
        if not 0 <= int(params["hashtags"]) <= MAX_HASHTAGS:
            raise ValueError(f"metadata: hashtags must be between 0 and {MAX_HASHTAGS}")
        params["llm"] = signature_param("metadata", settings)
        return params

    def run(self, ctx: ComponentContext) -> ComponentResult:
        transcript = ctx.read_json("transcript.json")
        if not str(transcript.get("text") or "").strip():
            return ComponentResult(skipped_reason="the transcript is empty: there is nothing to describe")
        highlights = ctx.read_json("highlights.json")["highlights"]
        subjects = self._subjects(ctx, highlights)
        language = transcript.get("language") or None
        model = ModelCalls(ctx, self.name)
        total = len(subjects) + (1 if ctx.params["video"] else 0)
        clips: list[dict[str, Any]] = []
        for index, subject in enumerate(subjects):
            ctx.progress(index / total, f"describing clip {subject['rank']}")
            text = _clip_text(transcript, float(subject["start"]), float(subject["end"]))
            prompt = get_prompt("metadata.clip").render(
                language=transcript_language_name(language),
                duration=f"{float(subject['end']) - float(subject['start']):.0f}",
                hint=str(subject.get("title") or ""),
                text=_cut(text, CLIP_TEXT_CHARS),
                hashtags=str(ctx.params["hashtags"]),
            )
            clips.append({**subject, **self._describe(model, prompt, language)})
        document: dict[str, Any] = {"language": language, "clips": clips}
        if ctx.params["video"]:
            ctx.progress(len(subjects) / total, "describing the whole video")
            prompt = get_prompt("metadata.video").render(
                language=transcript_language_name(language),
                duration=f"{float(transcript.get('duration') or 0) / 60:.0f}",
                moments="\n".join(f"- {c['title']}" for c in clips) or "-",
                text=_cut(str(transcript["text"]), VIDEO_TEXT_CHARS),
                hashtags=str(ctx.params["hashtags"]),
            )
            document["video"] = self._describe(model, prompt, language)
        document["model"] = model.signature
        out = ctx.output(METADATA_ARTIFACT)
        out.write_text(json.dumps(document, indent=1, ensure_ascii=False))
        ctx.progress(1.0)
        return ComponentResult(
            [ProducedArtifact(METADATA_ARTIFACT, out, "json", "application/json")],
            {
                "clips": len(clips),
                "video": bool(ctx.params["video"]),
                "language": language,
                **model.summary(),
            },
            llm_calls=model.calls,
        )

    def _describe(self, model: ModelCalls, prompt: Any, language: str | None) -> dict[str, Any]:
        answer = model.ask(prompt, PublishingText, purpose="metadata", language=language, max_tokens=900)
        return fit_metadata(answer, int(model.ctx.params["hashtags"]))

    @staticmethod
    def _subjects(ctx: ComponentContext, highlights: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The highlights to describe: those clips were cut from (with their files) when clips
        ran, otherwise every highlight."""
        try:
            listing = ctx.read_json("clips/clips.json")
        except ComponentInputMissing:
            listing = None
        by_rank = {h["rank"]: h for h in highlights}
        if listing is None:
            return [
                {"rank": h["rank"], "start": h["start"], "end": h["end"], "title": h["title"], "clips": []}
                for h in highlights
            ]
        subjects: dict[int, dict[str, Any]] = {}
        for clip in listing:
            highlight = by_rank.get(clip["rank"], clip)
            subject = subjects.setdefault(
                clip["rank"],
                {
                    "rank": clip["rank"],
                    "start": clip["start"],
                    "end": clip["end"],
                    "title": highlight.get("title", ""),
                    "clips": [],
                },
            )
            subject["clips"].append(clip["name"])
        return list(subjects.values())
