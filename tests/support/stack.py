"""A distributed kadr for tests: PostgreSQL + Redis or RabbitMQ + S3, with the API, workers and
schedulers as separate OS processes, exactly as `kadr api`, `kadr worker` and `kadr scheduler` run."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from kadr.jobs.registry import QUEUES
from tests.support.process import KadrProcess, free_port, kadr_command, kadr_env, wait_until_healthy
from tests.support.seaweed import S3Server

PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL; its asyncpg URL. Dropped afterwards."""
    name = f"kadr_stack_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class RedisServer:
    """Our own redis-server on a free port, so a test may restart it without touching the shared one."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def purge_rabbitmq_queues(url: str) -> None:
    """Start from empty kadr queues on the shared RabbitMQ (earlier tests may have left messages)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in QUEUES:
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                try:
                    channel.queue_purge(name)
                except pika.exceptions.ChannelClosedByBroker:
                    channel = connection.channel()  # the queue does not exist yet
    finally:
        connection.close()


@dataclass
class Stack:
    broker: str
    base_url: str
    env: dict[str, str]
    folder: Path
    database_url: str
    broker_url: str
    storage_url: str
    api: KadrProcess | None = None
    workers: list[KadrProcess] = field(default_factory=list)
    schedulers: list[KadrProcess] = field(default_factory=list)
    redis: RedisServer | None = None

    def start_worker(self, *args: str) -> KadrProcess:
        worker = KadrProcess(["worker", *args], self.env, self.folder / f"worker{len(self.workers)}.log")
        self.workers.append(worker)
        return worker

    def start_scheduler(self) -> KadrProcess:
        scheduler = KadrProcess(["scheduler"], self.env, self.folder / f"scheduler{len(self.schedulers)}.log")
        self.schedulers.append(scheduler)
        return scheduler

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.folder.glob("*.log")
        )

    def stop(self) -> None:
        for process in [*self.workers, *self.schedulers, *([self.api] if self.api else [])]:
            if process.popen.poll() is None:
                process.terminate(timeout=20)


@contextmanager
def distributed_stack(
    broker: str,
    s3: S3Server,
    *,
    workers: int = 2,
    schedulers: int = 1,
    database_url: str | None = None,
    **settings: object,
) -> Iterator[Stack]:
    """Start the stack; `database_url` uses that (throwaway) database instead of a new one on :5432."""
    folder = Path(tempfile.mkdtemp(prefix=f"kadr-stack-{broker}-"))
    redis_server: RedisServer | None = None
    with nullcontext(database_url) if database_url else postgres_database() as database_url:
        if broker == "redis":
            redis_server = RedisServer(folder)
            redis_server.start()
            broker_url = redis_server.url
        else:
            broker_url = "amqp://guest:guest@127.0.0.1:5672/"
            purge_rabbitmq_queues(broker_url)
        storage_url = s3.url_for(f"stack-{uuid.uuid4().hex[:8]}")
        port = free_port()
        env = kadr_env(
            folder / "var",
            database_url=database_url,
            broker_url=broker_url,
            storage_url=storage_url,
            port=port,
            secret_key="stack-secret-key-0123456789abcdef0123456789",
            job_lease_seconds=3,
            job_heartbeat_seconds=0.5,
            job_redeliver_after_seconds=3,
            scheduler_interval_seconds=0.5,
            **{"log_level": "INFO", **settings},
        )
        subprocess.run(kadr_command("migrate"), env=env, check=True, capture_output=True, timeout=120)
        stack = Stack(broker, f"http://127.0.0.1:{port}", env, folder, database_url, broker_url, storage_url)
        stack.redis = redis_server
        try:
            stack.api = KadrProcess(["api"], env, folder / "api.log")
            for _ in range(workers):
                stack.start_worker()
            for _ in range(schedulers):
                stack.start_scheduler()
            wait_until_healthy(stack.base_url, stack.api)
            yield stack
        finally:
            stack.stop()
            if redis_server is not None:
                redis_server.stop()
            shutil.rmtree(folder, ignore_errors=True)
