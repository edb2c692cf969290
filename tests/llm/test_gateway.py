"""The gateway as its callers rely on it: a valid answer or a clear failure, re-asks that tell
the model what was wrong, the language asked for, and the cost of every call."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import BaseModel

from kadr.config import Settings
from kadr.llm.errors import LLMInvalidAnswer, LLMNotConfigured
from kadr.llm.gateway import LLMGateway, create_engine, get_gateway
from tests.llm.conftest import VERDICT_JSON, Verdict, gateway_for, llm_settings, verdict_prompt
from tests.support.openai_server import OpenAIServer, Reply

RUSSIAN_VERDICT = '{"title": "Спокойный разговор о садах", "score": 7, "note": "Для новичков", "reasons": []}'


def feedback_of(server: OpenAIServer, index: int) -> tuple[str, str]:
    """The rejected answer and the problem the gateway sent back in request `index`."""
    messages = server.requests[index].body["messages"]
    assert [message["role"] for message in messages[-2:]] == ["assistant", "user"]
    return messages[-2]["content"], messages[-1]["content"]


def test_a_valid_first_answer_is_ok(settings: Settings, server: OpenAIServer) -> None:
    server.answer = lambda body: VERDICT_JSON
    answer = gateway_for(settings, server).generate_object(verdict_prompt(), Verdict, purpose="rate")
    assert answer.value == Verdict(title="A calm talk", score=7)
    call = answer.call
    assert (call.outcome, call.attempts, call.error) == ("ok", 1, None)
    assert (call.engine, call.model, call.purpose) == ("openai", server.model, "rate")
    assert (call.prompt_id, call.prompt_version) == ("test.verdict", 1)
    assert call.prompt_hash == verdict_prompt().prompt_hash
    assert call.tokens_in > 0 and call.tokens_out == len(VERDICT_JSON.split())
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ('{"title": "A calm talk", "score": 7', "not closed"),
        ("I would rate it seven out of ten.", "holds no JSON object"),
        ('{"title": "A calm talk", "score": 42}', "score: Input should be less than or equal to 10"),
        ('{"score": 7}', "title: Field required"),
    ],
)
def test_a_malformed_or_invalid_answer_is_re_asked_with_the_reason(
    settings: Settings, server: OpenAIServer, bad: str, problem: str
) -> None:
    server.then(Reply(bad), Reply(VERDICT_JSON))
    answer = gateway_for(settings, server).generate_object(verdict_prompt(), Verdict, purpose="rate")
    assert answer.value.score == 7
    assert answer.call.outcome == "repaired" and answer.call.attempts == 2
    assert len(server.requests) == 2
    rejected, feedback = feedback_of(server, 1)
    assert rejected == bad
    assert problem in feedback
    # The re-ask is the same conversation, continued.
    assert server.requests[1].body["messages"][:2] == server.requests[0].body["messages"]


def test_a_check_problem_is_re_asked(settings: Settings, server: OpenAIServer) -> None:
    first = '{"title": "Gardens", "score": 7, "note": null, "reasons": []}'
    server.then(Reply(first), Reply(VERDICT_JSON))

    def check(verdict: Verdict) -> str | None:
        return "the title must name the talk's mood" if verdict.title == "Gardens" else None

    answer = gateway_for(settings, server).generate_object(
        verdict_prompt(), Verdict, purpose="rate", check=check
    )
    assert answer.value.title == "A calm talk" and answer.call.outcome == "repaired"
    rejected, feedback = feedback_of(server, 1)
    assert json.loads(rejected) == json.loads(first)
    assert "the title must name the talk's mood" in feedback


def test_an_answer_cut_off_at_max_tokens_is_re_asked_shorter(
    settings: Settings, server: OpenAIServer
) -> None:
    server.then(Reply('{"title": "A calm', finish_reason="length"), Reply(VERDICT_JSON))
    answer = gateway_for(settings, server).generate_object(
        verdict_prompt(), Verdict, purpose="rate", max_tokens=40
    )
    assert answer.call.outcome == "repaired"
    assert "cut off at 40 tokens" in feedback_of(server, 1)[1]


def test_still_invalid_after_the_repairs_is_llm_invalid_answer(
    settings: Settings, server: OpenAIServer
) -> None:
    bad = '{"title": "A calm talk", "score": 42}'
    server.answer = lambda body: bad
    gateway = gateway_for(settings, server, llm_repair_attempts=1)
    with pytest.raises(LLMInvalidAnswer) as caught:
        gateway.generate_object(verdict_prompt(), Verdict, purpose="rate")
    assert len(server.requests) == 2  # the first answer and one repair
    error = caught.value
    assert error.status == 502 and error.slug == "llm-invalid-answer"
    problem = error.to_problem()
    assert problem["type"].endswith("/llm-invalid-answer")
    assert "after 2 tries" in problem["detail"] and "score" in problem["detail"]
    call = error.llm_call  # type: ignore[attr-defined]
    assert call.outcome == "invalid" and call.attempts == 2
    assert call.tokens_out == 2 * len(bad.split())
    assert call.tokens_in > 0 and "score" in call.error


def test_repairs_raise_the_temperature(settings: Settings, server: OpenAIServer) -> None:
    server.then(Reply("no json"), Reply(VERDICT_JSON))
    gateway_for(settings, server).generate_object(verdict_prompt(), Verdict, purpose="rate", temperature=0.2)
    temperatures = [received.body["temperature"] for received in server.requests]
    assert temperatures[0] == 0.2 and temperatures[1] > 0.2


def test_english_answered_in_cyrillic_is_re_asked(settings: Settings, server: OpenAIServer) -> None:
    server.then(Reply(RUSSIAN_VERDICT), Reply(VERDICT_JSON))
    answer = gateway_for(settings, server).generate_object(
        verdict_prompt(), Verdict, purpose="rate", language="en"
    )
    assert answer.value.title == "A calm talk" and answer.call.outcome == "repaired"
    assert "must be written in en" in feedback_of(server, 1)[1]


@pytest.mark.parametrize(
    "drift",
    [
        '{"title": "A calm conversation about gardens", "score": 7, "note": "For beginners", "reasons": []}',
        '{"title": "关于花园的平静对话", "score": 7, "note": "适合初学者", "reasons": []}',
    ],
)
def test_russian_answered_in_latin_or_chinese_is_re_asked(
    settings: Settings, server: OpenAIServer, drift: str
) -> None:
    server.then(Reply(drift), Reply(RUSSIAN_VERDICT))
    answer = gateway_for(settings, server).generate_object(
        verdict_prompt(language="Russian"), Verdict, purpose="rate", language="ru"
    )
    assert answer.value.title == "Спокойный разговор о садах" and answer.call.outcome == "repaired"
    assert "must be written in ru (cyrillic letters)" in feedback_of(server, 1)[1]


def test_russian_with_brand_names_passes_first_time(settings: Settings, server: OpenAIServer) -> None:
    server.answer = lambda body: json.dumps(
        {"title": "Обзор iPhone 15 Pro Max", "score": 8, "note": "Снято на Sony FX3", "reasons": []},
        ensure_ascii=False,
    )
    answer = gateway_for(settings, server).generate_object(
        verdict_prompt(), Verdict, purpose="rate", language="ru"
    )
    assert answer.call.outcome == "ok" and len(server.requests) == 1


class Storyboard(BaseModel):
    class Scene(BaseModel):
        kind: Literal["voiceover", "closeup", "broll"]
        text: str

    scenes: list[Scene]


def test_enum_values_and_ids_do_not_count_as_english(settings: Settings, server: OpenAIServer) -> None:
    scenes = [{"kind": kind, "text": "Сад"} for kind in ("voiceover", "closeup", "broll") * 3]
    server.answer = lambda body: json.dumps({"scenes": scenes}, ensure_ascii=False)
    answer = gateway_for(settings, server).generate_object(
        verdict_prompt(), Storyboard, purpose="storyboard", language="ru"
    )
    assert answer.call.outcome == "ok" and len(answer.value.scenes) == 9


def test_text_in_the_wrong_language_or_empty_is_re_asked(settings: Settings, server: OpenAIServer) -> None:
    server.then(Reply("   "), Reply("This is English."), Reply("Это по-русски."))
    answer = gateway_for(settings, server, llm_repair_attempts=2).generate_text(
        verdict_prompt(), purpose="describe", language="ru"
    )
    assert answer.text == "Это по-русски." and answer.call.outcome == "repaired"
    assert "the answer was empty" in feedback_of(server, 1)[1]
    assert "must be written in ru" in feedback_of(server, 2)[1]
    assert "response_format" not in server.requests[0].body


def test_progress_grows_over_the_repairs(settings: Settings, server: OpenAIServer) -> None:
    server.then(Reply("not json at all"), Reply(VERDICT_JSON))
    progress: list[int] = []
    gateway_for(settings, server).generate_object(
        verdict_prompt(), Verdict, purpose="rate", on_tokens=progress.append
    )
    assert progress == sorted(set(progress))
    assert progress[-1] == 4 + len(VERDICT_JSON.split())  # the words of both answers


@pytest.mark.anyio
async def test_the_async_form_runs_off_the_event_loop(settings: Settings, server: OpenAIServer) -> None:
    server.answer = lambda body: VERDICT_JSON
    gateway = gateway_for(settings, server)
    answer = await gateway.agenerate_object(verdict_prompt(), Verdict, purpose="rate")
    text = await gateway.agenerate_text(verdict_prompt(), purpose="rate")
    assert answer.value.score == 7 and text.text == VERDICT_JSON


def test_the_signature_names_engine_and_model(settings: Settings, server: OpenAIServer) -> None:
    assert gateway_for(settings, server).signature == f"openai:{server.model}"


def test_get_gateway_is_not_configured_when_off(settings: Settings) -> None:
    off = settings.model_copy(update={"llm_engine": "off"})
    with pytest.raises(LLMNotConfigured, match="KADR_LLM_ENGINE=off") as caught:
        get_gateway(off)
    assert caught.value.status == 501


def test_get_gateway_reuses_one_gateway_per_configuration(settings: Settings, server: OpenAIServer) -> None:
    configured = llm_settings(settings, server)
    gateway = get_gateway(configured)
    assert isinstance(gateway, LLMGateway) and get_gateway(configured) is gateway
    # Any llm setting changed (not only the model) gives a gateway built with it.
    slower = get_gateway(configured.model_copy(update={"llm_timeout_seconds": 9.0}))
    assert slower is not gateway and slower.settings.llm_timeout_seconds == 9.0


def test_the_local_engine_without_its_runtime_is_not_configured(settings: Settings) -> None:
    from kadr.llm.engines.local import runtime_available

    if runtime_available():
        pytest.skip("llama-cpp-python is installed here: the local engine is tested with the model")
    local = settings.model_copy(update={"llm_engine": "local"})
    with pytest.raises(LLMNotConfigured, match="llama-cpp-python") as caught:
        create_engine(local)
    assert caught.value.status == 501
    with pytest.raises(LLMNotConfigured):
        get_gateway(local)
