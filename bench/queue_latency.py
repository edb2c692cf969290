"""Benchmark: how fast the job system hands work to a worker, per broker.

For the embedded stack (SQLite, in-process broker and worker) and for PostgreSQL with
Redis and with RabbitMQ (workers as separate `kadr worker` processes), it measures, as
separate figures:
- idle dispatch: the worker has had nothing to do for a while (`--idle` seconds, long
  enough for the Redis consumer's poll backoff to reach its ceiling); a job is enqueued
  (the clock starts before `jobs.enqueue`, so the INSERT, the commit and the doorbell count)
  and its handler notes the wall-clock time it began. Both timestamps come from the enqueuer
  and the job; the benchmark does not look at the job until it has surely started, so its own
  polling cannot add to the figure or compete with the worker for the database;
- run start: `create_run` committed → its first component (probe) starts, read from the
  rows' own timestamps;
- throughput: a burst of no-op jobs enqueued in one transaction, from the enqueue to the last
  job's `finished_at` (the worker's clock), ÷ the number of jobs (2 worker threads). Checked
  four times a second, which only decides when the benchmark notices, not the figure.

    .venv/bin/python bench/queue_latency.py [--stacks embedded redis rabbitmq] [--quick]

`--quick` (embedded and Redis, fewer samples, under a minute) checks the benchmark works and
writes bench/results/queue_latency.quick.json; a full run writes bench/results/queue_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from sqlalchemy import func, select  # noqa: E402
from tests.support.media import make_video  # noqa: E402

from benchfile import write_results  # noqa: E402 - beside this script
from kadr.accounts.service import get_or_create_local_user  # noqa: E402
from kadr.config import Settings  # noqa: E402
from kadr.core.db import dispose_database, get_database  # noqa: E402
from kadr.core.logging import configure_logging  # noqa: E402
from kadr.core.streaming import ReceivedFile  # noqa: E402
from kadr.jobs import broker  # noqa: E402
from kadr.jobs import service as jobs  # noqa: E402
from kadr.jobs.models import Job, JobStatus  # noqa: E402
from kadr.jobs.runtime import Runtime  # noqa: E402
from kadr.migrations.runner import upgrade_database  # noqa: E402
from kadr.runs.models import Run, RunComponent  # noqa: E402
from kadr.runs.service import RunService  # noqa: E402
from kadr.videos.service import VideoService  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "queue_latency.json"
QUICK_RESULTS = ROOT / "bench" / "results" / "queue_latency.quick.json"


@dataclass(frozen=True)
class Plan:
    idle_samples: int = 30
    idle_seconds: float = 2.0
    runs: int = 5
    burst: int = 200


FULL = Plan()
QUICK = Plan(idle_samples=8, idle_seconds=0.6, runs=2, burst=60)


def _unix(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _summary_ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(values),
        "median": round(1000 * statistics.median(values), 1),
        "mean": round(1000 * statistics.fmean(values), 1),
        "p95": round(1000 * ordered[round(0.95 * (len(ordered) - 1))], 1),
        "max": round(1000 * ordered[-1], 1),
    }


async def _eventually(check: Callable[[], Awaitable[bool]], first_look: float, timeout: float = 120) -> None:
    """Wait `first_look` seconds without touching anything, then check every 0.25 s."""
    await asyncio.sleep(first_look)
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit("the jobs did not finish in time")
        await asyncio.sleep(0.25)


async def _finished(settings: Settings, ids: list[str]) -> list[Job]:
    async with get_database(settings).session() as session:
        rows = (await session.execute(select(Job).where(Job.id.in_(ids)))).scalars().all()
    if any(job.status in (JobStatus.FAILED, JobStatus.DEAD, JobStatus.CANCELLED) for job in rows):
        raise SystemExit(f"a benchmark job did not succeed: {[job.last_error for job in rows]}")
    return [job for job in rows if job.status == JobStatus.SUCCEEDED]


async def _idle_dispatch(settings: Settings, plan: Plan) -> tuple[list[float], list[float]]:
    """Enqueue → the handler begins, each job sent to a worker idle for `plan.idle_seconds`; and
    the part of it after the enqueuer's commit returned (the doorbell is rung inside the commit)."""
    values, after_commit = [], []
    for n in range(plan.idle_samples):
        await asyncio.sleep(plan.idle_seconds)
        enqueued = time.time()
        async with get_database(settings).session() as session:
            job = await jobs.enqueue(session, settings, "system.echo", {"value": n})
            await session.commit()
        committed = time.time()

        async def done(job_id: str = job.id) -> bool:
            return bool(await _finished(settings, [job_id]))

        await _eventually(done, first_look=0.3)
        (finished,) = await _finished(settings, [job.id])
        assert finished.result is not None
        started = float(finished.result["started_unix"])
        values.append(started - enqueued)
        after_commit.append(started - committed)
    return values, after_commit


