"""The OpenAI-compatible engine against the real-protocol stand-in: streaming, usage, the
json_schema request and its json_object fallback, retries of 429/5xx after Retry-After, no
retries of refusals, and a stalled server given up on."""

from __future__ import annotations

import email.utils
import itertools
import threading
import time
from typing import Any

import pytest

from kadr.config import Settings
from kadr.core.errors import Cancelled
from kadr.llm.engines.base import ChatRequest
from kadr.llm.engines.openai import MAX_INLINE_WAIT_SECONDS, OpenAIEngine, retry_after_seconds
from kadr.llm.errors import LLMNotConfigured, LLMRefused, LLMUnavailable
from tests.llm.conftest import VERDICT_JSON, Verdict, gateway_for, llm_settings, verdict_prompt
from tests.support.openai_server import Failure, OpenAIServer, Reply

MESSAGES = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say one two three"})


def engine_for(settings: Settings, server: OpenAIServer, **overrides: Any) -> OpenAIEngine:
    return OpenAIEngine(llm_settings(settings, server, **overrides))


def ask(engine: OpenAIEngine, **options: Any) -> Any:
    return engine.complete(ChatRequest(messages=MESSAGES, max_tokens=50, **options))


def gaps(server: OpenAIServer) -> list[float]:
    """Seconds between the requests the stand-in received."""
    times = [received.at for received in server.requests]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_streams_the_answer_and_takes_tokens_from_the_usage_chunk(
    settings: Settings, server: OpenAIServer
) -> None:
    server.answer = lambda body: "one two three four"
    progress: list[int] = []
    completion = ask(engine_for(settings, server), on_tokens=progress.append)
    assert completion.text == "one two three four"
    assert completion.finish_reason == "stop" and completion.attempts == 1
    # The stand-in's usage: words of the prompt, chunks of the answer.
    assert (completion.tokens_in, completion.tokens_out) == (6, 4)
    assert progress == [1, 2, 3, 4]
    (received,) = server.requests
    assert received.body["stream"] is True
    assert received.body["stream_options"] == {"include_usage": True}
    assert received.body["model"] == server.model and received.body["max_tokens"] == 50
    assert received.headers["authorization"] == f"Bearer {server.api_key}"
    assert "response_format" not in received.body


def test_without_usage_the_chunks_are_counted(settings: Settings, server: OpenAIServer) -> None:
    server.send_usage = False
    server.answer = lambda body: "one two three"
    completion = ask(engine_for(settings, server))
    assert completion.tokens_out == 3
    assert completion.tokens_in > 0  # estimated from the prompt, so the budget still counts it


def test_a_server_answering_plain_json_despite_stream_works(settings: Settings, server: OpenAIServer) -> None:
    server.ignore_stream = True
    server.answer = lambda body: "one two three"
    progress: list[int] = []
    completion = ask(engine_for(settings, server), on_tokens=progress.append)
    assert completion.text == "one two three"
    assert (completion.tokens_in, completion.tokens_out) == (6, 3)
    assert progress == [3]


def test_json_schema_is_sent_strict(settings: Settings, server: OpenAIServer) -> None:
    server.answer = lambda body: VERDICT_JSON
    answer = gateway_for(settings, server).generate_object(verdict_prompt(), Verdict, purpose="test")
    assert answer.value.score == 7
    (received,) = server.requests  # the stand-in checks strictness as OpenAI does, and took it
    response_format = received.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Verdict"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == ["note", "reasons", "score", "title"]
    reason = schema["$defs"]["Reason"]
    assert reason["additionalProperties"] is False and sorted(reason["required"]) == ["text", "weight"]


def test_a_schema_strict_mode_cannot_express_is_sent_not_strict(
    settings: Settings, server: OpenAIServer
) -> None:
    from pydantic import BaseModel

    class Counts(BaseModel):
        counts: dict[str, int]

    server.answer = lambda body: '{"counts": {"a": 1}}'
    answer = gateway_for(settings, server).generate_object(verdict_prompt(), Counts, purpose="test")
    assert answer.value.counts == {"a": 1}
    (received,) = server.requests
    json_schema = received.body["response_format"]["json_schema"]
    assert json_schema["strict"] is False
    assert json_schema["schema"]["properties"]["counts"]["additionalProperties"] == {"type": "integer"}


