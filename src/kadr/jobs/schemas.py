"""Response shapes of the admin API on the job system."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from kadr.core.schemas import Schema


class QueueOut(Schema):
    queue: str
    queued: int = Field(description="Jobs waiting (due or scheduled later)")
    running: int
    dead: int = Field(description="Jobs that failed on every attempt")


class WorkerOut(Schema):
    worker_id: str = Field(description="host:pid:token, as its leases name it")
    alive: bool
    running_jobs: int
    last_heartbeat_at: datetime | None = Field(description="Its latest lease renewal; None while idle")
    lease_expires_at: datetime | None


class DeadJobOut(Schema):
    id: str
    kind: str
    queue: str
    owner_id: str | None
    status: str
    attempts: int
    max_attempts: int
    last_error: str | None
    error_kind: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class DeadJobsOut(Schema):
    items: list[DeadJobOut] = Field(description="The newest dead jobs first")
    total: int = Field(description="Dead jobs in all")