async def _throughput(settings: Settings, count: int) -> dict[str, float]:
    enqueued = time.time()
    async with get_database(settings).session() as session:
        ids = [(await jobs.enqueue(session, settings, "system.echo", {"value": n})).id for n in range(count)]
        await session.commit()

    async def all_done() -> bool:
        async with get_database(settings).session() as session:
            succeeded = await session.scalar(
                select(func.count()).where(Job.id.in_(ids), Job.status == JobStatus.SUCCEEDED)
            )
        return succeeded == count

    await _eventually(all_done, first_look=0.25)
    rows = await _finished(settings, ids)
    last = max(_unix(job.finished_at) for job in rows if job.finished_at is not None)
    elapsed = last - enqueued
    return {
        "jobs": count,
        "jobs_per_second": round(count / elapsed, 1),
        "per_job_ms": round(1000 * elapsed / count, 2),
    }


async def _run_starts(settings: Settings, count: int) -> list[float]:
    """create_run committed → the run's probe component starts (the rows' own timestamps)."""
    async with get_database(settings).session() as session:
        owner = await get_or_create_local_user(session, "bench@kadr.invalid")
        folder = Path(tempfile.mkdtemp())
        clip = make_video(folder / "clip.mp4", 2)
        copy = folder / "copy.mp4"
        copy.write_bytes(clip.read_bytes())
        digest = hashlib.sha256(copy.read_bytes()).hexdigest()
        received = ReceivedFile(copy, "clip.mp4", "video/mp4", copy.stat().st_size, digest)
        video = await VideoService(session, settings).ingest_received(owner, received)
    values = []
    for _ in range(count):
        async with get_database(settings).session() as session:
            run, _ = await RunService(session, settings).create_run(
                owner, video.id, "transcript-only", use_cache=False
            )

        async def finished(run_id: str = run.id) -> bool:
            async with get_database(settings).session() as session:
                status = await session.scalar(select(Run.status).where(Run.id == run_id))
            return str(status) in ("succeeded", "failed", "cancelled")

        await _eventually(finished, first_look=1.0)
        async with get_database(settings).session() as session:
            probe_started = await session.scalar(
                select(RunComponent.started_at).where(
                    RunComponent.run_id == run.id, RunComponent.name == "probe"
                )
            )
            created = await session.scalar(select(Run.created_at).where(Run.id == run.id))
        assert probe_started is not None and created is not None
        values.append(_unix(probe_started) - _unix(created))
    return values


async def _measure(settings: Settings, plan: Plan) -> dict[str, Any]:
    idle, after_commit = await _idle_dispatch(settings, plan)
    run_starts = await _run_starts(settings, plan.runs)
    throughput = await _throughput(settings, plan.burst)
    return {
        "idle_dispatch_ms": {"idle_seconds_before_each": plan.idle_seconds, **_summary_ms(idle)},
        "idle_dispatch_after_commit_ms": _summary_ms(after_commit),
        "run_to_first_component_ms": _summary_ms(run_starts),
        "throughput": throughput,
    }


async def bench_embedded(plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "var", log_level="WARNING", worker_threads=2)
        await upgrade_database(settings)
        try:
            async with Runtime(settings).running(worker=True, scheduler=True):
                return await _measure(settings, plan)
        finally:
            await dispose_database()


