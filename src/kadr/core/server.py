"""The HTTP server's own errors as problem+json: uvicorn's protocol with RFC 9457 refusals.

uvicorn answers requests it cannot parse (a malformed request line, headers over its
limit, …) itself, with a `text/plain` 400, before the application sees them. The protocol
classes here answer the same refusals as `application/problem+json` (431 for headers too
large), then close the connection gracefully: the response is flushed and the write side
shut down first, and what the client is still sending is read and discarded for a moment,
so that a client still sending the rest of a long request reads the answer instead of a
connection reset.
"""

from __future__ import annotations

import asyncio
import http
import json
from typing import Any

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

from kadr.core.errors import BadRequest, KadrError, RequestHeadersTooLarge

PROBLEM_JSON = b"application/problem+json"
# How long a refused connection keeps reading (and discarding) what the client still sends.
LINGER_SECONDS = 2.0


def refusal_for(status_hint: int) -> KadrError:
    """The problem a request the server could not parse gets (`status_hint` from the parser)."""
    if status_hint == 431:
        return RequestHeadersTooLarge(
            "the request line and headers are larger than this server accepts (16 KiB); "
            "send a shorter Authorization or Cookie header"
        )
    return BadRequest("the request is not valid HTTP/1.1 (malformed request line or headers)")


def problem_bytes(error: KadrError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 response carrying `error` as problem+json, closing the connection."""
    body = json.dumps(error.to_problem(), separators=(",", ":")).encode()
    reason = http.HTTPStatus(error.status).phrase.encode()
    lines = [b"HTTP/1.1 %d %s\r\n" % (error.status, reason)]
    lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
    lines += [
        b"content-type: " + PROBLEM_JSON + b"\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n",
        b"\r\n",
        body,
    ]
    return b"".join(lines)


class _RecordingConnection(h11.Connection):
    """h11's connection, remembering the last parse error so the refusal can say which it was.

    h11 limits only a request head that arrives in pieces; one that arrives whole in a single
    read passes at any size, so the same limit is applied here to every request head.
    """

    last_error: h11.RemoteProtocolError | None = None

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_head_bytes)
        self.max_head_bytes = max_head_bytes

    def next_event(self) -> Any:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request) and _head_size(event) > self.max_head_bytes:
                raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        except h11.RemoteProtocolError as exc:
            self.last_error = exc
            raise
        return event


def _head_size(request: h11.Request) -> int:
    return len(request.method) + len(request.target) + sum(len(n) + len(v) + 4 for n, v in request.headers)


class _ProblemRefusals:
    """Mixin for uvicorn's HTTP protocols: problem+json refusals and a lingering close."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    server_state: Any
    _lingering = False

    def _refusal_status_hint(self) -> int:
        return 400

    def send_400_response(self, msg: str) -> None:
        error = refusal_for(self._refusal_status_hint())
        self.transport.write(problem_bytes(error, list(self.server_state.default_headers)))
        self._close_lingering()

    def _close_lingering(self) -> None:
        self._lingering = True
        try:
            self.transport.write_eof()  # flushes the answer, then sends FIN
        except (NotImplementedError, RuntimeError, OSError):  # TLS cannot half-close
            self.transport.close()
            return
        self.transport.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused request: discarded
        super().data_received(data)  # type: ignore[misc]


class ProblemH11Protocol(_ProblemRefusals, H11Protocol):
    """uvicorn's h11 protocol with problem+json refusals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size
        self.conn = _RecordingConnection(DEFAULT_MAX_INCOMPLETE_EVENT_SIZE if limit is None else limit)

    def _refusal_status_hint(self) -> int:
        error = self.conn.last_error if isinstance(self.conn, _RecordingConnection) else None
        return error.error_status_hint if error is not None else 400


try:  # httptools is optional; uvicorn's `auto` prefers it when installed
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:

    class ProblemHttpToolsProtocol(_ProblemRefusals, HttpToolsProtocol):
        """uvicorn's httptools protocol with problem+json refusals (httptools sets no header limit)."""


def http_protocol() -> type[asyncio.Protocol]:
    """The protocol class for `uvicorn.Config(http=...)`: httptools when installed, as uvicorn's
    `auto` would choose, else h11."""
    if HttpToolsProtocol is not None:
        return ProblemHttpToolsProtocol
    return ProblemH11Protocol
