"""Job handlers of the scenarios domain: generate a scenario with the language model.

What can go wrong decides what the job does: a model that does not answer (timeouts, 429,
5xx) is tried again later, after the server's `Retry-After` when it gave one and with the
job's backoff otherwise; a spent daily budget waits for the reset; an answer that stays
invalid, a refusal or a missing model fail the scenario at once with the reason in words.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.core.db import get_database
from kadr.core.errors import Cancelled, KadrError, PermanentJobError, RetryLater
from kadr.jobs.registry import JobContext, job_handler
from kadr.llm.errors import LLMBudgetExceeded, LLMUnavailable
from kadr.scenarios.generation import GENERATE_JOB_KIND, GenerationPlan, GenerationService

#: How often the answer's progress is written while it streams in.
PROGRESS_SECONDS = 0.5
#: Progress stops short of 1 until the answer is checked and saved.
MAX_STREAMING_PROGRESS = 0.99
#: One attempt's limit: a long scenario on a slow embedded model takes minutes, not an hour.
TIME_LIMIT_SECONDS = 1800.0


class TokenCounter:
    """The gateway's `on_tokens` (called from its worker thread): the answer tokens so far."""

    def __init__(self) -> None:
        self.tokens = 0

    def __call__(self, tokens: int) -> None:
        self.tokens = tokens


async def _report_progress(context: JobContext, plan: GenerationPlan, counter: TokenCounter) -> None:
    """Write tokens-so-far over tokens-expected every PROGRESS_SECONDS until cancelled."""
    reported = 0.0
    while True:
        await asyncio.sleep(PROGRESS_SECONDS)
        progress = min(MAX_STREAMING_PROGRESS, counter.tokens / max(1, plan.expected_tokens))
        if progress > reported:
            async with get_database(context.settings).session() as session:
                await GenerationService(session, context.settings).record_progress(plan.scenario_id, progress)
            reported = progress


async def _mark_failed(session: AsyncSession, context: JobContext, status: str, error: str) -> None:
    await GenerationService(session, context.settings).fail(context.payload["scenario_id"], error)


@job_handler(GENERATE_JOB_KIND, queue="llm", on_give_up=_mark_failed, time_limit_seconds=TIME_LIMIT_SECONDS)
async def generate_scenario(context: JobContext) -> dict[str, Any] | None:
    settings = context.settings
    scenario_id = context.payload["scenario_id"]
    database = get_database(settings)
    try:
        async with database.session() as session:
            plan = await GenerationService(session, settings).begin(scenario_id)
    except KadrError as error:  # the source run or its transcript is gone
        raise PermanentJobError(error.detail) from error
    if plan is None:
        return {"skipped": "scenario is finished or gone"}

    def check_cancelled() -> None:
        if context.cancel_event.is_set():
            raise Cancelled("the generation was cancelled")

    counter = TokenCounter()
    reporter = asyncio.create_task(_report_progress(context, plan, counter))
    try:
        async with database.session() as session:
            draft, from_cache = await GenerationService(session, settings).ask(plan, counter, check_cancelled)
    except LLMBudgetExceeded as error:
        await _wait(context, scenario_id, error.detail)
        raise RetryLater(float(error.extra.get("retry_after_seconds", 3600)), error.detail) from error
    except LLMUnavailable as error:
        await _wait(context, scenario_id, error.detail)
        if error.retry_after_seconds is not None:
            raise RetryLater(error.retry_after_seconds, error.detail) from error
        raise  # the job's own retry, with backoff, spending an attempt
    except KadrError as error:  # an invalid answer after every re-ask, a refusal, no model
        raise PermanentJobError(error.detail) from error
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
    async with database.session() as session:
        await GenerationService(session, settings).finish(scenario_id, draft, from_cache)
    return {"scenario_id": scenario_id, "from_cache": from_cache}


async def _wait(context: JobContext, scenario_id: str, reason: str) -> None:
    async with get_database(context.settings).session() as session:
        await GenerationService(session, context.settings).wait(scenario_id, reason)
