"""Serve an ASGI app with uvicorn on a real socket, in the test's own event loop, and speak raw
HTTP/1.1 to it (to see exactly what goes over one keep-alive connection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from kadr.core.server import ProblemHttpToolsProtocol
from tests.support.process import free_port


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    """uvicorn as `kadr up` runs it (kadr's protocol class), lifespan left to the caller; yields the port."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", http=ProblemHttpToolsProtocol
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


async def read_response(reader: asyncio.StreamReader, timeout: float = 15) -> RawResponse:
    """Read one response with a Content-Length body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), timeout)
    return RawResponse(int(status_line.split(" ")[1]), headers, body)


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = 15) -> bool:
    """True when the server ended the connection cleanly: nothing more, then EOF (a reset raises)."""
    rest = await asyncio.wait_for(reader.read(), timeout)
    return rest == b""
