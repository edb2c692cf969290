"""The job executor: lease before work, heartbeat while working, record the outcome.

A message for a job that is finished, cancelled, not yet due, or leased by a
live worker is acknowledged and ignored, so duplicate delivery is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import traceback
from datetime import timedelta
from typing import Any

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.core.errors import Cancelled, PermanentJobError, RetryLater
from kadr.core.logging import get_logger
from kadr.core.metrics import ERRORS_TOTAL, JOBS_PROCESSED
from kadr.jobs import broker
from kadr.jobs.instances import WorkerInstance
from kadr.jobs.models import JobErrorKind, JobStatus
from kadr.jobs.reaper import reap_expired_leases
from kadr.jobs.registry import JobContext, JobKind, get_kind
from kadr.jobs.repository import JobRepository

log = get_logger(__name__)


def backoff_seconds(settings: Settings, attempt: int) -> float:
    """Exponential backoff with full jitter: uniform in [base*2^(n-1)/2, base*2^(n-1)], capped."""
    ceiling = min(
        settings.job_backoff_max_seconds, settings.job_backoff_base_seconds * 2 ** max(0, attempt - 1)
    )
    return random.uniform(ceiling / 2, ceiling)


def _short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:4000]


class JobExecutor:
    """Runs jobs delivered to this process. One per worker process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: Lease owner `host:pid:token`; its lock file tells later workers whether we are alive.
        self.instance = WorkerInstance(settings.resolved_work_dir)
        self.instance.acquire()
        self.worker_id = self.instance.worker_id
        #: Set on SIGTERM: nothing new is taken; running jobs checkpoint at their next step
        #: boundary and are released (their cancel events are set only if the grace runs out).
        self.drain_event = threading.Event()
        self._running: dict[str, JobContext] = {}

    @property
    def running_job_ids(self) -> list[str]:
        return list(self._running)

    def close(self) -> None:
        """Stopped cleanly: drop the liveness lock (our jobs were finished or released)."""
        self.instance.release()

    async def reclaim_orphaned_leases(self) -> int:
        """Re-queue now the jobs of dead workers that shared this scratch space (a crashed
        `kadr up` restarting, a supervised worker replaced) instead of waiting for their leases
        to run out. Returns how many leases were ended."""
        database = get_database(self.settings)
        ended = 0
        async with database.session() as session:
            repository = JobRepository(session)
            dead = [o for o in await repository.running_lease_owners() if self.instance.is_dead(o)]
            for owner in dead:
                ended += await repository.expire_leases_of(owner)
            await session.commit()
        self.instance.forget_dead()
        if ended:
            log.warning("leases of a dead worker on this machine reclaimed", jobs=ended, owners=dead)
            await reap_expired_leases(self.settings)
        return ended

    def interrupt_all(self) -> None:
        """Stop running jobs now (shutdown grace ran out); with drain set they are released."""
        for context in list(self._running.values()):
            context.cancel_event.set()

    async def deliver(self, job_id: str) -> None:
        """Entry point for a broker message."""
        if self.drain_event.is_set():
            return  # the message stays unacknowledged-in-effect: the sweep re-sends it after shutdown
        database = get_database(self.settings)
        async with database.session() as session:
            job = await JobRepository(session).claim(job_id, self.worker_id, self.settings.job_lease_seconds)
            await session.commit()
        if job is None:
            log.debug("message ignored", job_id=job_id)
            return
        try:
            kind = get_kind(job.kind)
        except LookupError as exc:
            await self._finish(job_id, JobStatus.FAILED, error=str(exc), error_kind=JobErrorKind.PERMANENT)
            return
        context = JobContext.for_job(job, self.settings, self.worker_id, self.drain_event)
        self._running[job.id] = context
        heartbeat = asyncio.create_task(self._heartbeat(context))
        try:
            await self._execute(kind, context)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._running.pop(job.id, None)

    async def _execute(self, kind: JobKind, context: JobContext) -> None:
        log.info("job started", job_id=context.job_id, kind=context.kind, attempt=context.attempt)
        try:
            result = await asyncio.wait_for(kind.handler(context), kind.time_limit_seconds)
        except Cancelled as exc:
            await self._after_cancel(kind, context, exc)
        except RetryLater as exc:
            await self._wait(context, exc)
        except PermanentJobError as exc:
            JOBS_PROCESSED.labels(context.kind, JobStatus.FAILED).inc()
            await self._give_up(
                kind, context, JobStatus.FAILED, str(exc) or type(exc).__name__, JobErrorKind.PERMANENT
            )
        except Exception as exc:
            ERRORS_TOTAL.labels(where="job", type=type(exc).__name__).inc()
            log.warning(
                "job attempt failed",
                job_id=context.job_id,
                kind=context.kind,
                attempt=context.attempt,
                error=_short_error(exc),
                traceback="".join(traceback.format_exception(exc))[-2000:],
            )
            if context.attempt >= context.max_attempts:
                JOBS_PROCESSED.labels(context.kind, JobStatus.DEAD).inc()
                await self._give_up(kind, context, JobStatus.DEAD, _short_error(exc), JobErrorKind.TRANSIENT)
            else:
                await self._retry_later(context, exc)
        else:
            JOBS_PROCESSED.labels(context.kind, JobStatus.SUCCEEDED).inc()
            await self._finish(context.job_id, JobStatus.SUCCEEDED, result=result)
            log.info("job succeeded", job_id=context.job_id, kind=context.kind)

    async def _after_cancel(self, kind: JobKind, context: JobContext, exc: Cancelled) -> None:
        database = get_database(self.settings)
        async with database.session() as session:
            job = await JobRepository(session).get_unscoped(context.job_id)
            if job is None or job.lease_owner != self.worker_id or job.status != JobStatus.RUNNING:
                # Cancelled by a user, or the lease went to another worker: nothing is ours to record.
                log.info("job stopped", job_id=context.job_id, reason=str(exc))
                return
            if self.drain_event.is_set():
                # Shutdown: give the job back untouched (the attempt does not count).
                await JobRepository(session).requeue(
                    context.job_id,
                    self.worker_id,
                    utcnow(),
                    error="worker shut down; released for another worker",
                    error_kind=JobErrorKind.INTERRUPTED,
                    refund_attempt=True,
                )
                await session.commit()
                broker.send(job.queue, context.job_id)
                log.info("job released at shutdown", job_id=context.job_id)
                return
        # A deadline, not a user: the same work would overrun again, so it is not retried.
        await self._give_up(kind, context, JobStatus.FAILED, str(exc), JobErrorKind.DEADLINE)

    async def _wait(self, context: JobContext, exc: RetryLater) -> None:
        """Put the job back until the handler's named time; the attempt is refunded."""
        if await self._requeue(
            context, exc.delay_seconds, exc.reason, JobErrorKind.WAITING, refund_attempt=True
        ):
            log.info(
                "job waits", job_id=context.job_id, in_seconds=round(exc.delay_seconds, 2), reason=exc.reason
            )

    async def _retry_later(self, context: JobContext, exc: BaseException) -> None:
        delay = backoff_seconds(self.settings, context.attempt)
        if await self._requeue(context, delay, _short_error(exc), JobErrorKind.TRANSIENT):
            log.info("job will retry", job_id=context.job_id, in_seconds=round(delay, 2))

    async def _requeue(
        self,
        context: JobContext,
        delay: float,
        error: str,
        error_kind: JobErrorKind,
        *,
        refund_attempt: bool = False,
    ) -> bool:
        database = get_database(self.settings)
        async with database.session() as session:
            job = await JobRepository(session).get_unscoped(context.job_id)
            requeued = await JobRepository(session).requeue(
                context.job_id,
                self.worker_id,
                utcnow() + timedelta(seconds=delay),
                error=error,
                error_kind=error_kind,
                refund_attempt=refund_attempt,
            )
            await session.commit()
        if requeued and job is not None:
            broker.send(job.queue, context.job_id, delay)
            return True
        return False

    async def _give_up(
        self, kind: JobKind, context: JobContext, status: JobStatus, error: str, error_kind: JobErrorKind
    ) -> None:
        database = get_database(self.settings)
        async with database.session() as session:
            recorded = await JobRepository(session).finish(
                context.job_id, self.worker_id, status, error=error, error_kind=error_kind
            )
            if recorded and kind.on_give_up is not None:
                await kind.on_give_up(session, context, status, error)
            await session.commit()
        log.warning("job gave up", job_id=context.job_id, status=str(status), error=error[:300])

    async def _finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        error_kind: JobErrorKind | None = None,
    ) -> None:
        database = get_database(self.settings)
        async with database.session() as session:
            await JobRepository(session).finish(
                job_id, self.worker_id, status, result=result, error=error, error_kind=error_kind
            )
            await session.commit()

    async def _heartbeat(self, context: JobContext) -> None:
        """Renew the lease; a lost lease (cancel or takeover) or drain stops the work."""
        database = get_database(self.settings)
        interval = self.settings.job_heartbeat_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                async with database.session() as session:
                    still_ours = await JobRepository(session).renew_lease(
                        context.job_id, self.worker_id, self.settings.job_lease_seconds
                    )
                    await session.commit()
            except Exception as exc:  # database blip: keep working, the lease has slack
                log.warning("heartbeat failed", job_id=context.job_id, error=str(exc)[:200])
                continue
            if not still_ours:
                log.info("lease lost; stopping", job_id=context.job_id)
                context.cancel_event.set()
                return
