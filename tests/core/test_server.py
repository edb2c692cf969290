"""The server's own refusals (before the app sees a request) are problem+json, over a real socket."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI

from tests.support.api import register
from tests.support.server import closed_by_server, read_response, serving

pytestmark = pytest.mark.anyio


async def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], dict[str, object], bool]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        response = await read_response(reader)
        closed = await closed_by_server(reader)
    finally:
        writer.close()
    return response.status, response.headers, json.loads(response.body), closed


async def test_a_100_kb_authorization_header_gets_431_problem_json(app: FastAPI) -> None:
    async with serving(app) as port:
        raw = b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"a" * 100_000 + b"\r\n\r\n"
        status, headers, body, closed = await _exchange(port, raw)
    assert status == 431
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert body["status"] == 431 and body["type"] == "https://kadr.dev/problems/request-headers-too-large"
    assert "Authorization" in str(body["detail"])
    assert closed, "the server flushes the answer and closes cleanly (no reset)"


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /v1/videos HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n",
        b"GET /v1/videos HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
    ],
    ids=["request-line", "header-name", "no-host"],
)
async def test_malformed_requests_get_400_problem_json(app: FastAPI, raw: bytes) -> None:
    async with serving(app) as port:
        status, headers, body, closed = await _exchange(port, raw)
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert body["type"] == "https://kadr.dev/problems/bad-request" and body["detail"]
    assert closed


async def test_a_refused_long_request_still_lets_the_client_read_the_answer(app: FastAPI) -> None:
    """1 MB of headers: the server refuses after 16 KiB, yet the client sending the rest reads 431
    (the server shuts its side and discards the rest instead of resetting the connection)."""
    async with serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 1_000_000 + b"\r\n\r\n")
        await writer.drain()
        response = await read_response(reader)
        writer.close()
    assert response.status == 431


async def test_ordinary_requests_keep_the_connection(app: FastAPI) -> None:
    async with serving(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        headers = await register(http, "server@example.com")
        assert (await http.get("/v1/videos", headers=headers)).status_code == 200
