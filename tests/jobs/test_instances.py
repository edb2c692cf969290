"""A dead worker is known at once: its liveness lock, and the leases a restarted worker reclaims.

The other worker is always a real process: the kernel drops its `flock` only when it dies, and
SIGKILL gives it no chance to clean up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from kadr.config import Settings
from kadr.core.db import get_database
from kadr.jobs.instances import WorkerInstance, lease_token
from kadr.jobs.models import JobStatus
from kadr.jobs.reaper import reap_expired_leases
from kadr.jobs.repository import JobRepository
from kadr.jobs.runtime import Runtime
from kadr.jobs.worker import JobExecutor
from tests.jobs.test_worker import enqueue, load, wait_for_status

ROOT = Path(__file__).resolve().parents[2]

#: Holds a WorkerInstance lock in `argv[1]` and says who it is, then waits to be killed.
HOLDER = """
import sys, time
from pathlib import Path
from kadr.jobs.instances import WorkerInstance
instance = WorkerInstance(Path(sys.argv[1]))
instance.acquire()
print(instance.worker_id, flush=True)
if len(sys.argv) > 2:
    instance.release()
    print("released", flush=True)
time.sleep(600)
"""

#: A worker process: takes the job `argv[1]` (a `test.long` that runs until stopped) and works on it.
WORKER = """
import asyncio, sys
import tests.jobs.conftest  # registers the test job kinds
from kadr.config import Settings
from kadr.core.db import get_database
from kadr.jobs.worker import JobExecutor

async def main() -> None:
    executor = JobExecutor(Settings())
    print(executor.worker_id, flush=True)
    await executor.deliver(sys.argv[1])

asyncio.run(main())
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADR_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env.update(extra)
    return env


def _spawn(script: str, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True
    )


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        _kill(process)


def _hold(
    holders: list[subprocess.Popen[str]], work_dir: Path, *args: str
) -> tuple[str, subprocess.Popen[str]]:
    process = _spawn(HOLDER, str(work_dir), *args, cwd=work_dir.parent, env=_env())
    holders.append(process)
    assert process.stdout is not None
    owner = process.stdout.readline().strip()
    assert owner, "the holder did not start"
    if args:
        assert process.stdout.readline().strip() == "released"
    return owner, process


