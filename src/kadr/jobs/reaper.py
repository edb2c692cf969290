"""The job system's own duties: re-deliver jobs whose worker died or whose message was lost, and
clean the scratch space crashed attempts leave behind."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.core.logging import get_logger
from kadr.jobs import broker
from kadr.jobs.duties import Duty, register_duty
from kadr.jobs.models import Job, JobStatus
from kadr.jobs.registry import JobContext, get_kind
from kadr.jobs.repository import JobRepository

log = get_logger(__name__)


async def reap_expired_leases(settings: Settings) -> int:
    """Jobs whose worker stopped renewing its lease go back to the queue (or die on their last try)."""
    database = get_database(settings)
    buried = 0
    released: list[tuple[str, str]] = []
    async with database.session() as session:
        repository = JobRepository(session)
        for job in await repository.expired_leases():
            owner = job.lease_owner
            if job.attempts >= job.max_attempts:
                if await repository.bury_expired_lease(job):
                    await _notify_give_up(session, settings, job)
                    buried += 1
            elif await repository.release_expired_lease(job):
                released.append((job.queue, job.id))
                log.warning("lease expired; job re-queued", job_id=job.id, dead_worker=owner)
        await session.commit()
    for queue, job_id in released:
        broker.send(queue, job_id)
    return buried + len(released)


async def _notify_give_up(session: AsyncSession, settings: Settings, job: Job) -> None:
    try:
        kind = get_kind(job.kind)
    except LookupError:
        return
    if kind.on_give_up is None:
        return
    context = JobContext.for_job(job, settings, "scheduler")
    await kind.on_give_up(session, context, JobStatus.DEAD, job.last_error or "lease expired")


async def redeliver_lost_jobs(settings: Settings, grace_seconds: float | None = None) -> int:
    """Send again the due, queued jobs whose message never led to a claim (lost by the broker)."""
    grace = settings.job_redeliver_after_seconds if grace_seconds is None else grace_seconds
    database = get_database(settings)
    sent: list[tuple[str, str]] = []
    async with database.session() as session:
        repository = JobRepository(session)
        for job in await repository.undelivered(utcnow() - timedelta(seconds=grace)):
            if await repository.mark_dispatched(job, job.dispatched_at):
                sent.append((job.queue, job.id))
        await session.commit()
    for queue, job_id in sent:
        broker.send(queue, job_id)
    if sent:
        log.info("re-delivered jobs", count=len(sent))
    return len(sent)


async def clean_scratch(settings: Settings, older_than_hours: float = 24.0) -> int:
    """Remove worker scratch folders nobody touched for a day (crashed runs leave them)."""
    root = settings.resolved_work_dir
    if not root.exists():
        return 0
    cutoff = time.time() - older_than_hours * 3600
    removed = 0
    for folder in root.glob("*/*"):
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


@register_duty
class ReapExpiredLeases(Duty):
    name = "reap_expired_leases"

    async def run_once(self, settings: Settings) -> int:
        return await reap_expired_leases(settings)


@register_duty
class RedeliverLostJobs(Duty):
    name = "redeliver_lost_jobs"

    async def run_once(self, settings: Settings) -> int:
        return await redeliver_lost_jobs(settings)


@register_duty
class CleanScratch(Duty):
    name = "clean_scratch"

    def interval_seconds(self, settings: Settings) -> float:
        return 3600.0

    async def run_once(self, settings: Settings) -> int:
        return await clean_scratch(settings)