def bench_distributed(name: str, s3: Any, plan: Plan) -> dict[str, Any]:
    from tests.support.stack import distributed_stack

    with distributed_stack(name, s3, workers=1, schedulers=1, worker_threads=2, log_level="WARNING") as stack:
        settings = Settings(database_url=stack.database_url, broker_url=stack.broker_url,
                            storage_url=stack.storage_url, log_level="WARNING")  # fmt: skip

        async def main() -> dict[str, Any]:
            broker.setup_broker(settings.broker_url)
            try:
                return await _measure(settings, plan)
            finally:
                broker.reset_broker()
                await dispose_database()

        result = asyncio.run(main())
        if stack.redis is not None:
            result["idle_redis_commands_per_second"] = _idle_redis_rate(stack.redis.url)
        return result


def _idle_redis_rate(url: str, seconds: float = 3.0) -> float:
    """Commands per second the stack's own redis-server answers while nothing is enqueued: the
    price of the consumers' polling (one worker: a consumer per queue and per delay queue)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        time.sleep(1.0)  # backoffs reach their ceiling
        before = int(client.info("stats")["total_commands_processed"])
        time.sleep(seconds)
        after = int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()
    return round((after - before - 1) / seconds, 1)  # less our own INFO


def _line(name: str, result: dict[str, Any]) -> str:
    idle, runs, burst = result["idle_dispatch_ms"], result["run_to_first_component_ms"], result["throughput"]
    after = result["idle_dispatch_after_commit_ms"]
    return (
        f"{name:9} idle dispatch median {idle['median']} ms (p95 {idle['p95']}, max {idle['max']}, "
        f"n={idle['n']}; after the commit: median {after['median']}, p95 {after['p95']}); "
        f"run→first component median {runs['median']} ms; "
        f"throughput {burst['jobs_per_second']} jobs/s ({burst['per_job_ms']} ms/job over {burst['jobs']})"
        + (
            f"; idle Redis {result['idle_redis_commands_per_second']} commands/s"
            if "idle_redis_commands_per_second" in result
            else ""
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stacks", nargs="+", choices=["embedded", "redis", "rabbitmq"])
    parser.add_argument("--quick", action="store_true", help="embedded and Redis, few samples (<1 min)")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    configure_logging("WARNING")
    stacks = args.stacks or (["embedded", "redis"] if args.quick else ["embedded", "redis", "rabbitmq"])
    results: dict[str, Any] = {}
    with ExitStack() as exits:
        s3 = None
        for name in stacks:
            if name == "embedded":
                results[name] = asyncio.run(bench_embedded(plan))
            else:
                if s3 is None:
                    from tests.support.seaweed import weed_mini

                    s3 = exits.enter_context(weed_mini())
                results[name] = bench_distributed(name, s3, plan)
            print(_line(name, results[name]), flush=True)
    document = {
        "benchmark": "queue_latency",
        "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notes": (
            "embedded: SQLite + in-process broker and worker (and scheduler); redis/rabbitmq: "
            "PostgreSQL, one `kadr worker` process with 2 threads, one `kadr scheduler`. "
            "idle_dispatch_ms: enqueue (before the INSERT) -> the handler begins, on a worker idle "
            "for idle_seconds_before_each; both ends are wall-clock stamps of the enqueuer and the job; "
            "idle_dispatch_after_commit_ms is the part after the enqueuer's commit returned. "
            "An idle Redis consumer sleeps between polls (Dramatiq's backoff, capped by the worker's "
            "100 ms `worker_timeout` at 50-100 ms), so a job waits for the next poll: about 39 ms on "
            "average, up to 100 ms. The in-process broker and RabbitMQ push and wake the consumer at once. "
            "Lowering `worker_timeout` lowers that ceiling but multiplies the polls "
            "(idle_redis_commands_per_second, today's price) in proportion: kept at 100 ms. "
            "throughput: one burst, from the enqueue to the last finished_at."
        ),
        "results": results,
    }
    write_results(QUICK_RESULTS if args.quick else RESULTS, document)


if __name__ == "__main__":
    main()
