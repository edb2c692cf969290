"""LLMService on a real migrated SQLite database: every call recorded, the daily budget
enforced before any model call, and answers reused from the render cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.service import create_user
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.llm.errors import LLMBudgetExceeded, LLMInvalidAnswer, LLMNotConfigured, LLMUnavailable
from kadr.llm.gateway import LLMGateway
from kadr.llm.models import LLMCallRecord, RenderCacheEntry
from kadr.llm.service import LLMService, start_of_day
from tests.llm.conftest import VERDICT_JSON, Verdict, gateway_for, llm_settings, verdict_prompt
from tests.support.api import PASSWORD
from tests.support.openai_server import Failure, OpenAIServer, Reply

pytestmark = pytest.mark.anyio


@pytest.fixture
async def session(settings: Settings, database: None) -> AsyncIterator[AsyncSession]:
    async with get_database(settings).session() as db_session:
        yield db_session


async def new_user(session: AsyncSession, settings: Settings, email: str = "ana@example.com") -> str:
    return (await create_user(session, email, PASSWORD, settings=settings)).id


async def calls_of(session: AsyncSession, owner_id: str) -> list[LLMCallRecord]:
    query = select(LLMCallRecord).where(LLMCallRecord.owner_id == owner_id).order_by(LLMCallRecord.created_at)
    return list((await session.execute(query)).scalars())


async def cache_entries(session: AsyncSession) -> list[RenderCacheEntry]:
    return list((await session.execute(select(RenderCacheEntry))).scalars())


def service(session: AsyncSession, settings: Settings, gateway: LLMGateway) -> LLMService:
    return LLMService(session, gateway.settings, gateway)


async def ask(llm: LLMService, owner_id: str, **options: Any) -> tuple[Verdict, bool]:
    prompt = options.pop("prompt", verdict_prompt())
    return await llm.generate_object(owner_id, prompt, Verdict, purpose="rate", **options)


async def test_each_call_is_recorded(settings: Settings, server: OpenAIServer, session: AsyncSession) -> None:
    owner = await new_user(session, settings)
    server.answer = lambda body: VERDICT_JSON
    llm = service(session, settings, gateway_for(settings, server))
    value, cached = await ask(llm, owner, subject_id="scn_1")
    assert value.score == 7 and cached is False
    (record,) = await calls_of(session, owner)
    prompt = verdict_prompt()
    assert (record.purpose, record.engine, record.model) == ("rate", "openai", server.model)
    assert (record.prompt_id, record.prompt_version, record.prompt_hash) == (
        prompt.prompt_id,
        prompt.prompt_version,
        prompt.prompt_hash,
    )
    words_in = sum(len(message["content"].split()) for message in server.requests[0].body["messages"])
    assert (record.tokens_in, record.tokens_out) == (words_in, len(VERDICT_JSON.split()))
    assert (record.outcome, record.attempts, record.error, record.subject_id) == ("ok", 1, None, "scn_1")
    assert record.latency_ms >= 0 and record.created_at <= utcnow()
    assert await llm.tokens_spent_today(owner) == record.tokens_in + record.tokens_out


async def test_a_failed_call_is_recorded_with_what_it_spent(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    bad = '{"title": "x", "score": 99}'
    server.answer = lambda body: bad
    llm = service(session, settings, gateway_for(settings, server, llm_repair_attempts=1))
    with pytest.raises(LLMInvalidAnswer):
        await ask(llm, owner, subject_id="scn_2")
    (record,) = await calls_of(session, owner)
    assert (record.outcome, record.attempts, record.subject_id) == ("invalid", 2, "scn_2")
    assert record.tokens_out == 2 * len(bad.split()) and record.tokens_in > 0
    assert record.error is not None and "score" in record.error


async def test_an_unavailable_model_is_recorded(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.then(Failure(503, "overloaded", retry_after="120"))
    llm = service(session, settings, gateway_for(settings, server))
    with pytest.raises(LLMUnavailable):
        await ask(llm, owner)
    (record,) = await calls_of(session, owner)
    assert record.outcome == "unavailable" and record.tokens_in == record.tokens_out == 0
    assert record.error is not None and "120" in record.error


async def test_the_daily_budget_stops_calls_before_the_model_is_asked(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    other = await new_user(session, settings, "ben@example.com")
    server.answer = lambda body: VERDICT_JSON
    llm = service(session, settings, gateway_for(settings, server, llm_daily_tokens=20))
    await ask(llm, owner)  # spends more than 20 tokens: allowed, the budget was not spent yet
    assert await llm.tokens_spent_today(owner) > 20
    assert len(server.requests) == 1
    with pytest.raises(LLMBudgetExceeded) as caught:
        await ask(llm, owner, prompt=verdict_prompt("another talk"))
    assert len(server.requests) == 1  # the model was not asked
    error = caught.value
    assert error.status == 429 and error.slug == "llm-budget-exceeded"
    now = utcnow()
    until_midnight = (start_of_day(now) + timedelta(days=1) - now).total_seconds()
    assert abs(int(error.headers["Retry-After"]) - until_midnight) <= 5
    assert "KADR_LLM_DAILY_TOKENS" in error.detail
    with pytest.raises(LLMBudgetExceeded):
        await llm.generate_text(owner, verdict_prompt(), purpose="describe")
    assert len(await calls_of(session, owner)) == 1  # refused calls cost nothing and are not recorded
    # Another user's budget is their own.
    await ask(llm, other)
    assert len(server.requests) == 2


async def test_yesterdays_tokens_do_not_count(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.answer = lambda body: VERDICT_JSON
    llm = service(session, settings, gateway_for(settings, server, llm_daily_tokens=20))
    await ask(llm, owner)
    await session.execute(
        update(LLMCallRecord).values(created_at=start_of_day(utcnow()) - timedelta(seconds=1))
    )
    await session.commit()
    await ask(llm, owner, prompt=verdict_prompt("another talk"))
    assert len(server.requests) == 2


async def test_the_same_request_is_answered_from_the_render_cache(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.answer = lambda body: VERDICT_JSON
    llm = service(session, settings, gateway_for(settings, server))
    scope = {"video_id": "vid_1", "locale": "en"}
    first = await ask(llm, owner, cache_scope=scope, language="en")
    second = await ask(llm, owner, cache_scope=scope, language="en")
    assert first == (second[0], False) and second[1] is True
    assert len(server.requests) == 1  # no second model call
    assert len(await calls_of(session, owner)) == 1  # and nothing spent
    (entry,) = await cache_entries(session)
    assert entry.hits == 1 and entry.owner_id == owner and entry.prompt_id == "test.verdict"
    assert entry.model == f"openai:{server.model}" and entry.tokens_saved > 0
    assert entry.value == Verdict.model_validate_json(VERDICT_JSON).model_dump(mode="json")


async def test_anything_the_answer_depends_on_makes_a_new_call(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    other = await new_user(session, settings, "ben@example.com")
    server.answer = lambda body: VERDICT_JSON
    gateway = gateway_for(settings, server)
    llm = service(session, settings, gateway)
    scope = {"video_id": "vid_1"}
    await ask(llm, owner, cache_scope=scope)
    await ask(llm, owner, cache_scope=scope, prompt=verdict_prompt("another talk"))  # another prompt
    await ask(llm, owner, cache_scope={"video_id": "vid_2"})  # another subject
    await ask(llm, owner, cache_scope=scope, language="en")  # another language
    await ask(llm, other, cache_scope=scope)  # another user
    other_model = gateway_for(settings, server, llm_model="standin-2")
    await ask(service(session, settings, other_model), owner, cache_scope=scope)  # another model
    assert len(server.requests) == 6
    assert server.requests[-1].body["model"] == "standin-2"
    assert len(await cache_entries(session)) == 6
    # Each of them is cached now.
    await ask(llm, other, cache_scope=scope)
    await ask(service(session, settings, other_model), owner, cache_scope=scope)
    assert len(server.requests) == 6


async def test_without_a_cache_scope_every_call_asks_the_model(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.answer = lambda body: VERDICT_JSON
    llm = service(session, settings, gateway_for(settings, server))
    await ask(llm, owner)
    await ask(llm, owner)
    assert len(server.requests) == 2 and await cache_entries(session) == []


async def test_an_expired_entry_is_asked_again_and_replaced(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.answer = lambda body: VERDICT_JSON
    llm = service(session, settings, gateway_for(settings, server))
    await ask(llm, owner, cache_scope={"video_id": "vid_1"})
    await session.execute(update(RenderCacheEntry).values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()
    assert (await ask(llm, owner, cache_scope={"video_id": "vid_1"}))[1] is False
    assert (await ask(llm, owner, cache_scope={"video_id": "vid_1"}))[1] is True
    assert len(server.requests) == 2
    (entry,) = await cache_entries(session)
    assert entry.expires_at > utcnow() + timedelta(days=29)


async def test_an_entry_of_an_older_schema_is_asked_again(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.answer = lambda body: VERDICT_JSON
    llm = service(session, settings, gateway_for(settings, server))
    await ask(llm, owner, cache_scope={"video_id": "vid_1"})
    await session.execute(update(RenderCacheEntry).values(value={"title": "old shape"}))
    await session.commit()
    value, cached = await ask(llm, owner, cache_scope={"video_id": "vid_1"})
    assert cached is False and value.score == 7
    assert len(server.requests) == 2
    (entry,) = await cache_entries(session)
    assert entry.value["score"] == 7


async def test_two_identical_requests_at_once_both_get_their_answer(
    settings: Settings, server: OpenAIServer, database: None
) -> None:
    database_ = get_database(settings)
    async with database_.session() as session:
        owner = await new_user(session, settings)
    # Both are in flight before either stores its answer.
    server.then(Reply(VERDICT_JSON, delay=0.5), Reply(VERDICT_JSON, delay=0.5))
    gateway = gateway_for(settings, server)

    async def one() -> tuple[Verdict, bool]:
        async with database_.session() as session:
            return await ask(service(session, settings, gateway), owner, cache_scope={"video_id": "vid_1"})

    first, second = await asyncio.gather(one(), one())
    assert first == second == (Verdict.model_validate_json(VERDICT_JSON), False)
    assert len(server.requests) == 2
    async with database_.session() as session:
        assert len(await cache_entries(session)) == 1
        assert len(await calls_of(session, owner)) == 2  # both calls spent tokens, both recorded
        assert (await ask(service(session, settings, gateway), owner, cache_scope={"video_id": "vid_1"}))[1]


async def test_a_call_does_not_hold_the_database_while_the_model_thinks(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.then(Reply(VERDICT_JSON, delay=1.0))
    llm = service(session, settings, gateway_for(settings, server))
    call = asyncio.create_task(ask(llm, owner, cache_scope={"video_id": "vid_1"}))
    while not server.requests:
        await asyncio.sleep(0.02)
    # Another writer gets the write lock while the model is answering (on SQLite an open
    # transaction would hold it until the answer came back).
    async with get_database(settings).session() as other:
        await new_user(other, settings, "ben@example.com")
        assert not call.done()
    assert (await call)[0].score == 7


async def test_text_calls_are_recorded(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.answer = lambda body: "Спокойный разговор о садах."
    llm = service(session, settings, gateway_for(settings, server))
    text = await llm.generate_text(
        owner, verdict_prompt(), purpose="describe", language="ru", subject_id="run_1"
    )
    assert text == "Спокойный разговор о садах."
    (record,) = await calls_of(session, owner)
    assert (record.purpose, record.outcome, record.subject_id) == ("describe", "ok", "run_1")


async def test_no_language_model_is_501_when_asked(settings: Settings, session: AsyncSession) -> None:
    owner = await new_user(session, settings)
    llm = LLMService(session, settings.model_copy(update={"llm_engine": "off"}))
    with pytest.raises(LLMNotConfigured) as caught:
        await ask(llm, owner, cache_scope={"video_id": "vid_1"})
    assert caught.value.status == 501
    assert await calls_of(session, owner) == []


async def test_the_service_finds_the_configured_gateway(
    settings: Settings, server: OpenAIServer, session: AsyncSession
) -> None:
    owner = await new_user(session, settings)
    server.answer = lambda body: VERDICT_JSON
    llm = LLMService(session, llm_settings(settings, server))
    assert (await ask(llm, owner))[0].score == 7
    assert llm.gateway.signature == f"openai:{server.model}"
