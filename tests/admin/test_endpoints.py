"""The admin API on the job system: queue lengths, workers, dead jobs requeued or discarded;
invisible (404) to everyone but administrators."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from kadr.accounts.service import AccountService
from kadr.config import Settings
from kadr.core.db import get_database
from kadr.jobs import service as jobs
from tests.jobs.conftest import executed
from tests.support.api import assert_problem, register, upload, wait_for_run

pytestmark = pytest.mark.anyio


async def grant_admin(settings: Settings, email: str) -> None:
    async with get_database(settings).session() as session:
        await AccountService(session, settings).grant_admin(email)


async def a_dead_job(api: httpx.AsyncClient, headers: dict[str, str], settings: Settings) -> str:
    """A job that failed on its only attempt, as the admin API lists it."""
    async with get_database(settings).session() as session:
        job = await jobs.enqueue(session, settings, "test.flaky", {"failures": 99}, max_attempts=1)
        await session.commit()
    for _ in range(300):
        dead = (await api.get("/v1/admin/jobs/dead", headers=headers)).json()
        if any(item["id"] == job.id for item in dead["items"]):
            return job.id
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job.id} never died")


async def test_only_administrators_see_the_admin_api(api: httpx.AsyncClient, settings: Settings) -> None:
    someone = await register(api, "someone@example.com")
    for path in ("/v1/admin/queues", "/v1/admin/workers", "/v1/admin/jobs/dead"):
        assert_problem(await api.get(path, headers=someone), 404, "not-found")
    assert_problem(await api.post("/v1/admin/jobs/job_x/requeue", headers=someone), 404)
    assert_problem(await api.get("/v1/admin/queues"), 401)
    admin = await register(api, "ops@example.com")
    await grant_admin(settings, "ops@example.com")
    assert (await api.get("/v1/admin/queues", headers=admin)).status_code == 200
    # An administrator's key that may not administer is refused, in words.
    key = (await api.post("/v1/api-keys", headers=admin, json={"name": "ro", "scopes": ["runs:read"]})).json()
    assert_problem(await api.get("/v1/admin/queues", headers={"X-API-Key": key["key"]}), 403)


async def test_queues_workers_and_dead_jobs(api: httpx.AsyncClient, settings: Settings) -> None:
    admin = await register(api, "admin@example.com")
    await grant_admin(settings, "ADMIN@example.com")
    job_id = await a_dead_job(api, admin, settings)

    queues = {q["queue"]: q for q in (await api.get("/v1/admin/queues", headers=admin)).json()}
    assert set(queues) >= {"video", "publish", "notify", "llm"}
    assert queues["notify"]["dead"] == 1 and queues["video"] == {
        "queue": "video",
        "queued": 0,
        "running": 0,
        "dead": 0,
    }
    workers = (await api.get("/v1/admin/workers", headers=admin)).json()
    assert any(w["alive"] for w in workers), "the embedded worker is alive"
    dead = (await api.get("/v1/admin/jobs/dead", headers=admin)).json()
    assert dead["total"] == 1
    item = dead["items"][0]
    assert item["kind"] == "test.flaky" and "transient failure on attempt 1" in item["last_error"]

    # Requeued: its attempts start again, and the worker runs it once more (it dies again).
    requeued = await api.post(f"/v1/admin/jobs/{job_id}/requeue", headers=admin)
    assert (
        requeued.status_code == 200
        and requeued.json()["status"] == "queued"
        and requeued.json()["attempts"] == 0
    )
    for _ in range(300):
        if (
            executed(job_id) == 2
            and (await api.get("/v1/admin/jobs/dead", headers=admin)).json()["total"] == 1
        ):
            break
        await asyncio.sleep(0.05)
    assert executed(job_id) == 2
    # Discarded: it leaves the list for good, its error kept.
    discarded = await api.post(f"/v1/admin/jobs/{job_id}/discard", headers=admin)
    assert discarded.json()["status"] == "cancelled" and discarded.json()["last_error"]
    assert (await api.get("/v1/admin/jobs/dead", headers=admin)).json() == {"items": [], "total": 0}
    problem = assert_problem(await api.post(f"/v1/admin/jobs/{job_id}/requeue", headers=admin), 409)
    assert "not dead" in problem["detail"]
    assert_problem(await api.post("/v1/admin/jobs/job_nope/discard", headers=admin), 404)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two quick attempts a job, so a run whose source is missing dies within seconds."""
    return settings.model_copy(update={"job_max_attempts": 2, "job_backoff_base_seconds": 0.1})


async def test_a_requeued_dead_run_is_reopened_and_finishes(
    api: httpx.AsyncClient, settings: Settings, sample_video: Path
) -> None:
    owner = await register(api, "maker@example.com")
    admin = await register(api, "ops@example.com")
    await grant_admin(settings, "ops@example.com")
    video = (await upload(api, owner, sample_video)).json()
    stored = next(settings.data_dir.rglob(f"*{video['id']}*"))
    hidden = stored.with_name("hidden")
    stored.rename(hidden)  # the storage lost the file: every attempt fails, the job dies

    run = (
        await api.post(
            "/v1/runs", headers=owner, json={"video_id": video["id"], "profile": "transcript-only"}
        )
    ).json()
    dead_run = await wait_for_run(api, owner, run["id"], timeout=60)
    assert dead_run["status"] == "failed", dead_run
    dead = (await api.get("/v1/admin/jobs/dead", headers=admin)).json()["items"]
    job = next(item for item in dead if item["kind"] == "run.process")

    hidden.rename(stored)  # the operator repaired the storage, then requeues
    assert (await api.post(f"/v1/admin/jobs/{job['id']}/requeue", headers=admin)).status_code == 200
    reopened = (await api.get(f"/v1/runs/{run['id']}", headers=owner)).json()
    assert reopened["status"] in ("queued", "running") and reopened["error"] is None

    finished = await wait_for_run(api, owner, run["id"], timeout=120)
    assert finished["status"] == "succeeded", finished
    assert all(component["status"] == "succeeded" for component in finished["components"])
