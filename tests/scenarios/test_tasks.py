"""Generation as a job on the `llm` queue, against the OpenAI stand-in: queued -> generating ->
ready | failed, re-asks with the exact problem, the render cache, retries, 501 and 429."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from kadr.config import Settings
from kadr.llm.engines.local import runtime_available
from kadr.llm.model_files import describe_local_model
from kadr.scenarios.checks import max_words
from tests.scenarios.conftest import ClientWith
from tests.support.api import assert_problem, register
from tests.support.openai_server import Failure, OpenAIServer, Reply
from tests.support.scenarios import misfit, scriptwriter, talkative, wait_for_scenario

pytestmark = pytest.mark.anyio
BRIEF = {"topic": "Why cats sleep all day", "audience": "pet owners", "tone": "warm", "duration_s": 60}


async def generate(client: httpx.AsyncClient, headers: dict[str, str], **brief: Any) -> dict[str, Any]:
    response = await client.post("/v1/scenarios/generate", headers=headers, json={**BRIEF, **brief})
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/v1/scenarios/{response.json()['id']}"
    queued: dict[str, Any] = response.json()
    assert queued["status"] == "queued" and queued["progress"] == 0.0 and queued["job_id"]
    return queued


def total_seconds(scenario: dict[str, Any]) -> float:
    return sum(scene["duration_s"] for scene in scenario["scenes"])


async def test_a_brief_becomes_a_ready_scenario(api: httpx.AsyncClient, openai_server: OpenAIServer) -> None:
    headers = await register(api, "gen@example.com")
    queued = await generate(api, headers, platform="tiktok")
    assert queued["title"] == BRIEF["topic"] and queued["language"] == "en", "the default language"
    ready = await wait_for_scenario(api, headers, queued["id"])
    assert ready["status"] == "ready", ready["error"]
    assert ready["progress"] == 1.0 and ready["version"] == 1 and ready["from_cache"] is False
    assert ready["aspect"] == "9:16" and ready["words_per_minute"] == 150
    assert 54 <= total_seconds(ready) <= 66 and len(ready["scenes"]) == 8
    assert ready["brief"]["audience"] == "pet owners"

    (request,) = openai_server.requests
    answer_format = request.body["response_format"]["json_schema"]
    assert answer_format["name"] == "ScenarioDraft"
    assert answer_format["schema"]["properties"]["scenes"]["maxItems"] == 40
    prompt = request.body["messages"][1]["content"]
    assert "Why cats sleep all day" in prompt and "60 seconds" in prompt and "TikTok" in prompt

    versions = (await api.get(f"/v1/scenarios/{queued['id']}/versions", headers=headers)).json()
    assert versions["items"][0]["note"] == "generated" and versions["items"][0]["author_id"] is None
    events = (await api.get("/v1/events?type=scenario.generated", headers=headers)).json()
    assert events["items"][0]["subject_id"] == queued["id"]


async def test_a_russian_brief_is_written_in_russian(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "ru@example.com")
    ready = await wait_for_scenario(api, headers, (await generate(api, headers, language="ru"))["id"])
    assert ready["status"] == "ready", ready["error"]
    assert ready["words_per_minute"] == 130 and "утренний" in json.dumps(ready["scenes"], ensure_ascii=False)
    assert "Russian (ru)" in openai_server.requests[0].body["messages"][1]["content"]


async def test_scenes_that_do_not_add_up_are_fitted_to_the_target_without_asking_again(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "repair@example.com")
    first_answer = misfit({"messages": [{"role": "system", "content": ""}, {"role": "user", "content": ""}]})
    openai_server.then(Reply(first_answer))
    ready = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    assert ready["status"] == "ready", ready["error"]
    assert len(openai_server.requests) == 1, (
        "durations are arithmetic: the program fits them, the model is not asked"
    )
    assert total_seconds(ready) == pytest.approx(60, abs=0.2)


async def test_narration_too_long_for_the_target_is_asked_again_naming_the_scene(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "talkative@example.com")
    first_answer = talkative(_empty_request())
    openai_server.then(Reply(first_answer))
    ready = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    assert ready["status"] == "ready", ready["error"]
    _, second = openai_server.requests
    re_ask = second.body["messages"][-1]["content"]
    assert second.body["messages"][-2] == {"role": "assistant", "content": first_answer}
    assert "scene 2" in re_ask and "shorten the narration" in re_ask
    assert 54 <= total_seconds(ready) <= 66


async def test_scenes_that_repeat_each_other_are_asked_again_once(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "loops@example.com")
    looping = json.loads(scriptwriter(_empty_request()))
    for scene in looping["scenes"]:
        scene["narration"] = "coffee is ready"
    openai_server.then(Reply(json.dumps(looping)), Reply(json.dumps(looping)))
    ready = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    _, second_ask = openai_server.requests
    assert "scene 2 repeats the narration of scene 1" in second_ask.body["messages"][-1]["content"]
    assert ready["status"] == "ready", "a model that loops again is not failed for it"
    assert [scene["narration"] for scene in ready["scenes"]] == ["coffee is ready"] * 4


async def test_the_same_brief_again_is_answered_from_the_render_cache(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "cache@example.com")
    first = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    second = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    assert first["status"] == second["status"] == "ready"
    assert len(openai_server.requests) == 1, "no second model call"
    assert second["from_cache"] is True and first["from_cache"] is False
    assert second["scenes"] == first["scenes"] and second["id"] != first["id"]
    other = await wait_for_scenario(api, headers, (await generate(api, headers, tone="dry"))["id"])
    assert other["from_cache"] is False and len(openai_server.requests) == 2


async def test_an_answer_that_never_fits_is_shortened_to_fit_on_the_last_try(
    api: httpx.AsyncClient, openai_server: OpenAIServer, settings: Settings
) -> None:
    headers = await register(api, "wordy@example.com")
    openai_server.answer = talkative
    ready = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    assert ready["status"] == "ready", ready["error"]
    assert len(openai_server.requests) == settings.llm_repair_attempts + 1, "re-asks are bounded"
    words = sum(len(scene["narration"].split()) for scene in ready["scenes"])
    assert 0 < words <= max_words(60, ready["words_per_minute"]), "what is left can be spoken in 60 s"
    assert 54 <= total_seconds(ready) <= 66
    written = json.loads(talkative(_empty_request()))["scenes"][1]["narration"]
    assert written.startswith(ready["scenes"][1]["narration"].rstrip("…")), "cut, not rewritten"


async def test_an_answer_that_is_never_a_scenario_fails_it_with_the_reason(
    api: httpx.AsyncClient, openai_server: OpenAIServer, settings: Settings
) -> None:
    headers = await register(api, "fail@example.com")
    openai_server.answer = lambda _body: "Sure! Here is your scenario: scene one, a kitchen."
    failed = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    assert failed["status"] == "failed"
    assert "no valid answer" in failed["error"] and "JSON" in failed["error"]
    assert len(openai_server.requests) == settings.llm_repair_attempts + 1, "re-asks are bounded"
    assert failed["scenes"] == [] and failed["version"] == 0


async def test_a_refusal_fails_at_once(api: httpx.AsyncClient, openai_server: OpenAIServer) -> None:
    headers = await register(api, "refused@example.com")
    openai_server.then(Failure(400, "This model does not write about cats.", type="invalid_request_error"))
    failed = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    assert failed["status"] == "failed" and "does not write about cats" in failed["error"]
    assert len(openai_server.requests) == 1


async def test_an_unavailable_model_is_tried_again(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "retry@example.com")
    # A 503 is retried with the job's backoff; a 429 after its Retry-After.
    openai_server.then(Failure(503, "overloaded"), Failure(429, "slow down", retry_after="1"))
    ready = await wait_for_scenario(api, headers, (await generate(api, headers))["id"])
    assert ready["status"] == "ready", ready["error"]
    assert ready["error"] is None and len(openai_server.requests) == 3
    assert openai_server.requests[2].at - openai_server.requests[1].at >= 0.9


async def test_progress_grows_while_the_answer_streams(
    client_with: ClientWith, openai_server: OpenAIServer
) -> None:
    # The first answer stalls after 60 chunks (a hung server): progress shows, the read times out,
    # and the job asks again.
    openai_server.then(Reply(scriptwriter(_empty_request()), stall_after_chunks=60))
    async with client_with(llm_timeout_seconds=1.5) as client:
        headers = await register(client, "progress@example.com")
        scenario_id = (await generate(client, headers))["id"]
        seen: list[tuple[str, float]] = []
        while not seen or seen[-1][0] not in ("ready", "failed"):
            body = (await client.get(f"/v1/scenarios/{scenario_id}", headers=headers)).json()
            seen.append((body["status"], body["progress"]))
            await asyncio.sleep(0.1)
    assert seen[-1] == ("ready", 1.0)
    midway = [progress for status, progress in seen if status == "generating" and 0 < progress < 1]
    assert midway, seen
    progresses = [progress for _, progress in seen]
    assert progresses == sorted(progresses), "progress never steps back"


async def test_deleting_a_scenario_being_written_stops_its_generation(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = await register(api, "deleted@example.com")
    openai_server.then(Reply(scriptwriter(_empty_request()), delay=1.0))
    scenario_id = (await generate(api, headers))["id"]
    assert (await api.delete(f"/v1/scenarios/{scenario_id}", headers=headers)).status_code == 204
    await asyncio.sleep(2.5)
    assert_problem(await api.get(f"/v1/scenarios/{scenario_id}", headers=headers), 404)
    assert (await api.get("/v1/events?type=scenario.generated", headers=headers)).json()["total"] == 0
    assert len(openai_server.requests) <= 1


def _empty_request() -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": ""}, {"role": "user", "content": ""}]}


async def test_without_a_model_generation_answers_501(client_with: ClientWith) -> None:
    async with client_with(llm_engine="off") as client:
        headers = await register(client, "nomodel@example.com")
        problem = assert_problem(
            await client.post("/v1/scenarios/generate", headers=headers, json=BRIEF), 501, "not-configured"
        )
        assert "KADR_LLM_ENGINE=off" in problem["detail"]
        assert (await client.get("/v1/scenarios", headers=headers)).json()["total"] == 0


async def test_a_spent_budget_answers_429_with_retry_after(
    client_with: ClientWith, openai_server: OpenAIServer
) -> None:
    async with client_with(llm_daily_tokens=100) as client:
        headers = await register(client, "budget@example.com")
        first = await wait_for_scenario(client, headers, (await generate(client, headers))["id"])
        assert first["status"] == "ready"
        response = await client.post("/v1/scenarios/generate", headers=headers, json={**BRIEF, "tone": "new"})
        problem = assert_problem(response, 429, "llm-budget-exceeded")
        assert "100 tokens" in problem["detail"] and int(response.headers["Retry-After"]) > 0
    assert len(openai_server.requests) == 1


async def test_a_retried_generate_with_the_same_key_makes_one_scenario(
    api: httpx.AsyncClient, openai_server: OpenAIServer
) -> None:
    headers = {**await register(api, "idem@example.com"), "Idempotency-Key": "brief-1"}
    first = await api.post("/v1/scenarios/generate", headers=headers, json=BRIEF)
    second = await api.post("/v1/scenarios/generate", headers=headers, json=BRIEF)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    await wait_for_scenario(api, headers, first.json()["id"])
    assert (await api.get("/v1/scenarios", headers=headers)).json()["total"] == 1


def _embedded_model_missing() -> str | None:
    """Why the embedded model cannot run here, or None when it can."""
    if not runtime_available():
        return "llama-cpp-python is not installed (`make install` builds it)"
    if not describe_local_model(Settings().llm_local_model)[1]:
        return f"the embedded model {Settings().llm_local_model} is not installed (`make install`)"
    return None


@pytest.mark.slow
@pytest.mark.timeout(3600)  # minutes per scenario on a small CPU
@pytest.mark.skipif(_embedded_model_missing() is not None, reason=str(_embedded_model_missing()))
async def test_generate_with_the_embedded_model(client_with: ClientWith) -> None:
    """The real embedded model writes a 60 s Russian and an English scenario that pass the check."""
    async with client_with(llm_engine="local") as client:
        headers = await register(client, "embedded@example.com")
        for language, topic in (("ru", "Как варить кофе в турке"), ("en", "How to brew coffee in a cezve")):
            queued = await generate(client, headers, language=language, topic=topic)
            ready = await wait_for_scenario(client, headers, queued["id"], timeout=900)
            assert ready["status"] == "ready", ready["error"]
            assert 54 <= total_seconds(ready) <= 66 and ready["language"] == language
