"""Distributed mode on real engines: PostgreSQL + (Redis | RabbitMQ) + S3, with the API, workers
and schedulers as separate OS processes. Skipped on a laptop without the services; in CI
(`CI=true`) a missing service fails the test."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import require_service
from tests.support.api import PASSWORD
from tests.support.seaweed import S3Server
from tests.support.stack import Stack, distributed_stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
BROKERS = ["redis", "rabbitmq"]


def _require(broker: str) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    if broker == "rabbitmq":
        require_service("RabbitMQ", "127.0.0.1", 5672)


@pytest.fixture(params=BROKERS)
def stack(request: pytest.FixtureRequest, s3_server: S3Server) -> Iterator[Stack]:
    _require(request.param)
    with distributed_stack(request.param, s3_server, workers=2) as running:
        yield running


def _login(client: httpx.Client, email: str) -> dict[str, str]:
    assert client.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    token = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _wait(client: httpx.Client, headers: dict[str, str], path: str, done: tuple[str, ...], stack: Stack,
          timeout: float = 90) -> dict[str, Any]:  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, Any] = client.get(path, headers=headers).json()
        if state["status"] in done:
            return state
        assert time.monotonic() < deadline, f"{path} stayed {state['status']}\n{stack.logs()}"
        time.sleep(0.2)


def _presigned_upload(
    client: httpx.Client, headers: dict[str, str], path: Path, stack: Stack
) -> dict[str, Any]:
    data = path.read_bytes()
    created = client.post(
        "/v1/uploads", headers=headers,
        json={"filename": path.name, "content_type": "video/mp4", "size_bytes": len(data)},
    ).json()  # fmt: skip
    assert created["upload_url"].startswith(stack.storage_url.split("endpoint=")[1].split("&")[0]), (
        "the client uploads straight to S3, not through the API"
    )
    assert (
        httpx.put(created["upload_url"], content=data, headers={"Content-Type": "video/mp4"}).status_code
        == 200
    )
    assert client.post(f"/v1/uploads/{created['id']}/complete", headers=headers).status_code == 202
    return _wait(client, headers, f"/v1/uploads/{created['id']}", ("completed", "rejected"), stack)


def test_the_core_flow_runs_across_processes(stack: Stack, sample_video: Path, tmp_path: Path) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok", health
        headers = _login(client, "dist@example.com")
        upload = _presigned_upload(client, headers, sample_video, stack)
        assert upload["status"] == "completed", upload
        video = client.get(f"/v1/videos/{upload['video_id']}", headers=headers).json()
        assert video["sha256"] == hashlib.sha256(sample_video.read_bytes()).hexdigest()

        run = client.post(
            "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
        ).json()
        finished = _wait(
            client, headers, f"/v1/runs/{run['id']}", ("succeeded", "failed", "cancelled"), stack
        )
        assert finished["status"] == "succeeded", f"{finished}\n{stack.logs()}"
        artifacts = client.get(f"/v1/runs/{run['id']}/artifacts", headers=headers).json()
        transcript = next(a for a in artifacts if a["name"] == "transcript.json")
        assert "X-Amz-Signature" in transcript["download_url"], "downloads are presigned S3 URLs"
        body = httpx.get(transcript["download_url"]).content
        assert hashlib.sha256(body).hexdigest() == transcript["sha256"]
        assert b"secret" in body

        # Isolation and bad input hold here too.
        stranger = _login(client, "stranger@example.com")
        assert client.get(f"/v1/runs/{run['id']}", headers=stranger).status_code == 404
        assert client.get(f"/v1/videos/{video['id']}", headers=stranger).status_code == 404
        notes = tmp_path / "notes.mp4"
        notes.write_text("not a video at all\n" * 20)
        rejected = _presigned_upload(client, headers, notes, stack)
        assert rejected["status"] == "rejected" and "not a video" in rejected["error"]
        response = client.post("/v1/videos", headers=headers, files={"file": ("n.mp4", notes.read_bytes())})
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")


def test_a_sigkilled_worker_s_run_is_finished_by_another(stack: Stack, sample_video: Path) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        headers = _login(client, "kill@example.com")
        with sample_video.open("rb") as handle:
            video = client.post("/v1/videos", headers=headers, files={"file": ("talk.mp4", handle)}).json()
        run = client.post(
            "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
        )
        run_id = run.json()["id"]
        job_id = run.json()["job_id"]
        deadline = time.monotonic() + 60
        while True:
            state = client.get(f"/v1/runs/{run_id}", headers=headers).json()
            transcribe = next(c for c in state["components"] if c["name"] == "transcribe")
            if transcribe["status"] == "running":
                break
            assert transcribe["status"] == "pending" and time.monotonic() < deadline, state
            time.sleep(0.02)
        owner = asyncio.run(_lease_owner(stack.database_url, job_id))
        pid = int(owner.split(":")[1])
        victim = next(w for w in stack.workers if w.popen.pid == pid)
        os.kill(pid, signal.SIGKILL)
        victim.popen.wait(timeout=10)
        finished = _wait(client, headers, f"/v1/runs/{run_id}", ("succeeded", "failed", "cancelled"), stack)
    assert finished["status"] == "succeeded", f"{finished}\n{stack.logs()}"
    attempts = {c["name"]: c["attempts"] for c in finished["components"]}
    assert attempts == {"probe": 1, "audio": 1, "transcribe": 2, "subtitles": 1}, attempts


async def _lease_owner(database_url: str, job_id: str) -> str:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        owner: str = await connection.fetchval("SELECT lease_owner FROM jobs WHERE id = $1", job_id)
        return owner
    finally:
        await connection.close()


@pytest.mark.parametrize("broker", BROKERS)
def test_a_burst_of_jobs_executes_each_exactly_once(broker: str, s3_server: S3Server) -> None:
    _require(broker)
    with distributed_stack(broker, s3_server, workers=3, schedulers=2) as stack:
        results = asyncio.run(_burst(stack, 200))
    assert len(results) == 200
    assert {status for status, _, _ in results} == {"succeeded"}, stack.logs()
    assert {attempts for _, attempts, _ in results} == {1}, "no job was claimed twice"
    assert len({worker.split(":")[1] for _, _, worker in results}) >= 2, "the burst was shared by the workers"


async def _burst(stack: Stack, count: int) -> list[tuple[str, int, str]]:
    from kadr.config import Settings
    from kadr.core.db import dispose_database, get_database
    from kadr.jobs import broker
    from kadr.jobs import service as jobs

    settings = Settings(database_url=stack.database_url, broker_url=stack.broker_url)
    broker.setup_broker(settings.broker_url)
    try:
        async with get_database(settings).session() as session:
            for n in range(count):
                await jobs.enqueue(session, settings, "system.echo", {"value": n, "sleep": 0.01})
            await session.commit()
        connection = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""))
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                pending = await connection.fetchval(
                    "SELECT count(*) FROM jobs WHERE status IN ('queued','running')"
                )
                if pending == 0:
                    break
                await asyncio.sleep(0.3)
            rows = await connection.fetch(
                "SELECT status, attempts, result FROM jobs WHERE kind = 'system.echo'"
            )
        finally:
            await connection.close()
        import json

        return [
            (row["status"], row["attempts"], json.loads(row["result"])["worker"] if row["result"] else "")
            for row in rows
        ]
    finally:
        broker.reset_broker()
        await dispose_database()


def _restart_broker(stack: Stack) -> None:
    if stack.redis is not None:
        stack.redis.stop()
        time.sleep(1.0)
        stack.redis.start()
    else:
        for action in ("stop_app", "start_app"):
            subprocess.run(["rabbitmqctl", action], check=True, capture_output=True, timeout=120)


@pytest.mark.parametrize("broker", BROKERS)
def test_jobs_survive_a_broker_restart(broker: str, s3_server: S3Server, sample_video: Path) -> None:
    _require(broker)
    with (
        distributed_stack(broker, s3_server, workers=2) as stack,
        httpx.Client(base_url=stack.base_url, timeout=30) as client,
    ):
        headers = _login(client, f"restart-{broker}@example.com")
        with sample_video.open("rb") as handle:
            video = client.post("/v1/videos", headers=headers, files={"file": ("talk.mp4", handle)}).json()
        runs = [
            client.post(
                "/v1/runs", headers=headers,
                json={"video_id": video["id"], "profile": "transcript-only", "use_cache": False},
            ).json()["id"]
            for _ in range(4)
        ]  # fmt: skip
        time.sleep(1.0)  # some running, some still queued
        try:
            _restart_broker(stack)
        finally:
            if broker == "rabbitmq":  # never leave the shared server stopped
                subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
        finished = [
            _wait(
                client,
                headers,
                f"/v1/runs/{run_id}",
                ("succeeded", "failed", "cancelled"),
                stack,
                timeout=150,
            )
            for run_id in runs
        ]
    assert [run["status"] for run in finished] == ["succeeded"] * 4, stack.logs()
    for run in finished:
        assert all(c["attempts"] == 1 for c in run["components"]), run["components"]


def test_a_database_outage_answers_503_and_everything_recovers(
    s3_server: S3Server, sample_video: Path
) -> None:
    from tests.support.postgres import postgres_cluster

    _require("redis")
    with (
        postgres_cluster() as database,
        distributed_stack("redis", s3_server, workers=1, database_url=database.url) as stack,
        httpx.Client(base_url=stack.base_url, timeout=30) as client,
    ):
        headers = _login(client, "outage@example.com")
        with sample_video.open("rb") as handle:
            video = client.post("/v1/videos", headers=headers, files={"file": ("talk.mp4", handle)}).json()
        run = client.post(
            "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
        )
        database.stop()
        try:
            during = client.get("/v1/videos", headers=headers)
            assert during.status_code == 503, during.text
            assert during.headers["content-type"].startswith("application/problem+json")
            assert during.json()["type"].endswith("service-unavailable") and "Retry-After" in during.headers
            health = client.get("/health")
            assert health.status_code == 503 and health.json()["checks"]["database"]["status"] == "down"
            time.sleep(3)  # workers and the scheduler meet the outage too
        finally:
            database.start()
        deadline = time.monotonic() + 30
        while client.get("/v1/videos", headers=headers).status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover"
            time.sleep(0.5)
        finished = _wait(
            client, headers, f"/v1/runs/{run.json()['id']}", ("succeeded", "failed", "cancelled"), stack
        )
    assert finished["status"] == "succeeded", f"{finished}\n{stack.logs()}"
