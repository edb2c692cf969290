"""highlights component: whole sentences, non-overlapping, ranked, explained."""

from __future__ import annotations

import itertools

from kadr.pipeline.components.highlights import rank_highlights, sentences_of
from tests.pipeline.components.conftest import Bench


def test_highlights_are_whole_sentences_ranked_and_explained(talk: Bench) -> None:
    highlights = talk.json("highlights.json")["highlights"]
    transcript = talk.json("transcript.json")
    assert highlights
    sentences = sentences_of(transcript)
    starts = [s.start for s in sentences]
    ends = [s.end for s in sentences]
    for h in highlights:
        assert 15 <= h["duration"] <= 60 + 0.5
        # Never mid-sentence: a highlight begins just before a sentence and ends just after one.
        assert any(abs(h["start"] - (s - 0.15)) < 0.01 or h["start"] == 0 for s in starts), h
        assert (
            any(abs(h["end"] - (e + 0.3)) < 0.01 for e in ends) or h["end"] >= transcript["duration"] - 0.01
        ), h
        assert h["title"] and h["reason"].startswith("speech at")
    spans = sorted((h["start"], h["end"]) for h in highlights)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    assert [h["score"] for h in highlights] == sorted((h["score"] for h in highlights), reverse=True)
    assert [h["rank"] for h in highlights] == list(range(1, len(highlights) + 1))


def test_keywords_steer_the_ranking(talk: Bench) -> None:
    transcript = talk.json("transcript.json")
    loudness = talk.json("audio/loudness.json")
    steered = rank_highlights(
        transcript, loudness, count=1, min_seconds=5, max_seconds=12, keywords=["train", "captions", "sound"],
        duration=transcript["duration"],
    )  # fmt: skip
    assert "captions" in steered[0]["reason"] or "train" in steered[0]["reason"]


def test_short_speech_becomes_one_highlight_and_no_speech_none() -> None:
    short = {
        "duration": 4.0,
        "segments": [{"start": 0.5, "end": 3.0, "text": "Hello there.", "words": [
            {"start": 0.5, "end": 1.0, "word": " Hello"}, {"start": 1.1, "end": 3.0, "word": " there."}]}],
    }  # fmt: skip
    one = rank_highlights(short, None, count=3, min_seconds=15, max_seconds=60, keywords=[], duration=4.0)
    assert len(one) == 1 and "shorter than 15s" in one[0]["reason"]
    assert (
        rank_highlights(
            {"segments": []}, None, count=3, min_seconds=15, max_seconds=60, keywords=[], duration=9
        )
        == []
    )
