"""Periodic duties: re-deliver jobs whose worker died or whose message was lost, dispatch due
publications and check their channels ahead of the slot,
clean scratch space, sample queue metrics.

Every duty is a set of conditional UPDATEs, so any number of schedulers may run
at once without dispatching anything twice.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.core.logging import get_logger
from kadr.jobs import broker
from kadr.jobs.models import Job, JobStatus
from kadr.jobs.registry import JobContext, get_kind
from kadr.jobs.repository import JobRepository

log = get_logger(__name__)

Duty = Callable[[Settings], Awaitable[int]]


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


async def dispatch_due_publications(settings: Settings) -> int:
    """Claim publications whose time has come and put them on the publish queue (once each)."""
    from kadr.publications.service import PublicationService

    async with get_database(settings).session() as session:
        return await PublicationService(session, settings).dispatch_due()


async def check_channels_before_slots(settings: Settings) -> int:
    """Have each channel with a slot inside the preflight window check its credentials."""
    from kadr.publications.service import PublicationService

    async with get_database(settings).session() as session:
        return await PublicationService(session, settings).preflight()


class Scheduler:
    """Runs the duties on an interval inside the current event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._scheduler = AsyncIOScheduler(timezone="UTC")

    def _duties(self) -> list[tuple[str, Duty, float]]:
        interval = self.settings.scheduler_interval_seconds
        duties: list[tuple[str, Duty, float]] = [
            ("reap_expired_leases", reap_expired_leases, interval),
            ("redeliver_lost_jobs", redeliver_lost_jobs, interval),
            ("dispatch_due_publications", dispatch_due_publications, interval),
            ("check_channels_before_slots", check_channels_before_slots, interval),
            ("clean_scratch", clean_scratch, 3600.0),
        ]
        return duties

    async def _guarded(self, name: str, duty: Duty) -> None:
        try:
            await duty(self.settings)
        except asyncio.CancelledError:
            # Shutdown cut the duty short; every duty is a set of atomic updates, so it is safe to stop.
            log.debug("scheduler duty interrupted by shutdown", duty=name)
        except Exception as exc:  # a database blip must not stop the scheduler
            log.warning("scheduler duty failed", duty=name, error=str(exc)[:300])

    async def run_once(self) -> None:
        for name, duty, _ in self._duties():
            await self._guarded(name, duty)

    def start(self) -> None:
        for name, duty, every in self._duties():
            self._scheduler.add_job(
                self._guarded,
                "interval",
                seconds=every,
                args=(name, duty),
                id=name,
                max_instances=1,
                coalesce=True,
                next_run_time=utcnow(),
            )
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
