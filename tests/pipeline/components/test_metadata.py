"""metadata component: texts per clip and for the video, in the transcript's language, and
within every platform's limits whatever the model wrote (YouTube: title ≤ 100 characters, no
< or >; description ≤ 5000 bytes; tags ≤ 500 characters; at most 15 hashtags, each #word;
Telegram: caption ≤ 1024 characters)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kadr.config import Settings
from kadr.core.errors import ValidationFailed
from kadr.pipeline.components.metadata import (
    MAX_HASHTAGS,
    PublishingText,
    fit_hashtags,
    fit_metadata,
    fit_tags,
    metadata_of_clip,
    truncate_words,
)
from kadr.runs.profiles import resolve_plan
from tests.pipeline.components.conftest import Bench
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.pipeline_llm import (
    careless_publishing_text,
    first_user_message,
    publishing_text,
    schema_name,
)


def youtube_tags_length(tags: list[str]) -> int:
    """How YouTube counts tags: commas between them, quotes around a tag with a space."""
    return len(",".join(tags)) + 2 * sum(" " in tag for tag in tags)


def model_bench(talk: Bench, tmp_path: Path, server: OpenAIServer) -> Bench:
    settings = Settings(data_dir=tmp_path / "var", **server.settings())
    return Bench(talk.source, tmp_path / "work", settings, dict(talk.results))


# --- the limits, in code ----------------------------------------------------------------------
def test_text_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    assert truncate_words("short enough", 12) == "short enough"
    assert truncate_words("The quick brown fox jumps", 17) == "The quick brown…"
    assert truncate_words("The quick brown, fox", 17) == "The quick brown…", "no dangling comma"
    assert truncate_words("Supercalifragilistic", 8) == "Superca…", "one long word is cut inside"
    russian = "Почему короткие клипы работают лучше длинных видео"
    cut = truncate_words(russian, 40, "bytes")
    assert len(cut.encode()) <= 40 and cut == "Почему короткие…"
    emoji = "🎬 " * 20 + "end"
    cut = truncate_words(emoji, 10, "utf16")
    assert len(cut.encode("utf-16-le")) // 2 <= 10 and cut.endswith("🎬…")


def test_an_answer_past_every_limit_is_fitted_to_the_platforms() -> None:
    answer = PublishingText.model_validate_json(careless_publishing_text())
    fitted = fit_metadata(answer, hashtags=MAX_HASHTAGS)
    assert len(fitted["title"]) <= 100 and fitted["title"].endswith("…")
    assert "<" not in fitted["title"] + fitted["description"]
    assert ">" not in fitted["title"] + fitted["description"]
    assert fitted["title"].startswith("Why this matters really")
    assert 4900 < len(fitted["description"].encode()) <= 5000
    cleaned = answer.description.replace("<", "").replace(">", "")
    kept = fitted["description"].removesuffix("…")
    assert cleaned.startswith(kept) and cleaned[len(kept)] == " ", "cut after a whole word"
    assert len(fitted["telegram_caption"]) <= 1024
    assert youtube_tags_length(fitted["tags"]) <= 500 and len(fitted["tags"]) >= 10
    assert fitted["hashtags"] == [f"#tag{index}" for index in range(15)]


def test_multibyte_descriptions_are_counted_in_bytes() -> None:
    description = "Слово за словом, и так далее. " * 200  # ~10 000 bytes, 6000 characters
    answer = PublishingText(
        title="Слово", description=description[:6000], telegram_caption="Слово", tags=[], hashtags=[]
    )
    fitted = fit_metadata(answer)["description"]
    assert len(fitted.encode()) <= 5000 and len(fitted) < 3000, "bytes, not characters"
    assert fitted.endswith("далее…"), "no full stop before the ellipsis"


def test_tags_and_hashtags_are_cleaned() -> None:
    assert fit_tags(["#video", "Video", "cats, dogs", "<b>", "  many   spaces "]) == [
        "video",
        "cats dogs",
        "b",
        "many spaces",
    ]
    long_tags = ["x" * 98 for _ in range(10)]
    kept = fit_tags([*long_tags, "short"])
    assert youtube_tags_length(kept) <= 500 and kept[-1] == "short", "a shorter later tag still fits"
    assert fit_hashtags(["#Short clips", "shortclips", "#ShortClips", "#!!", "ok_1"]) == [
        "#Shortclips",
        "#ok_1",
    ]
    assert len(fit_hashtags([f"#h{i}" for i in range(40)], limit=99)) == MAX_HASHTAGS
    assert fit_hashtags(["#a"], limit=0) == []


def test_hashtags_and_the_model_are_parameters(tmp_path: Path, openai_server: OpenAIServer) -> None:
    settings = Settings(data_dir=tmp_path, **openai_server.settings())
    plan = resolve_plan(settings, {"metadata": {"hashtags": 15}})
    assert plan["metadata"]["llm"] == "openai:standin-1"
    assert list(plan).index("metadata") > list(plan).index("highlights")
    with pytest.raises(ValidationFailed, match="hashtags must be between 0 and 15"):
        resolve_plan(settings, {"metadata": {"hashtags": 16}})
    with pytest.raises(ValidationFailed, match="metadata needs a language model"):
        resolve_plan(Settings(data_dir=tmp_path, llm_engine="off"), {"metadata": {}})


# --- the component ----------------------------------------------------------------------------
def test_each_clip_and_the_video_get_texts_naming_the_clip_files(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.then(Reply(careless_publishing_text()))  # the first clip's texts run long
    openai_server.answer = publishing_text
    bench = model_bench(talk, tmp_path, openai_server)
    bench.run("clips", count=2, aspects=["9:16"], preset="ultrafast", resolution="source")
    result = bench.run("metadata", hashtags=15)

    document = bench.json("metadata.json")
    highlights = bench.json("highlights.json")["highlights"]
    clips = bench.json("clips/clips.json")
    assert [entry["rank"] for entry in document["clips"]] == [1, 2]
    for entry, clip in zip(document["clips"], clips, strict=True):
        assert entry["clips"] == [clip["name"]]
        assert (entry["start"], entry["end"]) == (clip["start"], clip["end"])
        assert metadata_of_clip(document, clip["name"]) == entry
    careless, careful = document["clips"]
    assert len(careless["title"]) <= 100 and "<" not in careless["title"]
    assert len(careless["description"].encode()) <= 5000 and ">" not in careless["description"]
    assert len(careless["telegram_caption"]) <= 1024
    assert youtube_tags_length(careless["tags"]) <= 500
    assert len(careless["hashtags"]) == 15
    assert careful["title"] == f"Watch: {highlights[1]['title']}"
    assert careful["hashtags"] == ["#video", "#talk", "#shortclips"]
    assert careful["telegram_caption"].startswith(careful["title"])
    assert document["video"]["title"] == "The whole talk in one video"
    assert document["language"] == "en" and document["model"] == "openai:standin-1"

    prompts = [first_user_message(r.body) for r in openai_server.requests]
    assert [schema_name(r.body) for r in openai_server.requests] == ["PublishingText"] * 3
    first_words = _spoken(talk, clips[0]["start"], clips[0]["end"])[:40]
    assert first_words in prompts[0], "the clip prompt carries what is said in the clip"
    assert all("in the language of the transcript (English)" in prompt for prompt in prompts)
    assert f"- {document['clips'][0]['title']}" in prompts[2], "the video prompt lists the moments"
    assert [call.purpose for call in result.llm_calls] == ["metadata"] * 3
    assert result.summary["llm_calls"] == 3 and result.summary["clips"] == 2
    assert metadata_of_clip(document, "clips/clip_09_9x16.mp4") is None


def test_without_clips_every_highlight_is_described(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.answer = publishing_text
    bench = model_bench(talk, tmp_path, openai_server)
    bench.run("metadata", video=False)
    document = bench.json("metadata.json")
    highlights = bench.json("highlights.json")["highlights"]
    assert [entry["rank"] for entry in document["clips"]] == [h["rank"] for h in highlights]
    assert all(entry["clips"] == [] for entry in document["clips"])
    assert "video" not in document and len(openai_server.requests) == len(highlights)


def test_an_empty_transcript_is_skipped_without_asking(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    bench = model_bench(talk, tmp_path, openai_server)
    silent = bench.workdir / "silent" / "transcript.json"
    silent.parent.mkdir(parents=True)
    silent.write_text(json.dumps({"language": "en", "duration": 3.0, "text": "", "segments": []}))
    transcribe = bench.results["transcribe"]
    bench.results["transcribe"] = replace(
        transcribe,
        artifacts=[
            replace(a, path=silent) if a.name == "transcript.json" else a for a in transcribe.artifacts
        ],
    )
    result = bench.run("metadata")
    assert result.skipped_reason == "the transcript is empty: there is nothing to describe"
    assert openai_server.requests == []


def _spoken(bench: Bench, start: float, end: float) -> str:
    transcript: dict[str, Any] = bench.json("transcript.json")
    return "".join(
        w["word"] for s in transcript["segments"] for w in s["words"] if start <= w["start"] < end
    ).strip()
