"""A process's background roles: the broker connection, the worker threads, the scheduler
(which runs the duties the packages register in `jobs.duties`).

`kadr up` runs all of them next to the API; `kadr worker` and `kadr scheduler`
run one each. The same code serves both modes: only the broker URL differs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dramatiq

from kadr.config import Settings
from kadr.core.logging import get_logger
from kadr.jobs import broker
from kadr.jobs.duties import Scheduler
from kadr.jobs.reaper import redeliver_lost_jobs
from kadr.jobs.registry import QUEUES, load_task_modules
from kadr.jobs.worker import JobExecutor

log = get_logger(__name__)


class Runtime:
    def __init__(self, settings: Settings, *, shutdown_grace_seconds: float = 30.0) -> None:
        self.settings = settings
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.executor: JobExecutor | None = None
        self._worker: dramatiq.Worker | None = None

    @asynccontextmanager
    async def running(self, *, worker: bool, scheduler: bool) -> AsyncIterator[Runtime]:
        load_task_modules()
        broker.setup_broker(self.settings.broker_url)
        if self.settings.broker_url.startswith("memory://") and not worker:
            log.warning("in-process broker without a worker in this process: jobs will wait for one")
        sched: Scheduler | None = None
        try:
            if worker:
                self.start_worker()
                assert self.executor is not None
                await self.executor.reclaim_orphaned_leases()
            if scheduler:
                if self.settings.broker_url.startswith("memory://"):
                    # The in-process broker forgot everything when the last process stopped.
                    await redeliver_lost_jobs(self.settings, grace_seconds=0)
                sched = Scheduler(self.settings)
                sched.start()
            yield self
        finally:
            if sched is not None:
                sched.shutdown()
            if worker:
                await self.stop_worker()
            broker.reset_broker()

    def start_worker(self) -> None:
        from kadr.jobs.brokercheck import warn_about_broker

        warn_about_broker(self.settings.broker_url)
        self.executor = JobExecutor(self.settings)
        broker.set_executor(self.executor.deliver)
        queues = [q for q in self.settings.worker_queues if q in QUEUES]
        current = broker.current_broker()
        assert current is not None
        # worker_timeout bounds how long an idle consumer waits between polls (default 1 s): 100 ms
        # keeps a new job's start latency low on Redis for a few cheap calls a second.
        self._worker = dramatiq.Worker(
            current, queues=set(queues), worker_threads=self.settings.worker_threads, worker_timeout=100
        )
        # Messages are only doorbells, but hour-long video jobs should not sit behind each other
        # in one worker's prefetch buffer while another worker idles.
        self._worker.queue_prefetch = self.settings.worker_threads
        self._worker.start()
        log.info(
            "worker started",
            worker_id=self.executor.worker_id,
            queues=queues,
            threads=self.settings.worker_threads,
        )

    async def stop_worker(self) -> None:
        """Drain: take nothing new, let running jobs reach a checkpoint, then release the rest."""
        executor, worker = self.executor, self._worker
        if executor is None or worker is None:
            return
        executor.drain_event.set()
        deadline = time.monotonic() + self.shutdown_grace_seconds
        while executor.running_job_ids and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        executor.interrupt_all()
        settle = time.monotonic() + 10
        while executor.running_job_ids and time.monotonic() < settle:
            await asyncio.sleep(0.1)
        await asyncio.to_thread(worker.stop, 10_000)
        executor.close()
        broker.set_executor(None)
        self.executor = None
        self._worker = None
        log.info("worker stopped")
