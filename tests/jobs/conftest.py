"""Job kinds used only by the jobs tests, and a worker running them in-process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.errors import Cancelled, PermanentJobError
from kadr.jobs.registry import JobContext, job_handler
from kadr.jobs.runtime import Runtime

EXECUTIONS: Counter[str] = Counter()
GIVE_UPS: dict[str, str] = {}
LOCK = threading.Lock()


def executed(job_id: str) -> int:
    with LOCK:
        return EXECUTIONS[job_id]


def _count(context: JobContext) -> int:
    with LOCK:
        EXECUTIONS[context.job_id] += 1
        return EXECUTIONS[context.job_id]


async def _record_give_up(session: AsyncSession, context: JobContext, status: str, error: str) -> None:
    GIVE_UPS[context.job_id] = f"{status}: {error}"


@job_handler("test.echo", queue="notify")
async def echo(context: JobContext) -> dict[str, Any]:
    _count(context)
    await asyncio.sleep(float(context.payload.get("sleep", 0)))
    return {"echo": context.payload.get("value")}


@job_handler("test.flaky", queue="notify", on_give_up=_record_give_up)
async def flaky(context: JobContext) -> dict[str, Any]:
    """Fails its first `failures` attempts."""
    _count(context)
    if context.attempt <= int(context.payload["failures"]):
        raise RuntimeError(f"transient failure on attempt {context.attempt}")
    return {"attempt": context.attempt}


@job_handler("test.slow", queue="notify", max_attempts=2, on_give_up=_record_give_up, time_limit_seconds=0.3)
async def slow(context: JobContext) -> dict[str, Any]:
    """Sleeps past its time limit unless the payload says to be quick on a later attempt."""
    _count(context)
    quick_from = int(context.payload.get("quick_from_attempt", 99))
    await asyncio.sleep(0.0 if context.attempt >= quick_from else 5.0)
    return {"attempt": context.attempt}


@job_handler("test.bad_input", queue="notify", on_give_up=_record_give_up)
async def bad_input(context: JobContext) -> None:
    _count(context)
    raise PermanentJobError("the input is not a video")


@job_handler("test.long", queue="video", on_give_up=_record_give_up)
async def long_running(context: JobContext) -> dict[str, Any]:
    """Works in steps until cancelled, drained, or `steps` are done; like the pipeline does."""
    _count(context)

    def work() -> int:
        steps = int(context.payload.get("steps", 10_000))
        for _ in range(steps):
            if context.cancel_event.is_set():
                raise Cancelled("cancelled")
            time.sleep(0.02)
            if context.drain_event.is_set():
                raise Cancelled("draining")
        return steps

    return {"steps": await asyncio.to_thread(work)}


@pytest.fixture
async def worker(settings: Settings, database: None) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings, shutdown_grace_seconds=2.0)
    async with runtime.running(worker=True, scheduler=False):
        yield runtime
