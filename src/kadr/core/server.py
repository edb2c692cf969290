"""The HTTP server's own errors as problem+json: uvicorn's protocol with RFC 9457 refusals.

uvicorn answers requests it cannot parse (a malformed request line, …) itself, with a
`text/plain` 400, before the application sees them. The protocol here answers the same
refusals as `application/problem+json`, adds the two checks httptools leaves out (a bounded
request head, 431; a Host on HTTP/1.1), then closes the connection gracefully: the response is
flushed and the write side shut down first, and what the client is still sending is read and
discarded for a moment, so that a client still sending the rest of a long request reads the
answer instead of a connection reset.
"""

from __future__ import annotations

import http
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kadr.core.errors import BadRequest, KadrError, RequestHeadersTooLarge

PROBLEM_JSON = b"application/problem+json"
# How long a refused connection keeps reading (and discarding) what the client still sends.
LINGER_SECONDS = 2.0
#: The request line and headers together, as h11 (uvicorn's other parser) bounds them.
MAX_HEAD_BYTES = 16 * 1024


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


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (`uvicorn.Config(http=...)`) with problem+json refusals."""

    _lingering = False
    _head_bytes = 0
    _in_head = True
    _refusal = 400

    def send_400_response(self, msg: str) -> None:
        error = refusal_for(self._refusal)
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
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self._lingering:
            # httptools would keep buffering an endless header line
            self._refusal = 431
            self.send_400_response("request head too large")

    def on_message_begin(self) -> None:
        self._head_bytes, self._in_head, self._refusal = 0, True, 400
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        # An exception here is the parser's error: data_received answers it with the refusal.
        if len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers) > MAX_HEAD_BYTES:
            self._refusal = 431  # a head that arrived whole in one read
            raise ValueError("request head too large")
        if self.parser.get_http_version() == "1.1" and not any(n == b"host" for n, _ in self.headers):
            raise ValueError("HTTP/1.1 request without Host")
        super().on_headers_complete()
