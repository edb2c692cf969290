"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from kadr.config import Settings
from kadr.core.db import get_database
from kadr.core.metrics import QUEUE_LENGTH, REGISTRY, RUNS_TOTAL
from kadr.jobs import broker
from kadr.jobs.models import JobStatus
from kadr.jobs.registry import QUEUES
from kadr.jobs.repository import JobRepository
from kadr.llm.gateway import describe_engine
from kadr.media.apertium import apertium_pairs
from kadr.media.speech import health as speech_health
from kadr.runs.models import RunStatus
from kadr.runs.repository import RunRepository
from kadr.storage import get_storage

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(settings: Settings) -> None:
    async with get_database(settings).session() as session:
        await session.execute(text("SELECT 1"))


def _check_broker(settings: Settings) -> None:
    current = broker.current_broker()
    if current is None:
        raise RuntimeError("no broker set up in this process")
    if settings.broker_url.startswith(("redis://", "rediss://")):
        current.client.ping()  # type: ignore[attr-defined]
    elif settings.broker_url.startswith(("amqp://", "amqps://")):
        _ = current.connection  # type: ignore[attr-defined]  # opens (or reuses) a connection


async def _timed(name: str, check: Any) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return name, {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return name, {"status": "ok", "latency_ms": round(1000 * (time.perf_counter() - started), 1)}


@router.get("/health", summary="Database, broker and storage are reachable; which language model answers")
async def health(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    checks = dict(
        await asyncio.gather(
            _timed("database", _check_database(settings)),
            _timed("broker", asyncio.to_thread(_check_broker, settings)),
            _timed("storage", asyncio.to_thread(lambda: get_storage(settings).ping())),
        )
    )
    healthy = all(check["status"] == "ok" for check in checks.values())
    # What answers language model calls, for the operator: informational, since an installation
    # without a model is healthy (AI features answer 501); never loads or calls the model.
    llm = describe_engine(settings)
    # Languages: the voices dub speaks with (and where it falls back to eSpeak NG), and the
    # Apertium pairs translate can use; informational like `llm`.
    languages = {
        "speech": await asyncio.to_thread(speech_health),
        "apertium_pairs": sorted(f"{s}-{t}" for s, t in await asyncio.to_thread(apertium_pairs)),
    }
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks, "llm": llm, "languages": languages},
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    try:
        async with get_database(settings).session() as session:
            queue_counts = await JobRepository(session).counts_by_queue_and_status()
            run_counts = await RunRepository(session).counts_by_status()
    except Exception:  # metrics must answer even when the database does not
        queue_counts, run_counts = [], []
    QUEUE_LENGTH.clear()
    for queue in QUEUES:
        for job_status in (JobStatus.QUEUED, JobStatus.RUNNING):
            QUEUE_LENGTH.labels(queue, str(job_status)).set(0)
    for queue, status, count in queue_counts:
        QUEUE_LENGTH.labels(queue, status).set(count)
    RUNS_TOTAL.clear()
    for run_status in RunStatus:
        RUNS_TOTAL.labels(str(run_status)).set(0)
    for status, count in run_counts:
        RUNS_TOTAL.labels(status).set(count)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
