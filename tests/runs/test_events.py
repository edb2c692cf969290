"""A run's live progress as server-sent events, over a real socket."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kadr.config import Settings
from tests.support.api import assert_problem, register, upload
from tests.support.media import make_video
from tests.support.process import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
async def live(settings: Settings, database: None) -> AsyncIterator[httpx.AsyncClient]:
    """`kadr up` in this loop (API, worker, scheduler) behind uvicorn on a real socket."""
    from kadr.app import create_app

    app = create_app(settings, run_worker=True, run_scheduler=True)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    async with app.router.lifespan_context(app):
        serve = asyncio.create_task(server.serve())
        while not server.started:
            assert not serve.done(), "uvicorn stopped before it started"
            await asyncio.sleep(0.01)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                yield client
        finally:
            server.should_exit = True
            await serve


async def read_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of every event until the server closes the stream."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and data:
            events.append((name, json.loads(data)))
            name, data = "message", ""
    return events


async def start_run(client: httpx.AsyncClient, headers: dict[str, str], tmp_path: Path) -> str:
    video = (await upload(client, headers, make_video(tmp_path / "v.mp4", 4))).json()
    created = await client.post(
        "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
    )
    assert created.status_code in (201, 202), created.text  # 201: answered from the cache
    run_id: str = created.json()["id"]
    return run_id


async def test_events_follow_a_run_to_its_end(live: httpx.AsyncClient, tmp_path: Path) -> None:
    headers = await register(live, "watcher@example.com")
    run_id = await start_run(live, headers, tmp_path)
    async with live.stream("GET", f"/v1/runs/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await read_events(response)
    names = [name for name, _ in events]
    assert names[-1] == "end" and set(names[:-1]) == {"update"}, names
    updates = [data for _, data in events[:-1]]
    assert updates[-1]["status"] == "succeeded" and events[-1][1] == {"status": "succeeded"}
    assert len(updates) >= 3, "queued/running, progress, then the finished run"
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress), f"progress never goes back: {progress}"
    assert all(u["id"] == run_id for u in updates)
    assert [c["name"] for c in updates[-1]["components"]] == ["probe", "audio", "transcribe", "subtitles"]
    assert {c["status"] for c in updates[-1]["components"]} <= {"succeeded", "skipped"}
    # Each event is a new state: no two consecutive updates are the same.
    assert all(a != b for a, b in itertools.pairwise(updates))
    # The same shape as a poll of the finished run.
    assert updates[-1] == (await live.get(f"/v1/runs/{run_id}", headers=headers)).json()
    # A finished run's stream answers its state and ends at once.
    async with live.stream("GET", f"/v1/runs/{run_id}/events", headers=headers) as response:
        again = await read_events(response)
    assert [name for name, _ in again] == ["update", "end"] and again[0][1] == updates[-1]


async def test_events_link_for_browsers_and_isolation(live: httpx.AsyncClient, tmp_path: Path) -> None:
    headers = await register(live, "owner@example.com")
    run_id = await start_run(live, headers, tmp_path)
    link = await live.post(f"/v1/runs/{run_id}/events-link", headers=headers)
    assert link.status_code == 200, link.text
    assert link.json()["expires_in"] > 0
    # No header: the signed link alone opens the stream (what EventSource does).
    async with live.stream("GET", link.json()["url"]) as response:
        assert response.status_code == 200
        events = await read_events(response)
    assert events[-1] == ("end", {"status": "succeeded"})

    stranger = await register(live, "stranger-events@example.com")
    assert_problem(await live.get(f"/v1/runs/{run_id}/events", headers=stranger), 404)
    assert_problem(await live.post(f"/v1/runs/{run_id}/events-link", headers=stranger), 404)
    assert_problem(await live.get(f"/v1/runs/{run_id}/events"), 401)
    assert_problem(await live.get(f"/v1/runs/{run_id}/events?token=forged"), 403)
    # A link names its run: it opens no other, not even another run of the same owner.
    other_run = await start_run(live, headers, tmp_path)
    token = link.json()["url"].split("token=", 1)[1]
    assert_problem(await live.get(f"/v1/runs/{other_run}/events?token={token}"), 403)
