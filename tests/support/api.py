"""Helpers for driving the API as a client would."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"


async def register(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Register and log in; returns the Authorization header."""
    response = await client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    response = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], path: Path, name: str | None = None
) -> httpx.Response:
    with path.open("rb") as handle:
        return await client.post(
            "/v1/videos", headers=headers, files={"file": (name or path.name, handle, "video/mp4")}
        )


async def wait_for_run(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    run_id: str,
    timeout: float = 300.0,
    until: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await client.get(f"/v1/runs/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        if run["status"] in until or run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        if loop.time() > deadline:
            raise AssertionError(f"run {run_id} still {run['status']} after {timeout}s: {run}")
        await asyncio.sleep(0.2)


def assert_problem(response: httpx.Response, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://kadr.dev/problems/")
    assert body["detail"]
    if type_suffix:
        assert body["type"].endswith(type_suffix), body
    return body
