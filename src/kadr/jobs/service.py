"""Enqueue after commit, cancel, and read jobs; the administrator's view of them.

`enqueue` adds the job row to the caller's session; the broker message is sent
only after that session's transaction commits, and forgotten if it rolls back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Conflict, KadrError, NotFound
from kadr.core.ids import new_id
from kadr.jobs import broker
from kadr.jobs.instances import instances_in
from kadr.jobs.models import Job, JobStatus
from kadr.jobs.registry import QUEUES, JobContext, get_kind
from kadr.jobs.repository import JobRepository

_PENDING_KEY = "kadr_pending_jobs"


def _pending(session: Session) -> list[tuple[str, str, float]]:
    pending: list[tuple[str, str, float]] = session.info.setdefault(_PENDING_KEY, [])
    return pending


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    for queue, job_id, delay in session.info.pop(_PENDING_KEY, []):
        broker.send(queue, job_id, delay)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


async def enqueue(
    session: AsyncSession,
    settings: Settings,
    kind: str,
    payload: dict[str, Any],
    *,
    owner_id: str | None = None,
    run_after: datetime | None = None,
    idempotency_key: str | None = None,
    job_id: str | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Add a job to the caller's transaction; it is announced to the broker after commit."""
    job_kind = get_kind(kind)
    if idempotency_key is not None:
        existing = await JobRepository(session).find_by_idempotency_key(owner_id, kind, idempotency_key)
        if existing is not None:
            return existing
    now = utcnow()
    due = run_after or now
    job = Job(
        id=job_id or new_id("job"),
        kind=kind,
        queue=job_kind.queue,
        owner_id=owner_id,
        payload=payload,
        status=JobStatus.QUEUED,
        attempts=0,
        max_attempts=max_attempts or job_kind.max_attempts or settings.job_max_attempts,
        run_after=due,
        dispatched_at=now,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    _pending(session.sync_session).append((job.queue, job.id, max(0.0, (due - now).total_seconds())))
    return job


async def cancel(session: AsyncSession, job_id: str) -> bool:
    """Mark a job cancelled (the caller commits); its worker stops at the next heartbeat."""
    return await JobRepository(session).cancel(job_id)


@dataclass
class QueueLength:
    queue: str
    queued: int = 0
    running: int = 0
    dead: int = 0


@dataclass
class WorkerView:
    worker_id: str
    alive: bool
    running_jobs: int = 0
    last_heartbeat_at: datetime | None = None
    lease_expires_at: datetime | None = None


class JobAdminService:
    """What an administrator sees of the job system and may do to it: queue lengths, workers,
    dead jobs to queue again or set aside."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.jobs = JobRepository(session)

    async def queues(self) -> list[QueueLength]:
        """Every queue, with its jobs waiting, running and dead (empty queues too)."""
        lengths = {queue: QueueLength(queue) for queue in QUEUES}
        counted = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DEAD)
        for queue, status, count in await self.jobs.counts_by_queue(counted):
            setattr(lengths.setdefault(queue, QueueLength(queue)), status, count)
        return list(lengths.values())

    async def workers(self) -> list[WorkerView]:
        """The workers that hold leases (a lease renewed in time is a heartbeat: alive), and the
        instances sharing this scratch space (alive while their process lives), idle or not."""
        now = utcnow()
        views: dict[str, WorkerView] = {}
        for owner, count, beat, expiry in await self.jobs.leases_by_owner():
            views[owner] = WorkerView(owner, expiry is not None and expiry > now, count, beat, expiry)
        for owner, alive in await asyncio.to_thread(instances_in, self.settings.resolved_work_dir):
            view = views.setdefault(owner, WorkerView(owner, alive))
            view.alive = alive  # the lock is the better witness on this machine
        return sorted(views.values(), key=lambda v: (not v.alive, v.worker_id))

    async def dead_jobs(self, limit: int) -> tuple[Sequence[Job], int]:
        return await self.jobs.dead(limit)

    async def requeue(self, job_id: str) -> Job:
        """Queue a dead job again, attempts from zero, and reopen what its kind closed when it
        gave up (a dead run's job reopens the run); its worker hears of it after commit."""
        if not await self.jobs.revive(job_id):
            raise await self._not_dead(job_id)
        job = await self.jobs.get_unscoped(job_id)
        assert job is not None
        try:
            on_revive = get_kind(job.kind).on_revive
        except LookupError:  # a kind this installation no longer handles: queued, and it says so
            on_revive = None
        if on_revive is not None:
            await on_revive(self.session, JobContext.for_job(job, self.settings, worker_id="admin"))
        _pending(self.session.sync_session).append((job.queue, job.id, 0.0))
        await self.session.commit()
        return job

    async def discard(self, job_id: str) -> Job:
        if not await self.jobs.discard(job_id):
            raise await self._not_dead(job_id)
        job = await self.jobs.get_unscoped(job_id)
        assert job is not None
        await self.session.commit()
        return job

    async def _not_dead(self, job_id: str) -> KadrError:
        job = await self.jobs.get_unscoped(job_id)
        if job is None:
            return NotFound(f"no job {job_id}")
        return Conflict(f"job {job_id} is {job.status}, not dead: only dead jobs are requeued or discarded")
