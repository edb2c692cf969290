"""The job system's promises, on a real database and a real Dramatiq worker."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.jobs import broker
from kadr.jobs import service as jobs
from kadr.jobs.models import Job, JobStatus
from kadr.jobs.reaper import reap_expired_leases, redeliver_lost_jobs
from kadr.jobs.repository import JobRepository
from kadr.jobs.runtime import Runtime
from kadr.jobs.worker import backoff_seconds
from tests.jobs.conftest import GIVE_UPS, executed

pytestmark = pytest.mark.anyio


async def enqueue(settings: Settings, kind: str, payload: dict[str, object], **options: object) -> str:
    async with get_database(settings).session() as session:
        job = await jobs.enqueue(session, settings, kind, payload, **options)  # type: ignore[arg-type]
        await session.commit()
        return job.id


async def load(settings: Settings, job_id: str) -> Job:
    async with get_database(settings).session() as session:
        job = await JobRepository(session).get_unscoped(job_id)
        assert job is not None
        return job


async def wait_for_status(settings: Settings, job_id: str, *statuses: str, timeout: float = 15.0) -> Job:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await load(settings, job_id)
        if job.status in statuses:
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"job {job_id} stayed {job.status} (wanted {statuses}); error={job.last_error}"
            )
        await asyncio.sleep(0.05)


async def test_job_runs_and_records_its_result(settings: Settings, worker: Runtime) -> None:
    job_id = await enqueue(settings, "test.echo", {"value": "hello"})
    job = await wait_for_status(settings, job_id, JobStatus.SUCCEEDED)
    assert job.result == {"echo": "hello"}
    assert job.attempts == 1
    assert job.lease_owner is None
    assert job.finished_at is not None


async def test_message_is_sent_only_after_commit_and_dropped_on_rollback(
    settings: Settings, worker: Runtime
) -> None:
    database = get_database(settings)
    async with database.session() as session:
        job = await jobs.enqueue(session, settings, "test.echo", {"value": 1})
        await session.flush()
        await asyncio.sleep(0.5)
        assert executed(job.id) == 0, "the worker must not see a job before its transaction commits"
        await session.commit()
    await wait_for_status(settings, job.id, JobStatus.SUCCEEDED)

    async with database.session() as session:
        doomed = await jobs.enqueue(session, settings, "test.echo", {"value": 2})
        await session.rollback()
    await asyncio.sleep(0.5)
    assert executed(doomed.id) == 0
    async with database.session() as session:
        assert await JobRepository(session).get_unscoped(doomed.id) is None


async def test_duplicate_delivery_executes_once(settings: Settings, worker: Runtime) -> None:
    job_id = await enqueue(settings, "test.echo", {"value": "x", "sleep": 0.3})
    for _ in range(5):
        broker.send("notify", job_id)
    await wait_for_status(settings, job_id, JobStatus.SUCCEEDED)
    for _ in range(3):
        broker.send("notify", job_id)  # late duplicates of a finished job
    await asyncio.sleep(0.5)
    assert executed(job_id) == 1


async def test_transient_failures_are_retried_with_backoff(settings: Settings, worker: Runtime) -> None:
    job_id = await enqueue(settings, "test.flaky", {"failures": 2})
    job = await wait_for_status(settings, job_id, JobStatus.SUCCEEDED)
    assert job.attempts == 3
    assert job.result == {"attempt": 3}
    assert executed(job_id) == 3


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings: Settings) -> None:
    first = [backoff_seconds(settings, 1) for _ in range(200)]
    third = [backoff_seconds(settings, 3) for _ in range(200)]
    base = settings.job_backoff_base_seconds
    assert all(base / 2 <= d <= base for d in first)
    assert all(4 * base / 2 <= d <= 4 * base for d in third)
    assert len(set(third)) > 100, "jitter spreads retries"
    assert backoff_seconds(settings, 60) <= settings.job_backoff_max_seconds


async def test_job_is_dead_after_max_attempts_with_its_error_kept(
    settings: Settings, worker: Runtime
) -> None:
    job_id = await enqueue(settings, "test.flaky", {"failures": 99})
    job = await wait_for_status(settings, job_id, JobStatus.DEAD, timeout=30)
    assert job.attempts == settings.job_max_attempts
    assert job.last_error is not None and "transient failure on attempt 5" in job.last_error
    assert executed(job_id) == settings.job_max_attempts
    assert GIVE_UPS[job_id].startswith("dead")


async def test_an_attempt_over_its_kinds_time_limit_is_stopped_and_retried(
    settings: Settings, worker: Runtime
) -> None:
    recovers = await enqueue(settings, "test.slow", {"quick_from_attempt": 2})
    job = await wait_for_status(settings, recovers, JobStatus.SUCCEEDED)
    assert job.attempts == 2 and job.result == {"attempt": 2}

    never = await enqueue(settings, "test.slow", {})
    job = await wait_for_status(settings, never, JobStatus.DEAD)
    assert job.attempts == 2
    assert job.last_error is not None and "TimeoutError" in job.last_error
    assert executed(never) == 2


async def test_bad_input_is_never_retried(settings: Settings, worker: Runtime) -> None:
    job_id = await enqueue(settings, "test.bad_input", {})
    job = await wait_for_status(settings, job_id, JobStatus.FAILED)
    await asyncio.sleep(0.5)
    assert executed(job_id) == 1
    assert job.error_kind == "permanent"
    assert job.last_error == "the input is not a video"
    assert GIVE_UPS[job_id].startswith("failed")


async def test_cancel_stops_a_running_job(settings: Settings, worker: Runtime) -> None:
    job_id = await enqueue(settings, "test.long", {})
    await wait_for_status(settings, job_id, JobStatus.RUNNING)
    async with get_database(settings).session() as session:
        assert await jobs.cancel(session, job_id)
        await session.commit()
    await asyncio.sleep(settings.job_heartbeat_seconds * 3)
    assert worker.executor is not None and job_id not in worker.executor.running_job_ids
    job = await load(settings, job_id)
    assert job.status == JobStatus.CANCELLED


async def test_idempotency_key_returns_the_same_job(settings: Settings, worker: Runtime) -> None:
    first = await enqueue(settings, "test.echo", {"value": 1}, idempotency_key="k1")
    second = await enqueue(settings, "test.echo", {"value": 1}, idempotency_key="k1")
    assert first == second
    await wait_for_status(settings, first, JobStatus.SUCCEEDED)
    assert executed(first) == 1


async def test_a_dead_workers_job_is_re_delivered_after_its_lease_expires(
    settings: Settings, worker: Runtime
) -> None:
    database = get_database(settings)
    # A worker took the job and died: its lease is expiring and nobody renews it.
    async with database.session() as session:
        job = await jobs.enqueue(session, settings, "test.echo", {"value": "survivor"}, run_after=utcnow())
        await session.commit()
    async with database.session() as session:
        # Claim it as a worker that will never come back, before the live worker does.
        claimed = await JobRepository(session).claim(job.id, "ghost:1", 0.5)
        await session.commit()
    if claimed is None:  # the live worker won the race: the promise still holds
        await wait_for_status(settings, job.id, JobStatus.SUCCEEDED)
        return
    await asyncio.sleep(0.7)
    assert await reap_expired_leases(settings) == 1
    done = await wait_for_status(settings, job.id, JobStatus.SUCCEEDED)
    assert done.attempts == 2
    assert executed(job.id) == 1


async def test_jobs_the_broker_lost_are_sent_again(settings: Settings, database: None) -> None:
    # No worker yet, and no broker: the message is lost.
    job_id = await enqueue(settings, "test.echo", {"value": "lost"})
    runtime = Runtime(settings, shutdown_grace_seconds=2.0)
    async with runtime.running(worker=True, scheduler=False):
        await asyncio.sleep(0.3)
        assert (await load(settings, job_id)).status == JobStatus.QUEUED
        assert await redeliver_lost_jobs(settings, grace_seconds=0) == 1
        await wait_for_status(settings, job_id, JobStatus.SUCCEEDED)


async def test_two_schedulers_resend_a_lost_job_once(settings: Settings, database: None) -> None:
    ids = [await enqueue(settings, "test.echo", {"value": n}) for n in range(20)]
    past = utcnow() - timedelta(minutes=5)
    async with get_database(settings).session() as session:
        for job_id in ids:
            job = await JobRepository(session).get_unscoped(job_id)
            assert job is not None
            job.dispatched_at = past
        await session.commit()
    first, second = await asyncio.gather(redeliver_lost_jobs(settings), redeliver_lost_jobs(settings))
    assert first + second == len(ids)


async def test_shutdown_releases_running_jobs_without_spending_an_attempt(
    settings: Settings, database: None
) -> None:
    runtime = Runtime(settings, shutdown_grace_seconds=1.0)
    async with runtime.running(worker=True, scheduler=False):
        job_id = await enqueue(settings, "test.long", {})
        await wait_for_status(settings, job_id, JobStatus.RUNNING)
    job = await load(settings, job_id)
    assert job.status == JobStatus.QUEUED
    assert job.attempts == 0
    assert job.error_kind == "interrupted"
    # The next worker picks it up and finishes it.
    async with get_database(settings).session() as session:
        job = await JobRepository(session).get_unscoped(job_id)
        assert job is not None
        job.payload = {"steps": 5}
        await session.commit()
    async with Runtime(settings).running(worker=True, scheduler=False):
        await redeliver_lost_jobs(settings, grace_seconds=0)
        done = await wait_for_status(settings, job_id, JobStatus.SUCCEEDED)
        assert done.result == {"steps": 5}
