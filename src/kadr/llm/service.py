"""The gateway as the domains use it: the daily token budget, the render cache, and a record of
every call, committed here so a call's cost is kept even when the caller then fails."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.ids import new_id
from kadr.llm.errors import LLMBudgetExceeded
from kadr.llm.gateway import Check, LLMCall, LLMGateway, get_gateway
from kadr.llm.models import LLMCallRecord, RenderCacheEntry
from kadr.llm.prompts import RenderedPrompt
from kadr.llm.repository import LLMCallRepository, RenderCacheRepository

M = TypeVar("M", bound=BaseModel)
RENDER_CACHE_TTL = timedelta(days=30)


def start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def render_cache_key(
    owner_id: str, gateway: LLMGateway, prompt: RenderedPrompt, scope: dict[str, Any]
) -> str:
    """Everything an answer depends on: whose it is, what it is about (`scope`: video, run,
    render profile, locale…), the engine and model, and the exact prompt sent."""
    material = json.dumps(
        [owner_id, scope, gateway.signature, prompt.prompt_hash], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(material.encode()).hexdigest()


class LLMService:
    """Calls commit the session before the model is asked (no transaction stays open while it
    answers), so a caller's pending changes are committed then as well."""

    def __init__(self, session: AsyncSession, settings: Settings, gateway: LLMGateway | None = None) -> None:
        self.session = session
        self.settings = settings
        self._gateway = gateway
        self.calls = LLMCallRepository(session)
        self.cache = RenderCacheRepository(session)

    @property
    def gateway(self) -> LLMGateway:
        """Created on first use: an installation without a model answers 501 only when asked."""
        if self._gateway is None:
            self._gateway = get_gateway(self.settings)
        return self._gateway

    async def tokens_spent_today(self, owner_id: str) -> int:
        return await self.calls.tokens_since(owner_id, start_of_day(utcnow()))

    async def check_budget(self, owner_id: str) -> None:
        """429 `llm-budget-exceeded` with `Retry-After` (the next UTC midnight) when spent."""
        limit = self.settings.llm_daily_tokens
        if limit <= 0:
            return
        spent = await self.tokens_spent_today(owner_id)
        if spent >= limit:
            now = utcnow()
            reset = start_of_day(now) + timedelta(days=1)
            raise LLMBudgetExceeded(
                f"today's language model budget of {limit} tokens is spent ({spent}); it resets at "
                f"{reset.isoformat()} (KADR_LLM_DAILY_TOKENS)",
                retry_after_seconds=(reset - now).total_seconds(),
            )

    async def record(self, owner_id: str, call: LLMCall, subject_id: str | None = None) -> None:
        self.calls.add(
            LLMCallRecord(
                id=new_id("llm"),
                owner_id=owner_id,
                purpose=call.purpose,
                engine=call.engine,
                model=call.model,
                prompt_id=call.prompt_id,
                prompt_version=call.prompt_version,
                prompt_hash=call.prompt_hash,
                tokens_in=call.tokens_in,
                tokens_out=call.tokens_out,
                latency_ms=call.latency_ms,
                attempts=call.attempts,
                outcome=call.outcome,
                error=call.error,
                subject_id=subject_id,
            )
        )
        await self.session.commit()

    async def generate_object(
        self,
        owner_id: str,
        prompt: RenderedPrompt,
        schema: type[M],
        *,
        purpose: str,
        cache_scope: dict[str, Any] | None = None,
        subject_id: str | None = None,
        language: str | None = None,
        check: Check[M] | None = None,
        max_tokens: int = 1024,
        on_tokens: Callable[[int], None] | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> tuple[M, bool]:
        """The answer and whether it came from the render cache (no model call, no tokens).
        `cache_scope` None: never cached (each call is meant to differ)."""
        key = None
        if cache_scope is not None:
            key = render_cache_key(owner_id, self.gateway, prompt, {**cache_scope, "language": language})
            cached = await self._cached(owner_id, key, schema)
            if cached is not None:
                return cached, True
        await self._before_call(owner_id)
        try:
            answer = await self.gateway.agenerate_object(
                prompt,
                schema,
                purpose=purpose,
                language=language,
                check=check,
                max_tokens=max_tokens,
                on_tokens=on_tokens,
                check_cancelled=check_cancelled,
            )
        except Exception as error:
            await self._record_failure(owner_id, error, subject_id)
            raise
        await self.record(owner_id, answer.call, subject_id)
        if key is not None:
            await self._store(owner_id, key, prompt, answer.value, answer.call)
        return answer.value, False

    async def generate_text(
        self,
        owner_id: str,
        prompt: RenderedPrompt,
        *,
        purpose: str,
        subject_id: str | None = None,
        language: str | None = None,
        max_tokens: int = 1024,
        on_tokens: Callable[[int], None] | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> str:
        """Prose in `language`, within the budget and recorded like every call (never cached)."""
        await self._before_call(owner_id)
        try:
            answer = await self.gateway.agenerate_text(
                prompt,
                purpose=purpose,
                language=language,
                max_tokens=max_tokens,
                on_tokens=on_tokens,
                check_cancelled=check_cancelled,
            )
        except Exception as error:
            await self._record_failure(owner_id, error, subject_id)
            raise
        await self.record(owner_id, answer.call, subject_id)
        return answer.text

    async def _before_call(self, owner_id: str) -> None:
        await self.check_budget(owner_id)
        # The model may take minutes: hold no transaction meanwhile (on SQLite an open one
        # holds the write lock, and every other writer would wait for this answer).
        await self.session.commit()

    async def _record_failure(self, owner_id: str, error: Exception, subject_id: str | None) -> None:
        """What a failed call spent is still the user's (repairs, partial answers)."""
        spent = getattr(error, "llm_call", None)
        if isinstance(spent, LLMCall):
            await self.record(owner_id, spent, subject_id)

    async def _cached(self, owner_id: str, key: str, schema: type[M]) -> M | None:
        entry = await self.cache.fresh_entry(owner_id, key, utcnow())
        if entry is None:
            return None
        try:
            value = schema.model_validate(entry.value)
        except ValidationError:
            await self.cache.remove(key)  # written by an older schema: ask again
            return None
        await self.cache.count_hit(key)
        await self.session.commit()
        return value

    async def _store(
        self, owner_id: str, key: str, prompt: RenderedPrompt, value: BaseModel, call: LLMCall
    ) -> None:
        now = utcnow()
        # An expired entry keeps its key until the cleanup duty removes it.
        await self.cache.remove_expired(key, now)
        self.cache.add(
            RenderCacheEntry(
                key=key,
                owner_id=owner_id,
                prompt_id=prompt.prompt_id,
                model=self.gateway.signature,
                value=value.model_dump(mode="json"),
                tokens_saved=call.tokens_in + call.tokens_out,
                created_at=now,
                expires_at=now + RENDER_CACHE_TTL,
            )
        )
        try:
            await self.session.commit()
        except IntegrityError:
            # An identical request answered at the same time stored it first: the answer is
            # the same kind of answer, and this caller still gets its own.
            await self.session.rollback()
