"""Job kinds of the jobs domain itself: a no-op used to measure and prove the job system."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kadr.jobs.registry import JobContext, job_handler


@job_handler("system.echo", queue="notify", time_limit_seconds=60)
async def echo(context: JobContext) -> dict[str, Any]:
    """Return the payload's `value` after `sleep` seconds: queue latency and exactly-once checks.

    `started_unix` is when the handler began (wall clock, as the enqueuer's `time.time()`), so a
    benchmark reads dispatch latency from the job itself rather than from how often it polls."""
    started = time.time()
    await asyncio.sleep(float(context.payload.get("sleep", 0)))
    return {
        "value": context.payload.get("value"),
        "worker": context.worker_id,
        "attempt": context.attempt,
        "started_unix": started,
    }
