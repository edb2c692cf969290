"""The `jobs` table: the record of every unit of background work."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kadr.core.clock import utcnow
from kadr.core.db import Base


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a permanent error: retrying cannot help
    DEAD = "dead"  # transient errors until max_attempts ran out
    CANCELLED = "cancelled"


FINISHED_JOB_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED)


class JobErrorKind(enum.StrEnum):
    """Why a job's last attempt did not succeed (`jobs.error_kind`)."""

    PERMANENT = "permanent"  # the handler said retrying cannot help, or no handler exists
    TRANSIENT = "transient"  # an error worth retrying
    DEADLINE = "deadline"  # ran past its time limit
    WAITING = "waiting"  # the handler asked to be run again later (RetryLater)
    INTERRUPTED = "interrupted"  # its worker shut down
    LEASE_EXPIRED = "lease_expired"  # its worker died or stalled
    CANCELLED = "cancelled"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_run_after", "status", "run_after"),
        Index("ix_jobs_queue_status", "queue", "status"),
        UniqueConstraint("owner_id", "kind", "idempotency_key", name="uq_jobs_owner_kind_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str | None] = mapped_column(String(40), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    #: Last time a broker message was sent for this job (lost-message detection).
    dispatched_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None]
    #: A JobErrorKind.
    error_kind: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[dict[str, Any] | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