def test_a_server_refusing_json_schema_gets_json_object_and_it_is_remembered(
    settings: Settings, server: OpenAIServer
) -> None:
    server.refuse_json_schema = True
    server.answer = lambda body: VERDICT_JSON
    gateway = gateway_for(settings, server)
    assert gateway.generate_object(verdict_prompt(), Verdict, purpose="test").call.outcome == "ok"
    assert [received.body["response_format"]["type"] for received in server.requests] == [
        "json_schema",
        "json_object",
    ]
    # json_object carries no schema: the model reads it in the system message.
    system = server.requests[1].body["messages"][0]
    assert (
        system["role"] == "system" and '"score"' in system["content"] and "JSON schema" in system["content"]
    )
    assert len(server.requests[1].body["messages"]) == 2
    # Later calls go straight to json_object.
    gateway.generate_object(verdict_prompt("another talk"), Verdict, purpose="test")
    assert [received.body["response_format"]["type"] for received in server.requests[2:]] == ["json_object"]


def test_429_is_retried_after_retry_after_seconds(settings: Settings, server: OpenAIServer) -> None:
    server.then(Failure(429, "Rate limit reached", retry_after="1", type="requests"))
    completion = ask(engine_for(settings, server))
    assert completion.text == "ok" and completion.attempts == 2
    assert len(server.requests) == 2
    assert gaps(server)[0] >= 0.9


def test_429_is_retried_after_a_retry_after_date(settings: Settings, server: OpenAIServer) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: 1 to 2 s away
    server.then(Failure(429, "Rate limit reached", retry_after=when))
    completion = ask(engine_for(settings, server))
    assert completion.attempts == 2
    assert gaps(server)[0] >= 0.9


def test_500_is_retried_with_backoff(settings: Settings, server: OpenAIServer) -> None:
    server.then(Failure(500, "The server had an error"), Failure(502, "Bad gateway", retry_after="0"))
    completion = ask(engine_for(settings, server))
    assert completion.text == "ok" and completion.attempts == 3
    assert gaps(server)[0] >= 0.9  # the first backoff step, 1 s


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_refusal_is_not_retried(settings: Settings, server: OpenAIServer, status: int) -> None:
    server.then(Failure(status, "Unsupported value: 'temperature'", type="invalid_request_error"))
    with pytest.raises(LLMRefused) as caught:
        ask(engine_for(settings, server))
    assert len(server.requests) == 1
    assert f"HTTP {status}" in str(caught.value) and "Unsupported value: 'temperature'" in str(caught.value)
    assert caught.value.status == 502 and caught.value.slug == "llm-refused"


def test_a_wrong_api_key_is_refused_once(settings: Settings, server: OpenAIServer) -> None:
    from pydantic import SecretStr

    with pytest.raises(LLMRefused, match="HTTP 401: Incorrect API key"):
        ask(engine_for(settings, server, llm_api_key=SecretStr("sk-wrong")))
    assert len(server.requests) == 1


def test_retries_exhausted_is_unavailable_with_when_to_try_again(
    settings: Settings, server: OpenAIServer
) -> None:
    server.then(Failure(503, "overloaded", retry_after="0"), Failure(503, "overloaded", retry_after="0"))
    server.then(Failure(503, "overloaded", retry_after="7"))
    with pytest.raises(LLMUnavailable) as caught:
        ask(engine_for(settings, server, llm_max_retries=2))
    assert len(server.requests) == 3
    error = caught.value
    assert error.retry_after_seconds == 7 and error.headers["Retry-After"] == "7"
    assert error.status == 503 and error.slug == "llm-unavailable"
    assert "after 3 attempts" in str(error) and "overloaded" in str(error)


