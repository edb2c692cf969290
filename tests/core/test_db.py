"""SQLite transactions: readers begin DEFERRED and never queue behind a writer; writers begin
IMMEDIATE and wait for the lock instead of failing half-way."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from kadr.config import Settings
from kadr.core.db import begin_writes, deferred_transactions, get_database
from kadr.core.deps import SessionDep, writes
from tests.support.api import register, upload, wait_for_run
from tests.support.media import make_video

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Short, so a request that wrongly waits for the write lock fails in a second, not 30.
    return settings.model_copy(update={"sqlite_busy_timeout_ms": 1000})


def database_file(settings: Settings) -> Path:
    return Path(settings.resolved_database_url.split("///", 1)[1])


@contextmanager
def write_lock_held(settings: Settings) -> Iterator[sqlite3.Connection]:
    """Another connection holds SQLite's write lock (an open write transaction) in the block."""
    other = sqlite3.connect(database_file(settings), isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE users SET email = email")
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def can_take_write_lock(settings: Settings) -> bool:
    """Whether another connection could take the write lock right now (no waiting)."""
    probe = sqlite3.connect(database_file(settings), isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


async def test_writers_begin_immediate_readers_deferred(settings: Settings, database: None) -> None:
    db = get_database(settings)
    async with db.session() as session:
        await session.execute(select(1))
        assert not can_take_write_lock(settings), "a worker's transaction holds the write lock from BEGIN"
    with deferred_transactions():
        async with db.session() as session:
            await session.execute(select(1))
            assert can_take_write_lock(settings), "a read-only transaction takes no write lock"
            await begin_writes(session)
            await session.execute(text("UPDATE users SET email = email"))
            assert not can_take_write_lock(settings), "after begin_writes, IMMEDIATE again"


async def test_a_read_answers_while_a_writer_holds_the_lock(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    headers = await register(client, "reader@example.com")
    with write_lock_held(settings):
        # Both a poll of a missing run and a list run against a locked database.
        missing = await client.get("/v1/runs/run_nope", headers=headers)
        listed = await client.get("/v1/runs", headers=headers)
    assert missing.status_code == 404, missing.text
    assert listed.status_code == 200 and listed.json()["total"] == 0, listed.text


async def test_run_status_while_a_writer_holds_the_lock_and_cached_create_waits(
    settings: Settings, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    headers = await register(api, "cache@example.com")
    video = (await upload(api, headers, make_video(tmp_path / "v.mp4", 4))).json()
    body = {"video_id": video["id"], "profile": "transcript-only"}
    first = await api.post("/v1/runs", headers=headers, json=body)
    assert first.status_code == 202, first.text
    run = await wait_for_run(api, headers, first.json()["id"])
    assert run["status"] == "succeeded"
    with write_lock_held(settings) as other:
        polled = await api.get(f"/v1/runs/{run['id']}", headers=headers)
        assert polled.status_code == 200 and polled.json() == run, "a poll does not wait for writers"
        # A cached create reads then writes: it must wait for the lock (IMMEDIATE), not fail.
        threading.Timer(0.3, lambda: other.execute("ROLLBACK")).start()
        cached = await api.post("/v1/runs", headers=headers, json=body)
    assert cached.status_code == 201, cached.text
    assert cached.json()["cached_from_run_id"] == run["id"]


async def test_get_routes_read_deferred_unless_marked_writes(settings: Settings, database: None) -> None:
    app = FastAPI()
    app.state.settings = settings

    @app.get("/read")
    async def read(session: SessionDep) -> dict[str, bool]:
        await session.execute(select(1))
        return {"others_can_write": can_take_write_lock(settings)}

    @app.get("/callback")
    @writes
    async def callback(session: SessionDep) -> dict[str, bool]:
        await session.execute(select(1))
        return {"others_can_write": can_take_write_lock(settings)}

    @app.post("/write")
    async def write(session: SessionDep) -> dict[str, bool]:
        await session.execute(select(1))
        return {"others_can_write": can_take_write_lock(settings)}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/read")).json() == {"others_can_write": True}
        assert (await client.get("/callback")).json() == {"others_can_write": False}
        assert (await client.post("/write")).json() == {"others_can_write": False}
        assert (await client.get("/read")).json() == {"others_can_write": True}
