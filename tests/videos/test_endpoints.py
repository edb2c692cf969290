"""Uploading videos over HTTP: validation by content, limits, isolation, deletion."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from kadr.config import Settings
from tests.support.api import assert_problem, register, upload, wait_for_run
from tests.support.media import (
    make_audio_only,
    make_rotated_phone_video,
    make_silent_copy,
    make_video,
    truncate,
)

pytestmark = pytest.mark.anyio


async def test_upload_stores_a_probed_video(
    api: httpx.AsyncClient, sample_video: Path, settings: Settings
) -> None:
    headers = await register(api, "a@example.com")
    response = await upload(api, headers, sample_video, "my talk.mp4")
    assert response.status_code == 201, response.text
    video = response.json()
    assert response.headers["Location"] == f"/v1/videos/{video['id']}"
    assert video["filename"] == "my talk.mp4"
    assert video["size_bytes"] == sample_video.stat().st_size
    assert video["has_video"] and video["has_audio"]
    assert (video["width"], video["height"]) == (1280, 720)
    assert 20 < video["duration_seconds"] < 120
    import hashlib

    assert video["sha256"] == hashlib.sha256(sample_video.read_bytes()).hexdigest()
    listed = (await api.get("/v1/videos", headers=headers)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == video["id"]
    # Nothing is left behind in scratch space.
    assert not any((settings.resolved_work_dir / "uploads").iterdir())


async def test_raw_body_upload_works_too(api: httpx.AsyncClient, sample_video: Path) -> None:
    headers = await register(api, "raw@example.com")
    response = await api.post(
        "/v1/videos?filename=raw.mp4",
        headers={**headers, "Content-Type": "video/mp4"},
        content=sample_video.read_bytes(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "raw.mp4"


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        (
            "notes.mp4",
            lambda d, s: _write(d / "notes.mp4", b"these are my meeting notes, not a video\n" * 50),
            None,
        ),
        ("empty.mp4", lambda d, s: _write(d / "empty.mp4", b""), "empty"),
        ("noise.mp4", lambda d, s: _write(d / "noise.mp4", os.urandom(256 * 1024)), None),
        ("cut.mp4", lambda d, s: truncate(d / "cut.mp4", s, 0.4), None),
    ],
)
async def test_what_is_not_media_gets_422_with_a_reason(
    api: httpx.AsyncClient,
    sample_video: Path,
    tmp_path: Path,
    settings: Settings,
    name: str,
    make,
    reason,  # type: ignore[no-untyped-def]
) -> None:
    headers = await register(api, "bad@example.com")
    path = make(tmp_path, sample_video)
    response = await upload(api, headers, path, name)
    body = assert_problem(response, 422, "invalid-media")
    if reason:
        assert reason in body["detail"]
    assert (await api.get("/v1/videos", headers=headers)).json()["total"] == 0
    assert not any((settings.resolved_work_dir / "uploads").iterdir()), "rejected files are removed"


async def test_uploads_over_the_limit_get_413_and_leave_nothing(
    settings: Settings, database: None, sample_video: Path
) -> None:
    from kadr.app import create_app

    small = settings.model_copy(update={"max_upload_bytes": 100_000})
    application = create_app(small)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as api,
    ):
        headers = await register(api, "big@example.com")
        response = await upload(api, headers, sample_video)
        assert_problem(response, 413, "payload-too-large")

        async def body() -> object:  # no Content-Length: the limit is enforced while streaming
            data = sample_video.read_bytes()
            for start in range(0, len(data), 65536):
                yield data[start : start + 65536]

        response = await api.post(
            "/v1/videos", headers={**headers, "Content-Type": "video/mp4"}, content=body()
        )
        assert_problem(response, 413, "payload-too-large")
        assert not any((small.resolved_work_dir / "uploads").iterdir())


async def test_another_users_video_is_not_found(api: httpx.AsyncClient, sample_video: Path) -> None:
    alice = await register(api, "alice@example.com")
    bob = await register(api, "bob@example.com")
    video = (await upload(api, alice, sample_video)).json()
    assert_problem(await api.get(f"/v1/videos/{video['id']}", headers=bob), 404)
    assert_problem(await api.delete(f"/v1/videos/{video['id']}", headers=bob), 404)
    assert_problem(await api.post("/v1/runs", headers=bob, json={"video_id": video["id"]}), 404)
    assert (await api.get("/v1/videos", headers=bob)).json()["total"] == 0
    assert (await api.get(f"/v1/videos/{video['id']}", headers=alice)).status_code == 200


async def test_unauthenticated_requests_get_401(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/v1/videos"), 401)


async def test_phone_video_is_described_in_its_display_orientation(
    api: httpx.AsyncClient, tmp_path: Path
) -> None:
    headers = await register(api, "phone@example.com")
    landscape = make_video(tmp_path / "landscape.mp4", 2, size="640x360")
    phone = make_rotated_phone_video(tmp_path / "phone.mp4", landscape, 90)
    video = (await upload(api, headers, phone)).json()
    assert (video["width"], video["height"]) == (360, 640)


async def test_delete_removes_the_video_its_runs_and_stored_objects(
    api: httpx.AsyncClient, tmp_path: Path, settings: Settings
) -> None:
    headers = await register(api, "del@example.com")
    clip = make_video(tmp_path / "short.mp4", 3)
    video = (await upload(api, headers, clip)).json()
    run = (
        await api.post(
            "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
        )
    ).json()
    await wait_for_run(api, headers, run["id"])
    storage_root = settings.data_dir / "storage"
    assert any(storage_root.rglob("*"))
    response = await api.delete(f"/v1/videos/{video['id']}", headers=headers)
    assert response.status_code == 204
    assert_problem(await api.get(f"/v1/videos/{video['id']}", headers=headers), 404)
    assert_problem(await api.get(f"/v1/runs/{run['id']}", headers=headers), 404)
    assert not [p for p in storage_root.rglob("*") if p.is_file()], "every stored object is gone"


class TestOddButValidInputs:
    """Files that are media but unusual get a sensible result, never a 500 or a hung run."""

    async def _run(self, api: httpx.AsyncClient, headers: dict[str, str], path: Path) -> dict[str, object]:
        response = await upload(api, headers, path)
        assert response.status_code == 201, response.text
        created = await api.post("/v1/runs", headers=headers, json={"video_id": response.json()["id"]})
        assert created.status_code == 202, created.text
        return await wait_for_run(api, headers, created.json()["id"], timeout=240)

    @staticmethod
    def _components(run: dict[str, object]) -> dict[str, dict[str, object]]:
        return {c["name"]: c for c in run["components"]}  # type: ignore[index, union-attr]

    async def test_audio_only_file_gets_transcript_and_skips_video_work(
        self, api: httpx.AsyncClient, sample_video: Path, tmp_path: Path
    ) -> None:
        headers = await register(api, "audio@example.com")
        run = await self._run(api, headers, make_audio_only(tmp_path / "talk.m4a", sample_video))
        assert run["status"] == "succeeded", run
        components = self._components(run)
        assert components["transcribe"]["status"] == "succeeded"
        assert components["subtitles"]["status"] == "succeeded"
        for name in ("clips", "thumbnails"):
            assert components[name]["status"] == "skipped"
            assert "video" in str(components[name]["summary"]["skipped_reason"])  # type: ignore[index]

    async def test_video_without_audio_skips_speech_work_and_keeps_thumbnails(
        self, api: httpx.AsyncClient, sample_video: Path, tmp_path: Path
    ) -> None:
        headers = await register(api, "mute@example.com")
        run = await self._run(api, headers, make_silent_copy(tmp_path / "mute.mp4", sample_video))
        assert run["status"] == "succeeded", run
        components = self._components(run)
        assert components["audio"]["status"] == "skipped"
        assert components["transcribe"]["status"] == "skipped"
        assert "audio" in str(components["transcribe"]["summary"]["skipped_reason"])  # type: ignore[index]
        assert components["thumbnails"]["status"] == "succeeded"

    async def test_one_second_video_finishes(self, api: httpx.AsyncClient, tmp_path: Path) -> None:
        headers = await register(api, "tiny@example.com")
        run = await self._run(api, headers, make_video(tmp_path / "tiny.mp4", 1))
        assert run["status"] == "succeeded", run


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


_FILE_PART = (
    b'Content-Disposition: form-data; name="file"; filename="a.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
)
MALFORMED_FORMS = {
    "wrong-boundary": b"--other\r\n" + _FILE_PART + b"data\r\n--other--\r\n",
    "garbage-part-headers": b"--b0undary\r\n\x00\x01garbage\r\n\r\ndata\r\n--b0undary--\r\n",
    "part-headers-over-16-kib": b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="'
    + b"x" * 20_000
    + b'"\r\n\r\ndata\r\n--b0undary--\r\n',
    "truncated": b"--b0undary\r\n" + _FILE_PART + b"the body stops here",
}


@pytest.mark.parametrize("body", MALFORMED_FORMS.values(), ids=MALFORMED_FORMS.keys())
async def test_malformed_multipart_gets_400_and_leaves_nothing(
    client: httpx.AsyncClient, settings: Settings, body: bytes
) -> None:
    headers = await register(client, "form@example.com")
    response = await client.post(
        "/v1/videos",
        headers={**headers, "Content-Type": "multipart/form-data; boundary=b0undary"},
        content=body,
    )
    problem = assert_problem(response, 400, "bad-request")
    assert "multipart" in problem["detail"]
    assert (await client.get("/v1/videos", headers=headers)).json()["total"] == 0
    uploads = settings.resolved_work_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir()), "nothing half-written is kept"


async def test_a_5000_character_filename_is_accepted_and_shortened(
    api: httpx.AsyncClient, sample_video: Path
) -> None:
    headers = await register(api, "longname@example.com")
    response = await upload(api, headers, sample_video, "n" * 4996 + ".mp4")
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "n" * 200


def _raw_post(port: int, token: str, body: bytes, length: int | None = None) -> bytes:
    return (
        f"POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {token}\r\n"
        f"Content-Type: multipart/form-data; boundary=b0undary\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    ).encode() + body


async def test_after_a_malformed_upload_the_same_connection_serves_the_next_request(
    app: object,
) -> None:
    """The refused body is read to its end, so the keep-alive connection stays usable."""
    import asyncio

    from tests.support.server import read_response, serving

    async with serving(app) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            token = (await register(http, "keepalive@example.com"))["Authorization"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            body = MALFORMED_FORMS["wrong-boundary"] + b"z" * 300_000
            writer.write(_raw_post(port, token, body))
            await writer.drain()
            refused = await read_response(reader)
            assert refused.status == 400, refused.body
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers.get("connection") != "close"
            writer.write(f"GET /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode())
            await writer.drain()
            listed = await read_response(reader)
            assert listed.status == 200 and b'"total":0' in listed.body
        finally:
            writer.close()


async def test_a_refused_upload_whose_rest_does_not_come_closes_the_connection_cleanly(
    app: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body that does not end within the drain bounds: the answer says `Connection: close` and the
    server closes (no keep-alive connection left with unread bytes, no reset)."""
    import asyncio

    from kadr.core import streaming
    from tests.support.server import closed_by_server, read_response, serving

    monkeypatch.setattr(streaming, "DRAIN_MAX_SECONDS", 0.5)
    async with serving(app) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            token = (await register(http, "slow@example.com"))["Authorization"]
        for length in (10_000_000, 10**15):  # 10 MB announced: refused while parsing; 1 PB: at once
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(_raw_post(port, token, MALFORMED_FORMS["wrong-boundary"], length))
                await writer.drain()
                refused = await read_response(reader)
                assert refused.status in (400, 413), refused.body
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.headers["connection"] == "close"
                assert await closed_by_server(reader)
            finally:
                writer.close()
