"""highlights with `engine: llm`: the local scorer proposes whole-sentence windows, the model
(the OpenAI stand-in, speaking the real protocol) chooses, titles and scores them; cut points
never come from the model; a wrong candidate number is asked again; a model that stays wrong
fails the component with the reason, one that is down leaves the run's job to retry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kadr.config import Settings
from kadr.core.errors import PermanentJobError
from kadr.llm.errors import LLMUnavailable
from kadr.pipeline.base import llm_calls_of
from kadr.pipeline.components.highlights import propose_candidates, sentences_of
from tests.pipeline.components.conftest import Bench
from tests.support.openai_server import Failure, OpenAIServer, Reply
from tests.support.pipeline_llm import apart, candidate_numbers, first_user_message, ranking


def model_bench(talk: Bench, tmp_path: Path, server: OpenAIServer, **settings: Any) -> Bench:
    """The talk's transcript and loudness, with a gateway pointed at the stand-in."""
    configured = Settings(data_dir=tmp_path / "var", **{**server.settings(), **settings})
    return Bench(talk.source, tmp_path / "work", configured, dict(talk.results))


def test_the_model_chooses_and_names_moments_cut_on_sentence_boundaries(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.answer = ranking
    bench = model_bench(talk, tmp_path, openai_server)
    result = bench.run("highlights", engine="llm", count=2, min_seconds=10, max_seconds=30)

    [request] = openai_server.requests
    shown = first_user_message(request.body)
    numbers = candidate_numbers(request.body)
    assert 2 < len(numbers) <= 6, "up to three candidates per moment wanted"
    assert "Nobody remembers a vague promise" in shown, "candidates are shown with their text"
    assert "in the language of the transcript (English)" in shown
    schema = request.body["response_format"]["json_schema"]["schema"]
    moments = schema["properties"]["moments"]
    assert moments["maxItems"] == 20
    assert schema["$defs"]["RankedMoment"]["properties"]["title"]["maxLength"] == 100

    document = bench.json("highlights.json")
    candidates = {c["number"]: c for c in document["candidates"]}
    highlights = document["highlights"]
    chosen = apart(request.body)
    assert len(chosen) == 2 and chosen != numbers[:2], "the model's choice, not the scorer's"
    assert [h["candidate"] for h in highlights] == chosen
    assert [h["rank"] for h in highlights] == [1, 2]
    assert [h["score"] for h in highlights] == [0.9, 0.8]
    assert highlights[0]["title"] == f"Moment {chosen[0]}: the part people share"
    assert highlights[0]["reason"].startswith(f"Candidate {chosen[0]} makes one complete point")
    transcript = talk.json("transcript.json")
    starts = {round(max(0.0, s.start - 0.15), 3) for s in sentences_of(transcript)}
    ends = {round(min(transcript["duration"], s.end + 0.3), 3) for s in sentences_of(transcript)}
    for highlight in highlights:
        candidate = candidates[highlight["candidate"]]
        assert (highlight["start"], highlight["end"]) == (candidate["start"], candidate["end"])
        assert highlight["start"] in starts and highlight["end"] in ends, "whole sentences only"
        assert highlight["local_reason"].startswith("speech at")
    assert document["model"] == "openai:standin-1"

    [call] = result.llm_calls
    assert (call.purpose, call.engine, call.model) == ("highlights", "openai", "standin-1")
    assert call.outcome == "ok"
    assert call.prompt_id == "highlights.rank" and call.tokens_in > 0 and call.tokens_out > 0
    assert result.summary["llm"] == "openai:standin-1" and result.summary["llm_calls"] == 1


def test_of_two_overlapping_choices_the_better_one_is_kept(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.answer = ranking
    bench = model_bench(talk, tmp_path, openai_server)
    bench.run("highlights", engine="llm", count=2, min_seconds=10, max_seconds=30)
    candidates = bench.json("highlights.json")["candidates"]
    better, worse = next(
        (a["number"], b["number"])
        for a in candidates
        for b in candidates
        if a["number"] != b["number"]
        and a["first_sentence"] <= b["last_sentence"]
        and b["first_sentence"] <= a["last_sentence"]
    )
    openai_server.answer = lambda body: ranking(body, [better, worse])
    result = bench.run("highlights", engine="llm", count=2, min_seconds=10, max_seconds=30)
    assert [h["candidate"] for h in bench.json("highlights.json")["highlights"]] == [better]
    assert result.summary["dropped_overlapping"] == 1


def test_candidates_are_distinct_moments_not_one_moment_cut_twice(talk: Bench) -> None:
    transcript = talk.json("transcript.json")
    candidates = propose_candidates(
        transcript, talk.json("audio/loudness.json"), limit=9, min_seconds=10, max_seconds=30,
        keywords=[], duration=transcript["duration"],
    )  # fmt: skip
    assert len(candidates) >= 3
    for a in candidates:
        for b in candidates:
            if a.number < b.number:
                inside = min(a.end, b.end) - max(a.start, b.start)
                assert inside <= 0.5 * min(a.end - a.start, b.end - b.start) + 1e-6, (a, b)


def test_an_unknown_candidate_number_is_asked_again(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.then(
        Reply(json.dumps({"moments": [{"candidate": 42, "title": "A", "reason": "B", "score": 0.5}]}))
    )
    openai_server.answer = ranking
    bench = model_bench(talk, tmp_path, openai_server)
    result = bench.run("highlights", engine="llm", count=1, min_seconds=10, max_seconds=30)
    first, second = openai_server.requests
    feedback = second.body["messages"][-1]["content"]
    assert "42 is not a candidate" in feedback and "1 to" in feedback
    [highlight] = bench.json("highlights.json")["highlights"]
    assert highlight["candidate"] in candidate_numbers(first.body)
    [call] = result.llm_calls
    assert call.outcome == "repaired" and call.attempts == 2


def test_a_model_that_stays_wrong_fails_the_component_with_the_reason(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.answer = lambda body: ranking(body, [0])
    bench = model_bench(talk, tmp_path, openai_server, llm_repair_attempts=1)
    with pytest.raises(PermanentJobError, match=r"highlights: .*0 is not a candidate") as failure:
        bench.run("highlights", engine="llm", count=1, min_seconds=10, max_seconds=30)
    [call] = llm_calls_of(failure.value)
    assert call.outcome == "invalid" and call.attempts == 2 and call.tokens_out > 0


def test_an_unavailable_model_is_left_for_the_job_to_retry(
    talk: Bench, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.then(Failure(503, "overloaded"))
    bench = model_bench(talk, tmp_path, openai_server, llm_max_retries=0)
    with pytest.raises(LLMUnavailable, match="HTTP 503: overloaded") as failure:
        bench.run("highlights", engine="llm", count=1, min_seconds=10, max_seconds=30)
    assert not isinstance(failure.value, PermanentJobError), "the worker retries what is not permanent"
    [call] = llm_calls_of(failure.value)
    assert call.outcome == "unavailable"
