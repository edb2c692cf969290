"""Enqueue after commit, cancel, and read jobs.

`enqueue` adds the job row to the caller's session; the broker message is sent
only after that session's transaction commits, and forgotten if it rolls back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.ids import new_id
from kadr.jobs import broker
from kadr.jobs.models import Job, JobStatus
from kadr.jobs.registry import get_kind
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
