"""The admin API on the job system: queue lengths, workers, dead jobs (for users with is_admin).

Its own package: the job system cannot know accounts (accounts enqueue jobs), and these routes
need both."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kadr.accounts.dependencies import SystemAdmin
from kadr.core.deps import SessionDep, SettingsDep
from kadr.jobs.schemas import DeadJobOut, DeadJobsOut, QueueOut, WorkerOut
from kadr.jobs.service import JobAdminService

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/queues", response_model=list[QueueOut])
async def list_queues(_: SystemAdmin, session: SessionDep, settings: SettingsDep) -> list[QueueOut]:
    """Every queue with its jobs waiting, running and dead."""
    return [QueueOut.model_validate(q) for q in await JobAdminService(session, settings).queues()]


@router.get("/workers", response_model=list[WorkerOut])
async def list_workers(_: SystemAdmin, session: SessionDep, settings: SettingsDep) -> list[WorkerOut]:
    """Workers holding leases (alive while they renew them) and those on this machine."""
    return [WorkerOut.model_validate(w) for w in await JobAdminService(session, settings).workers()]


@router.get("/jobs/dead", response_model=DeadJobsOut)
async def list_dead_jobs(
    _: SystemAdmin,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeadJobsOut:
    """The newest dead jobs with their last error, and how many there are."""
    jobs, total = await JobAdminService(session, settings).dead_jobs(limit)
    return DeadJobsOut(items=[DeadJobOut.model_validate(j) for j in jobs], total=total)


@router.post("/jobs/{job_id}/requeue", response_model=DeadJobOut)
async def requeue_job(job_id: str, _: SystemAdmin, session: SessionDep, settings: SettingsDep) -> DeadJobOut:
    """Queue a dead job again with its attempts from zero (409 if it is not dead)."""
    return DeadJobOut.model_validate(await JobAdminService(session, settings).requeue(job_id))


@router.post("/jobs/{job_id}/discard", response_model=DeadJobOut)
async def discard_job(job_id: str, _: SystemAdmin, session: SessionDep, settings: SettingsDep) -> DeadJobOut:
    """Set a dead job aside for good: it leaves the list, cancelled, its error kept."""
    return DeadJobOut.model_validate(await JobAdminService(session, settings).discard(job_id))
