"""Revisions' edits: word timings for new text, what runs again, a hash of their own."""

from __future__ import annotations

import itertools

import pytest

from kadr.config import Settings
from kadr.core.errors import ValidationFailed
from kadr.runs.profiles import config_hash, resolve_plan
from kadr.runs.revisions import (
    HighlightEdit,
    SegmentEdit,
    components_to_run,
    edit_highlights,
    edit_transcript,
    retime_words,
    revision_hash,
)

WORDS = [
    {"start": 1.0, "end": 1.4, "word": " Hello", "probability": 0.9},
    {"start": 1.5, "end": 2.0, "word": " wrold", "probability": 0.4},
]


def test_as_many_words_keep_their_timings_and_more_share_the_span_out() -> None:
    same = retime_words(WORDS, "Hello world")
    assert [(w["start"], w["end"], w["word"]) for w in same] == [(1.0, 1.4, " Hello"), (1.5, 2.0, " world")]
    more = retime_words(WORDS, "Hello big world")
    assert [w["word"] for w in more] == [" Hello", " big", " world"]
    assert more[0]["start"] == 1.0 and more[-1]["end"] == 2.0
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(more))


def test_transcript_edits_change_the_segment_and_the_whole_text() -> None:
    transcript = {
        "text": "Hello wrold",
        "segments": [{"start": 1.0, "end": 2.0, "text": "Hello wrold", "words": WORDS}],
    }
    edited = edit_transcript(transcript, [SegmentEdit(0, "  Hello   world ")])
    assert edited["text"] == "Hello world" and edited["segments"][0]["edited"] is True
    assert transcript["segments"][0]["text"] == "Hello wrold", "the original is left as it was"
    with pytest.raises(ValidationFailed, match=r"segments\.0\.text"):
        edit_transcript(transcript, [SegmentEdit(0, "")])
    with pytest.raises(ValidationFailed, match="no segment 3"):
        edit_transcript(transcript, [SegmentEdit(3, "x")])


def test_highlight_edits_stay_within_the_video() -> None:
    document = {"highlights": [{"rank": 1, "start": 2.0, "end": 9.0, "duration": 7.0}]}
    edited = edit_highlights(document, [HighlightEdit(0, 3.0, 8.5)], duration=10.0)
    assert edited["highlights"][0] | {"edited": True} == edited["highlights"][0]
    assert (edited["highlights"][0]["start"], edited["highlights"][0]["duration"]) == (3.0, 5.5)
    with pytest.raises(ValidationFailed, match="within the video"):
        edit_highlights(document, [HighlightEdit(0, 3.0, 11.0)], duration=10.0)
    with pytest.raises(ValidationFailed, match="before end"):
        edit_highlights(document, [HighlightEdit(0, 4.0, 4.0)], duration=10.0)


def test_only_what_reads_the_edits_runs_again(settings: Settings) -> None:
    plan = resolve_plan(
        settings, {"clips": {}, "subtitles": {}, "thumbnails": {}, "translate": {"languages": ["es"]}}
    )
    assert components_to_run(plan, {"transcribe"}) == ["clips", "subtitles", "translate"]
    assert components_to_run(plan, {"highlights"}) == ["clips"]
    assert components_to_run(plan, {"transcribe", "highlights"}) == ["clips", "subtitles", "translate"]


def test_a_revision_never_shares_a_config_hash_with_a_fresh_run(settings: Settings) -> None:
    plan = resolve_plan(settings, {"clips": {}})
    parent = config_hash(plan)
    first = revision_hash(parent, {"segments": [[0, "a"]]})
    assert first != parent and first != revision_hash(parent, {"segments": [[0, "b"]]})
    assert first == revision_hash(parent, {"segments": [[0, "a"]]})
