"""Every query on `jobs`. State changes are conditional UPDATEs, so two workers
or two schedulers racing on one row cannot both win."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from kadr.core.clock import utcnow
from kadr.core.repository import Repository
from kadr.jobs.models import FINISHED_JOB_STATUSES, Job, JobErrorKind, JobStatus


class JobRepository(Repository[Job]):
    """Workers reach every job (`get_unscoped`); jobs are never listed per owner."""

    # Other workers and schedulers change jobs under us: never answer from a stale identity map.
    model = Job
    fresh = True

    async def find_by_idempotency_key(self, owner_id: str | None, kind: str, key: str) -> Job | None:
        result = await self.session.execute(
            select(Job).where(Job.owner_id == owner_id, Job.kind == kind, Job.idempotency_key == key)
        )
        return result.scalar_one_or_none()

    async def claim(self, job_id: str, worker_id: str, lease_seconds: float) -> Job | None:
        """Take the lease of a job that is due, or whose previous lease expired (its worker died)."""
        now = utcnow()
        claimable = or_(
            and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
            and_(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now),
        )
        claimed = await self.update(
            job_id,
            claimable,
            Job.attempts < Job.max_attempts,
            status=JobStatus.RUNNING,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=Job.attempts + 1,
            started_at=func.coalesce(Job.started_at, now),
            updated_at=now,
        )
        return await self.get_unscoped(job_id) if claimed else None

    async def renew_lease(self, job_id: str, worker_id: str, lease_seconds: float) -> bool:
        """Extend our lease; False means we lost it (cancelled, or taken over)."""
        now = utcnow()
        return await self._update_leased(
            job_id, worker_id, lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now
        )

    async def finish(
        self,
        job_id: str,
        worker_id: str,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        error_kind: JobErrorKind | None = None,
    ) -> bool:
        """Record the outcome of the attempt we hold the lease for."""
        now = utcnow()
        return await self._update_leased(
            job_id,
            worker_id,
            status=status,
            result=result,
            last_error=error,
            error_kind=error_kind,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )

    async def requeue(
        self,
        job_id: str,
        worker_id: str,
        run_after: datetime,
        *,
        error: str | None,
        error_kind: JobErrorKind,
        refund_attempt: bool = False,
    ) -> bool:
        """Give the job back to the queue (retry later, or released at shutdown)."""
        now = utcnow()
        values: dict[str, Any] = {
            "status": JobStatus.QUEUED,
            "run_after": run_after,
            "dispatched_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": error,
            "error_kind": error_kind,
            "updated_at": now,
        }
        if refund_attempt:
            values["attempts"] = Job.attempts - 1
        return await self._update_leased(job_id, worker_id, **values)

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not finished; a running worker notices at its next heartbeat."""
        now = utcnow()
        return await self.update(
            job_id,
            Job.status.not_in(FINISHED_JOB_STATUSES),
            status=JobStatus.CANCELLED,
            error_kind=JobErrorKind.CANCELLED,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )

    async def running_lease_owners(self) -> list[str]:
        """Every worker that holds a lease now."""
        result = await self.session.execute(
            select(Job.lease_owner)
            .where(Job.status == JobStatus.RUNNING, Job.lease_owner.is_not(None))
            .distinct()
        )
        return [owner for owner in result.scalars().all() if owner is not None]

    async def expire_leases_of(self, worker_id: str) -> int:
        """End now the leases of a worker known to be dead, so the reaper re-queues its jobs
        without waiting for them to run out. Conditional on the owner: a lease another worker
        took meanwhile is left alone."""
        now = utcnow()
        result = await self.session.execute(
            update(Job)
            .where(Job.status == JobStatus.RUNNING, Job.lease_owner == worker_id)
            .values(lease_expires_at=now - timedelta(seconds=1), updated_at=now)
            .returning(Job.id)
        )
        return len(result.scalars().all())

    async def expired_leases(self, limit: int = 100) -> Sequence[Job]:
        query = (
            select(Job)
            .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < utcnow())
            .order_by(Job.lease_expires_at)
            .limit(limit)
        )
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return (await self.session.execute(query)).scalars().all()

    async def release_expired_lease(self, job: Job) -> bool:
        """Put a dead worker's job back in the queue, if nobody did it first."""
        now = utcnow()
        return await self.update(
            job.id,
            Job.lease_expires_at < now,
            when_status=JobStatus.RUNNING,
            status=JobStatus.QUEUED,
            run_after=now,
            dispatched_at=now,
            lease_owner=None,
            lease_expires_at=None,
            last_error=f"lease of {job.lease_owner} expired (worker died or stalled)",
            error_kind=JobErrorKind.LEASE_EXPIRED,
            updated_at=now,
        )

    async def bury_expired_lease(self, job: Job) -> bool:
        """A job whose worker died on its last attempt is dead."""
        now = utcnow()
        return await self.update(
            job.id,
            Job.lease_expires_at < now,
            when_status=JobStatus.RUNNING,
            status=JobStatus.DEAD,
            lease_owner=None,
            lease_expires_at=None,
            last_error=f"lease of {job.lease_owner} expired on the last attempt",
            error_kind=JobErrorKind.LEASE_EXPIRED,
            finished_at=now,
            updated_at=now,
        )

    async def undelivered(self, older_than: datetime, limit: int = 500) -> Sequence[Job]:
        """Queued, due jobs whose last message is older than `older_than` (the broker lost it)."""
        query = (
            select(Job)
            .where(
                Job.status == JobStatus.QUEUED,
                Job.run_after <= utcnow(),
                or_(Job.dispatched_at.is_(None), Job.dispatched_at < older_than),
            )
            .order_by(Job.run_after)
            .limit(limit)
        )
        return (await self.session.execute(query)).scalars().all()

    async def mark_dispatched(self, job: Job, previous: datetime | None) -> bool:
        """Compare-and-set on dispatched_at, so two schedulers resend a job once."""
        now = utcnow()
        condition = Job.dispatched_at.is_(None) if previous is None else Job.dispatched_at == previous
        return await self.update(job.id, condition, when_status=JobStatus.QUEUED, dispatched_at=now)

    async def counts_by_queue_and_status(self) -> list[tuple[str, str, int]]:
        result = await self.session.execute(
            select(Job.queue, Job.status, func.count())
            .where(Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
            .group_by(Job.queue, Job.status)
        )
        return [(queue, status, count) for queue, status, count in result.all()]

    # --- the admin view ---------------------------------------------------------

    async def counts_by_queue(self, statuses: Sequence[str]) -> list[tuple[str, str, int]]:
        """(queue, status, jobs) for jobs in any of `statuses`."""
        result = await self.session.execute(
            select(Job.queue, Job.status, func.count())
            .where(Job.status.in_(statuses))
            .group_by(Job.queue, Job.status)
        )
        return [(queue, status, count) for queue, status, count in result.all()]

    async def leases_by_owner(self) -> list[tuple[str, int, datetime | None, datetime | None]]:
        """(lease owner, running jobs, last heartbeat, latest lease expiry) of every worker that
        holds a lease: each heartbeat renews the lease and stamps `updated_at`."""
        result = await self.session.execute(
            select(Job.lease_owner, func.count(), func.max(Job.updated_at), func.max(Job.lease_expires_at))
            .where(Job.status == JobStatus.RUNNING, Job.lease_owner.is_not(None))
            .group_by(Job.lease_owner)
        )
        return [(str(owner), count, beat, expiry) for owner, count, beat, expiry in result.all()]

    async def dead(self, limit: int) -> tuple[Sequence[Job], int]:
        """The newest `limit` dead jobs, and how many there are."""
        rows = await self.session.execute(
            select(Job)
            .where(Job.status == JobStatus.DEAD)
            .order_by(Job.updated_at.desc(), Job.id.desc())
            .limit(limit)
        )
        total = await self.session.execute(
            select(func.count()).select_from(Job).where(Job.status == JobStatus.DEAD)
        )
        return rows.scalars().all(), int(total.scalar_one())

    async def revive(self, job_id: str) -> bool:
        """A dead job queued again with its attempts back to zero (False: it is not dead)."""
        now = utcnow()
        return await self.update(
            job_id,
            when_status=JobStatus.DEAD,
            status=JobStatus.QUEUED,
            attempts=0,
            run_after=now,
            dispatched_at=now,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=None,
            updated_at=now,
        )

    async def discard(self, job_id: str) -> bool:
        """A dead job set aside for good (cancelled; its last error is kept)."""
        now = utcnow()
        return await self.update(
            job_id,
            when_status=JobStatus.DEAD,
            status=JobStatus.CANCELLED,
            error_kind=JobErrorKind.CANCELLED,
            updated_at=now,
        )

    async def _update_leased(self, job_id: str, worker_id: str, **values: Any) -> bool:
        """Change a running job whose lease `worker_id` still holds (False: cancelled or taken over)."""
        return await self.update(
            job_id, Job.lease_owner == worker_id, when_status=JobStatus.RUNNING, **values
        )
