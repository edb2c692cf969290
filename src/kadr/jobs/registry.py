"""Job kinds and their handlers. Each domain's `tasks.py` registers its kinds here."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.jobs.models import Job

QUEUES = ("video", "publish", "notify", "llm")


@dataclass
class JobContext:
    """What a handler gets: the job's facts, and a cancel event the heartbeat sets."""

    job_id: str
    kind: str
    payload: dict[str, Any]
    owner_id: str | None
    attempt: int
    max_attempts: int
    settings: Settings
    worker_id: str
    #: Set when the job was cancelled, its lease was lost, or the worker is shutting down.
    cancel_event: threading.Event
    #: Set (with cancel_event) when the worker drains for shutdown: checkpoint and stop.
    drain_event: threading.Event

    @classmethod
    def for_job(
        cls, job: Job, settings: Settings, worker_id: str, drain_event: threading.Event | None = None
    ) -> JobContext:
        return cls(
            job_id=job.id,
            kind=job.kind,
            payload=dict(job.payload or {}),
            owner_id=job.owner_id,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            settings=settings,
            worker_id=worker_id,
            cancel_event=threading.Event(),
            drain_event=drain_event or threading.Event(),
        )


Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]
#: Called in the transaction that marks a job failed/dead/cancelled, so domain state follows.
GiveUpHook = Callable[[AsyncSession, JobContext, str, str], Awaitable[None]]
#: Called in the transaction that queues a dead job again (an administrator's requeue), so the
#: domain state the give-up hook ended is opened again for the new attempts.
ReviveHook = Callable[[AsyncSession, JobContext], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    kind: str
    queue: str
    handler: Handler
    max_attempts: int | None = None
    on_give_up: GiveUpHook | None = None
    on_revive: ReviveHook | None = None
    #: Wall-clock limit of one attempt; over it the attempt is cancelled and retried.
    #: None for kinds whose steps carry deadlines of their own (a run's components).
    time_limit_seconds: float | None = None


_KINDS: dict[str, JobKind] = {}
TASK_MODULES = (
    "kadr.jobs.tasks",
    "kadr.runs.tasks",
    "kadr.videos.tasks",
    "kadr.channels.tasks",
    "kadr.publications.tasks",
    "kadr.notifications.tasks",
    "kadr.scenarios.tasks",
)


def job_handler(
    kind: str,
    *,
    queue: str,
    max_attempts: int | None = None,
    on_give_up: GiveUpHook | None = None,
    on_revive: ReviveHook | None = None,
    time_limit_seconds: float | None = None,
) -> Callable[[Handler], Handler]:
    """Register `handler` for jobs of `kind` on `queue`."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def register(handler: Handler) -> Handler:
        _KINDS[kind] = JobKind(kind, queue, handler, max_attempts, on_give_up, on_revive, time_limit_seconds)
        return handler

    return register


def get_kind(kind: str) -> JobKind:
    load_task_modules()
    try:
        return _KINDS[kind]
    except KeyError:
        raise LookupError(f"no handler registered for job kind {kind!r}") from None


def load_task_modules() -> None:
    for module in TASK_MODULES:
        importlib.import_module(module)
