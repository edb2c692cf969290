"""Receiving uploads in chunks: multipart and raw bodies, hashing, limits, clean-up."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kadr.core.errors import BadRequest, PayloadTooLarge
from kadr.core.streaming import receive_file

pytestmark = pytest.mark.anyio


async def chunks_of(data: bytes, size: int = 7919) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def multipart(
    files: dict[str, tuple[str, bytes, str]], fields: dict[str, str] | None = None
) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://x/", files=files, data=fields)
    return request.headers["content-type"], request.read()


async def test_multipart_file_is_streamed_to_disk_with_its_sha256(tmp_path: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    content_type, body = multipart({"file": ("../../etc/My Talk.mp4", payload, "video/mp4")}, {"note": "hi"})
    received = await receive_file(chunks_of(body), content_type, tmp_path / "f", 10 * 1024 * 1024)
    assert received.path.read_bytes() == payload
    assert received.size == len(payload)
    assert received.sha256 == hashlib.sha256(payload).hexdigest()
    assert received.filename == "My Talk.mp4", "only the base name of a client's path is kept"
    assert received.content_type == "video/mp4"
    assert received.fields == {"note": "hi"}


async def test_raw_body(tmp_path: Path) -> None:
    payload = b"\x00\x01" * 50_000
    received = await receive_file(
        chunks_of(payload), "video/mp4", tmp_path / "f", 10**6, default_filename="a.mp4"
    )
    assert received.path.read_bytes() == payload and received.filename == "a.mp4"


async def test_over_the_limit_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    with pytest.raises(PayloadTooLarge):
        await receive_file(chunks_of(b"x" * 5000), "application/octet-stream", tmp_path / "f", 4096)
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"title": (None, b"a form with no file", None)}, "no file"),
        ({"video": ("a.mp4", b"123", "video/mp4")}, "part named 'file'"),
    ],
)
async def test_malformed_forms_get_a_clear_reason(tmp_path: Path, files: dict, message: str) -> None:  # type: ignore[type-arg]
    content_type, body = multipart(files)
    with pytest.raises(BadRequest, match=message):
        await receive_file(chunks_of(body), content_type, tmp_path / "f", 10**6)
    assert not (tmp_path / "f").exists()
