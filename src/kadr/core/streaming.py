"""Receive an uploaded file from a request body in chunks: flat memory, sha256 on the way.

Accepts `multipart/form-data` (the file in a part named `file`) or a raw body
(`Content-Type: video/mp4`, `application/octet-stream`, …).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from kadr.core.errors import BadRequest, KadrError, PayloadTooLarge

# Part headers may carry long file names (a 5,000-character one is legal); past this they are refused.
MAX_PART_HEADER_BYTES = 16 * 1024
# After refusing a body, read (and discard) at most this much of the rest, for at most this long, so
# the connection can serve the client's next request; past either bound the answer says
# `Connection: close` instead of leaving unread bytes on a keep-alive connection.
DRAIN_MAX_BYTES = 4 * 1024 * 1024
DRAIN_MAX_SECONDS = 2.0


@dataclass
class ReceivedFile:
    path: Path
    filename: str
    content_type: str
    size: int
    sha256: str
    fields: dict[str, str] = field(default_factory=dict)


class _Sink:
    """Writes one stream to disk, hashing and counting, refusing past `max_bytes`."""

    def __init__(self, handle: BinaryIO, max_bytes: int) -> None:
        self.handle = handle
        self.max_bytes = max_bytes
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(f"the file is larger than the limit of {self.max_bytes} bytes")
        self.digest.update(data)
        self.handle.write(data)


class _MultipartReceiver:
    def __init__(self, sink: _Sink, boundary: bytes) -> None:
        self.sink = sink
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_content_type = "application/octet-stream"
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._part_name: str | None = None
        self._part_is_file = False
        self._field_buffer = bytearray()
        self._files_seen = 0
        callbacks: Any = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }
        self.parser = MultipartParser(boundary, callbacks, max_header_size=MAX_PART_HEADER_BYTES)

    def write(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except FormParserError as exc:
            raise BadRequest(f"malformed multipart/form-data body: {exc}") from None

    def finish(self) -> None:
        """Refuse a body that ended before its closing boundary (a truncated upload)."""
        if self.parser.state == MultipartState.START:
            raise BadRequest("the multipart/form-data body is empty: send the video in a part named 'file'")
        if self.parser.state != MultipartState.END:
            raise BadRequest(
                "the multipart/form-data body ended before its closing boundary: the upload is incomplete"
            )

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._part_name = None
        self._part_is_file = False
        self._field_buffer = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._part_name = name
        if b"filename" in options or name == "file":
            if name != "file":
                raise BadRequest(f"unexpected file part {name!r}; send the video in a part named 'file'")
            self._files_seen += 1
            if self._files_seen > 1:
                raise BadRequest("send exactly one file per upload")
            self._part_is_file = True
            self.filename = options.get(b"filename", b"upload").decode("utf-8", "replace")
            content_type = self._headers.get(b"content-type")
            if content_type:
                self.file_content_type = content_type.decode("latin-1").strip()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part_is_file:
            self.sink.write(data[start:end])
        else:
            self._field_buffer += data[start:end]
            if len(self._field_buffer) > 64 * 1024:
                raise BadRequest("form fields are limited to 64 KiB")

    def _on_part_end(self) -> None:
        if not self._part_is_file and self._part_name:
            self.fields[self._part_name] = self._field_buffer.decode("utf-8", "replace")


async def receive_file(
    chunks: AsyncIterator[bytes],
    content_type_header: str,
    destination: Path,
    max_bytes: int,
    default_filename: str = "upload",
) -> ReceivedFile:
    """Stream a request body to `destination`. The file is removed if anything goes wrong."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    media_type, options = parse_options_header(content_type_header or "application/octet-stream")
    media = media_type.decode("latin-1").lower()
    try:
        with destination.open("wb") as handle:
            sink = _Sink(handle, max_bytes)
            if media == "multipart/form-data":
                boundary = options.get(b"boundary")
                if not boundary:
                    raise BadRequest("multipart/form-data without a boundary")
                receiver = _multipart_receiver(sink, boundary)
                async for chunk in chunks:
                    receiver.write(chunk)
                receiver.finish()
                if receiver.filename is None:
                    raise BadRequest("no file in the form: send the video in a part named 'file'")
                filename, file_type, fields = receiver.filename, receiver.file_content_type, receiver.fields
            else:
                async for chunk in chunks:
                    sink.write(chunk)
                filename, file_type, fields = default_filename, media, {}
    except KadrError as exc:
        destination.unlink(missing_ok=True)
        if not await drain(chunks):
            exc.headers["Connection"] = "close"
        raise
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return ReceivedFile(
        path=destination,
        filename=_safe_filename(filename),
        content_type=file_type,
        size=sink.size,
        sha256=sink.digest.hexdigest(),
        fields=fields,
    )


def _multipart_receiver(sink: _Sink, boundary: bytes) -> _MultipartReceiver:
    try:
        return _MultipartReceiver(sink, boundary)
    except FormParserError as exc:  # e.g. a boundary over 70 characters
        raise BadRequest(f"malformed multipart/form-data boundary: {exc}") from None


async def drain(
    chunks: AsyncIterator[bytes], max_bytes: int | None = None, max_seconds: float | None = None
) -> bool:
    """Read and discard the rest of a refused body; False when it did not end within the bounds."""
    limit = DRAIN_MAX_BYTES if max_bytes is None else max_bytes
    seen = 0
    try:
        async with asyncio.timeout(DRAIN_MAX_SECONDS if max_seconds is None else max_seconds):
            async for chunk in chunks:
                seen += len(chunk)
                if seen > limit:
                    return False
    except TimeoutError:
        return False
    except Exception:  # the client went away, or the stream was already consumed
        return False
    return True


def _safe_filename(name: str) -> str:
    """Keep the base name only, printable, at most 200 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"\r\n')
    return (cleaned or "upload")[:200]
