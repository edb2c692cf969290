"""Benchmark: how fast the job system hands work to a worker, per broker.

For the embedded stack (SQLite, in-process broker and worker) and for PostgreSQL with
Redis and with RabbitMQ (workers as separate `kadr worker` processes), it measures
- latency: commit of a job → a worker starts it (median and p95 of 30 sequential no-op jobs);
- run latency: `create_run` committed → its first component (probe) starts (5 runs);
- per-job overhead: wall time of a burst of 200 no-op jobs ÷ 200 (2 worker threads).

    .venv/bin/python bench/queue_latency.py [--stacks embedded redis rabbitmq]

Prints a table and writes bench/results/queue_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from sqlalchemy import select  # noqa: E402

from benchfile import write_results  # noqa: E402 - beside this script
from kadr.config import Settings  # noqa: E402
from kadr.core.db import dispose_database, get_database  # noqa: E402
from kadr.jobs import broker  # noqa: E402
from kadr.jobs import service as jobs  # noqa: E402
from kadr.jobs.models import Job  # noqa: E402
from kadr.jobs.runtime import Runtime  # noqa: E402
from kadr.migrations.runner import upgrade_database  # noqa: E402
from kadr.runs.models import Run, RunComponent  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "queue_latency.json"


async def _wait_done(settings: Settings, ids: list[str], timeout: float = 300) -> list[Job]:
    deadline = time.monotonic() + timeout
    while True:
        async with get_database(settings).session() as session:
            rows = (await session.execute(select(Job).where(Job.id.in_(ids)))).scalars().all()
        if all(job.status == "succeeded" for job in rows):
            return list(rows)
        if time.monotonic() > deadline:
            raise SystemExit("jobs did not finish in time")
        await asyncio.sleep(0.005)


async def _latencies(settings: Settings, count: int = 30) -> list[float]:
    values = []
    for n in range(count):
        async with get_database(settings).session() as session:
            job = await jobs.enqueue(session, settings, "system.echo", {"value": n})
            await session.commit()
        (done,) = await _wait_done(settings, [job.id])
        assert done.started_at is not None
        values.append((done.started_at - done.created_at).total_seconds())
    return values


async def _burst(settings: Settings, count: int = 200) -> float:
    started = time.perf_counter()
    async with get_database(settings).session() as session:
        ids = [(await jobs.enqueue(session, settings, "system.echo", {"value": n})).id for n in range(count)]
        await session.commit()
    await _wait_done(settings, ids)
    return (time.perf_counter() - started) / count


async def _run_latencies(settings: Settings, count: int = 5) -> list[float]:
    """create_run committed → the run's probe component starts."""
    from tests.support.media import make_video

    from kadr.accounts.service import get_or_create_local_user
    from kadr.core.streaming import ReceivedFile
    from kadr.runs.service import RunService
    from kadr.videos.service import VideoService

    async with get_database(settings).session() as session:
        owner = await get_or_create_local_user(session, "bench@kadr.invalid")
        folder = Path(tempfile.mkdtemp())
        clip = make_video(folder / "clip.mp4", 2)
        copy = folder / "copy.mp4"
        copy.write_bytes(clip.read_bytes())
        import hashlib

        received = ReceivedFile(
            copy, "clip.mp4", "video/mp4", copy.stat().st_size, hashlib.sha256(copy.read_bytes()).hexdigest()
        )
        video = await VideoService(session, settings).ingest_received(owner, received)
    values = []
    for _ in range(count):
        async with get_database(settings).session() as session:
            run, _ = await RunService(session, settings).create_run(
                owner, video.id, "transcript-only", use_cache=False
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            async with get_database(settings).session() as session:
                probe = (
                    await session.execute(
                        select(RunComponent).where(
                            RunComponent.run_id == run.id, RunComponent.name == "probe"
                        )
                    )
                ).scalar_one()
                created = (await session.execute(select(Run.created_at).where(Run.id == run.id))).scalar_one()
            if probe.started_at is not None:
                values.append((probe.started_at - created).total_seconds())
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(1.5)  # let it finish before the next one
    return values


async def _measure(settings: Settings) -> dict[str, Any]:
    latencies = await _latencies(settings)
    run_latencies = await _run_latencies(settings)
    per_job = await _burst(settings)
    ordered = sorted(latencies)
    return {
        "job_latency_ms": {
            "median": round(1000 * statistics.median(latencies), 1),
            "p95": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
        },
        "run_to_first_component_ms": {"median": round(1000 * statistics.median(run_latencies), 1)},
        "per_job_overhead_ms": round(1000 * per_job, 2),
    }


async def bench_embedded() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "var", log_level="WARNING", worker_threads=2)
        await upgrade_database(settings)
        try:
            async with AsyncExitStack() as stack:
                await stack.enter_async_context(Runtime(settings).running(worker=True, scheduler=True))
                return await _measure(settings)
        finally:
            await dispose_database()


def bench_distributed(name: str, s3: Any) -> dict[str, Any]:
    from tests.support.stack import distributed_stack

    with distributed_stack(name, s3, workers=1, schedulers=1, worker_threads=2, log_level="WARNING") as stack:
        settings = Settings(database_url=stack.database_url, broker_url=stack.broker_url,
                            storage_url=stack.storage_url, log_level="WARNING")  # fmt: skip

        async def main() -> dict[str, Any]:
            broker.setup_broker(settings.broker_url)
            try:
                return await _measure(settings)
            finally:
                broker.reset_broker()
                await dispose_database()

        return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", default=["embedded", "redis", "rabbitmq"])
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with ExitStack() as exits:
        s3 = None
        for name in args.stacks:
            if name == "embedded":
                results[name] = asyncio.run(bench_embedded())
            else:
                if s3 is None:
                    from tests.support.seaweed import weed_mini

                    s3 = exits.enter_context(weed_mini())
                results[name] = bench_distributed(name, s3)
            r = results[name]
            print(
                f"{name:9} job latency median {r['job_latency_ms']['median']} ms "
                f"(p95 {r['job_latency_ms']['p95']} ms), "
                f"run→first component {r['run_to_first_component_ms']['median']} ms, "
                f"per-job overhead {r['per_job_overhead_ms']} ms",
                flush=True,
            )
    document = {
        "benchmark": "queue_latency",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notes": "embedded: SQLite + in-process broker and worker; redis/rabbitmq: PostgreSQL, "
        "one `kadr worker` process with 2 threads, one `kadr scheduler`",
        "results": results,
    }
    write_results(RESULTS, document)


if __name__ == "__main__":
    main()