def test_retries_exhausted_without_retry_after_still_says_when(
    settings: Settings, server: OpenAIServer
) -> None:
    server.then(Failure(500, "broken"))
    with pytest.raises(LLMUnavailable) as caught:
        ask(engine_for(settings, server, llm_max_retries=0))
    assert caught.value.retry_after_seconds is not None and caught.value.retry_after_seconds > 0
    assert len(server.requests) == 1


def test_a_long_retry_after_goes_back_to_the_caller_at_once(settings: Settings, server: OpenAIServer) -> None:
    wait = MAX_INLINE_WAIT_SECONDS * 4
    server.then(Failure(429, "Rate limit reached", retry_after=str(int(wait))))
    with pytest.raises(LLMUnavailable) as caught:
        ask(engine_for(settings, server))
    assert caught.value.retry_after_seconds == wait
    assert caught.value.headers["Retry-After"] == str(int(wait))
    assert len(server.requests) == 1  # no second request: the job retries later instead


def test_a_stalled_stream_is_given_up_on(settings: Settings, server: OpenAIServer) -> None:
    server.then(Reply("one two three four five", stall_after_chunks=2))
    progress: list[int] = []
    with pytest.raises(LLMUnavailable, match="timed out"):
        ask(
            engine_for(settings, server, llm_timeout_seconds=1.0, llm_max_retries=0),
            on_tokens=progress.append,
        )
    assert progress == [1, 2]
    assert len(server.requests) == 1


def test_a_stalled_stream_is_retried(settings: Settings, server: OpenAIServer) -> None:
    server.then(Reply("one two three four five", stall_after_chunks=2), Reply("one two three four five"))
    progress: list[int] = []
    gateway = gateway_for(settings, server, llm_timeout_seconds=1.0, llm_max_retries=1)
    answer = gateway.generate_text(verdict_prompt(), purpose="test", on_tokens=progress.append)
    assert answer.text == "one two three four five" and answer.call.attempts == 2
    # Progress never goes back when the retried stream counts from one again.
    assert progress == sorted(set(progress)) and progress[-1] == 5


def test_a_slow_first_chunk_within_the_timeout_is_waited_for(
    settings: Settings, server: OpenAIServer
) -> None:
    server.then(Reply("late but fine", delay=0.5))
    assert ask(engine_for(settings, server, llm_timeout_seconds=2.0)).text == "late but fine"


def test_cancelling_stops_the_stream(settings: Settings, server: OpenAIServer) -> None:
    server.answer = lambda body: " ".join(f"word{index}" for index in range(50))
    progress: list[int] = []

    def check_cancelled() -> None:
        if len(progress) >= 3:
            raise Cancelled("the run was cancelled")

    gateway = gateway_for(settings, server)
    with pytest.raises(Cancelled) as caught:
        gateway.generate_text(
            verdict_prompt(), purpose="test", on_tokens=progress.append, check_cancelled=check_cancelled
        )
    assert 3 <= len(progress) < 50
    assert caught.value.llm_call.outcome == "cancelled"  # type: ignore[attr-defined]
    assert len(server.requests) == 1


def test_cancelling_during_a_retry_wait_stops_it(settings: Settings, server: OpenAIServer) -> None:
    server.then(Failure(429, "Rate limit reached", retry_after=str(int(MAX_INLINE_WAIT_SECONDS - 5))))
    cancelled = threading.Event()

    def check_cancelled() -> None:
        if cancelled.is_set():
            raise Cancelled("shutting down")

    timer = threading.Timer(0.5, cancelled.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        ask(engine_for(settings, server), check_cancelled=check_cancelled)
    assert time.monotonic() - started < MAX_INLINE_WAIT_SECONDS - 10  # not the whole wait
    assert len(server.requests) == 1


def test_engine_needs_a_url_and_a_model(settings: Settings) -> None:
    with pytest.raises(LLMNotConfigured, match="KADR_LLM_URL and KADR_LLM_MODEL"):
        OpenAIEngine(settings.model_copy(update={"llm_engine": "openai"}))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: now
        ("Wed, 21 Oct 2015 07:28:10 -0000", 10.0),  # no zone is GMT
        ("soon", None),
        ("", None),
        (None, None),
        ("-3", 0.0),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    assert retry_after_seconds(value, now=now) == seconds