def test_a_sigkilled_instance_is_dead_and_a_living_one_is_not(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    work_dir = tmp_path / "work"
    me = WorkerInstance(work_dir)
    me.acquire()
    other, process = _hold(holders, work_dir)
    assert other.split(":")[1] == str(process.pid)
    lock = work_dir / "workers" / f"{lease_token(other)}.lock"
    assert lock.read_text() == other, "the lock file names its owner"

    assert not me.is_dead(other), "a living worker is alive"
    assert not me.is_dead(me.worker_id), "we are alive"
    assert not me.is_dead("elsewhere:1:0123456789ab"), "an owner with no file here is not ours to judge"
    assert not me.is_dead("host:1:../../etc"), "a token that is not a plain name is never looked up"
    assert me.forget_dead() == 0 and lock.exists()

    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert me.is_dead(other), "the kernel dropped the lock of the killed process"
    assert not me.is_dead(me.worker_id)
    assert me.forget_dead() == 1
    assert not lock.exists()
    assert not me.is_dead(other), "once forgotten, its file is gone"

    me.release()
    assert not (work_dir / "workers" / f"{me.token}.lock").exists()


def test_a_worker_that_stopped_cleanly_leaves_nothing_to_reclaim(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    work_dir = tmp_path / "work"
    other, _ = _hold(holders, work_dir, "release")
    me = WorkerInstance(work_dir)
    me.acquire()
    assert list((work_dir / "workers").glob("*.lock")) == [work_dir / "workers" / f"{me.token}.lock"]
    assert not me.is_dead(other)
    assert me.forget_dead() == 0
    me.release()


def test_acquire_is_idempotent_and_two_instances_of_one_process_are_distinct(tmp_path: Path) -> None:
    first, second = WorkerInstance(tmp_path), WorkerInstance(tmp_path)
    first.acquire()
    first.acquire()
    second.acquire()
    assert first.worker_id != second.worker_id
    assert not first.is_dead(second.worker_id) and not second.is_dead(first.worker_id)
    second.release()
    first.release()
    assert list((tmp_path / "workers").iterdir()) == []


def _worker_env(settings: Settings) -> dict[str, str]:
    # The dead worker's lease is long: only reclaiming, never expiry, can free the job in this test.
    return _env(
        KADR_DATA_DIR=str(settings.data_dir),
        KADR_SECRET_KEY=settings.secret_key.get_secret_value(),
        KADR_JOB_LEASE_SECONDS="600",
        KADR_JOB_HEARTBEAT_SECONDS="0.5",
        KADR_LOG_LEVEL="WARNING",
    )


async def _worker_took(
    settings: Settings, job_id: str, holders: list[subprocess.Popen[str]], tmp_path: Path
) -> tuple[str, datetime, subprocess.Popen[str]]:
    """Start a worker process on `job_id`; return its owner id and lease expiry once it runs the job."""
    process = _spawn(WORKER, job_id, cwd=tmp_path, env=_worker_env(settings))
    holders.append(process)
    assert process.stdout is not None
    owner = process.stdout.readline().strip()
    assert owner, "the worker process did not start"
    job = await wait_for_status(settings, job_id, JobStatus.RUNNING, timeout=30)
    assert job.lease_owner == owner and job.lease_expires_at is not None
    return owner, job.lease_expires_at, process


@pytest.mark.anyio
async def test_a_restarted_worker_requeues_a_killed_workers_job_at_once(
    settings: Settings, database: None, holders: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    job_id = await enqueue(settings, "test.long", {})  # runs until stopped
    owner, lease_expires_at, process = await _worker_took(settings, job_id, holders, tmp_path)

    executor = JobExecutor(settings)
    try:
        assert await executor.reclaim_orphaned_leases() == 0, "a living worker keeps its lease"
        job = await load(settings, job_id)
        assert job.status == JobStatus.RUNNING and job.lease_owner == owner

        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert await executor.reclaim_orphaned_leases() == 1
        job = await load(settings, job_id)
        assert job.status == JobStatus.QUEUED
        assert job.lease_owner is None and job.lease_expires_at is None
        assert job.error_kind == "lease_expired" and owner in (job.last_error or "")
        assert job.attempts == 1
        assert not (settings.resolved_work_dir / "workers" / f"{lease_token(owner)}.lock").exists()
        assert await executor.reclaim_orphaned_leases() == 0, "nothing is reclaimed twice"
        assert await reap_expired_leases(settings) == 0
    finally:
        executor.close()
    assert lease_expires_at > job.updated_at, "requeued while the dead worker's lease still ran"


@pytest.mark.anyio
async def test_a_killed_workers_job_is_finished_by_the_next_worker_long_before_its_lease_ends(
    settings: Settings, database: None, holders: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    job_id = await enqueue(settings, "test.long", {})  # runs until stopped
    _, lease_expires_at, process = await _worker_took(settings, job_id, holders, tmp_path)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    async with get_database(settings).session() as session:
        job = await JobRepository(session).get_unscoped(job_id)
        assert job is not None
        job.payload = {"steps": 5}  # the next attempt is short
        await session.commit()

    # As `kadr up` or `kadr worker` restarting: the runtime reclaims before it takes new work.
    async with Runtime(settings, shutdown_grace_seconds=2.0).running(worker=True, scheduler=False):
        done = await wait_for_status(settings, job_id, JobStatus.SUCCEEDED, timeout=30)
    assert done.result == {"steps": 5}
    assert done.attempts == 2, "the killed attempt counted, the second one finished"
    assert done.lease_owner is None
    assert done.finished_at is not None and done.finished_at < lease_expires_at
