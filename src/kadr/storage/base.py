"""The object-storage contract every backend fulfils.

Keys are `/`-separated relative paths (`videos/<id>/source.mp4`,
`runs/<id>/clips/clip_01_9x16.mp4`). All methods are synchronous (boto3 is);
async callers run them with `anyio.to_thread.run_sync` / `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


class ObjectNotFound(Exception):
    """No object at that key."""


class PresignNotSupported(Exception):
    """This backend cannot hand out presigned URLs (the API moves the bytes instead)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


@dataclass(frozen=True)
class PresignedPart:
    part_number: int
    url: str


@runtime_checkable
class ObjectWriter(Protocol):
    """A streaming writer: `write` chunks, then `commit` (object appears atomically) or `abort`."""

    def write(self, chunk: bytes) -> None: ...
    def commit(self) -> ObjectInfo: ...
    def abort(self) -> None: ...


@runtime_checkable
class Storage(Protocol):
    """Object storage. Writes are atomic: a reader sees the old object or the new one, never a part."""

    #: True when clients can move bytes directly (presigned URLs); False means the API streams them.
    supports_presigned: bool

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo: ...
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo: ...
    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter: ...
    def get_file(self, key: str, path: Path) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def open_read(self, key: str) -> BinaryIO: ...
    def stat(self, key: str) -> ObjectInfo: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]: ...
    def local_path(self, key: str) -> Path | None:
        """The object's file on this machine's disk, if the backend keeps one (local backend)."""
        ...

    def presigned_get(self, key: str, expires_seconds: int = 3600, filename: str | None = None) -> str: ...
    def presigned_put(
        self, key: str, expires_seconds: int = 3600, content_type: str | None = None
    ) -> str: ...
    def create_multipart_upload(self, key: str, content_type: str | None = None) -> str: ...
    def presigned_upload_part(
        self, key: str, upload_id: str, part_number: int, expires_seconds: int = 3600
    ) -> str: ...
    def complete_multipart_upload(
        self, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> ObjectInfo: ...
    def abort_multipart_upload(self, key: str, upload_id: str) -> None: ...
    def ping(self) -> None:
        """Raise if the storage cannot be reached (health checks)."""
        ...
