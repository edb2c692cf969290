"""The upload-URL flow in embedded mode: create, PUT the bytes to the signed URL, complete, poll."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from kadr.config import Settings
from tests.support.api import assert_problem, register
from tests.support.seaweed import S3Server

pytestmark = pytest.mark.anyio


async def _poll(api: httpx.AsyncClient, headers: dict[str, str], upload_id: str) -> dict[str, object]:
    for _ in range(200):
        state: dict[str, object] = (await api.get(f"/v1/uploads/{upload_id}", headers=headers)).json()
        if state["status"] in ("completed", "rejected"):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(state)


async def _start(api: httpx.AsyncClient, headers: dict[str, str], data: bytes) -> tuple[str, str]:
    created = await api.post(
        "/v1/uploads",
        headers=headers,
        json={"filename": "talk.mp4", "content_type": "video/mp4", "size_bytes": len(data)},
    )
    assert created.status_code == 201, created.text
    url = urlsplit(created.json()["upload_url"])
    return created.json()["id"], f"{url.path}?{url.query}"


async def test_signed_upload_then_complete_makes_a_video(api: httpx.AsyncClient, sample_video: Path) -> None:
    headers = await register(api, "up@example.com")
    data = sample_video.read_bytes()
    upload_id, put_url = await _start(api, headers, data)
    assert_problem(await api.post(f"/v1/uploads/{upload_id}/complete", headers=headers), 409)
    assert (await api.put(put_url, content=data)).status_code == 204, (
        "no auth header: the URL is the permission"
    )
    completed = await api.post(f"/v1/uploads/{upload_id}/complete", headers=headers)
    assert completed.status_code == 202 and completed.headers["Location"] == f"/v1/uploads/{upload_id}"
    state = await _poll(api, headers, upload_id)
    assert state["status"] == "completed", state
    video = (await api.get(f"/v1/videos/{state['video_id']}", headers=headers)).json()
    assert video["size_bytes"] == len(data) and video["has_audio"]
    assert_problem(await api.put(put_url, content=data), 409)


async def test_not_media_is_rejected_with_the_reason(api: httpx.AsyncClient) -> None:
    headers = await register(api, "up2@example.com")
    data = b"definitely not a video " * 100
    upload_id, put_url = await _start(api, headers, data)
    await api.put(put_url, content=data)
    await api.post(f"/v1/uploads/{upload_id}/complete", headers=headers)
    state = await _poll(api, headers, upload_id)
    assert state["status"] == "rejected" and "not a video or audio file" in str(state["error"])


async def test_the_declared_size_is_enforced_and_tokens_are_checked(api: httpx.AsyncClient) -> None:
    headers = await register(api, "up3@example.com")
    upload_id, put_url = await _start(api, headers, b"x" * 100)
    assert_problem(await api.put(put_url, content=b"x" * 5000), 413)
    assert_problem(await api.put(f"/v1/uploads/{upload_id}/content?token=nope", content=b"x"), 403)
    other = await register(api, "up4@example.com")
    assert_problem(await api.get(f"/v1/uploads/{upload_id}", headers=other), 404)
    assert_problem(
        await api.post("/v1/uploads", headers=headers, json={"filename": "a", "size_bytes": 10**13}), 413
    )


async def test_the_upload_options_say_the_bytes_pass_through_the_api(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await register(api, "options@example.com")
    options = await api.get("/v1/uploads/options", headers=headers)
    assert options.status_code == 200, options.text
    assert options.json() == {"direct_to_storage": False, "max_upload_bytes": settings.max_upload_bytes}
    assert_problem(await api.get("/v1/uploads/options"), 401)


async def test_with_s3_the_upload_options_point_straight_at_storage(
    settings: Settings, database: None, s3_server: S3Server
) -> None:
    from kadr.app import create_app

    application = create_app(settings.model_copy(update={"storage_url": s3_server.url_for("options")}))
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as s3,
    ):
        headers = await register(s3, "options-s3@example.com")
        assert (await s3.get("/v1/uploads/options", headers=headers)).json()["direct_to_storage"] is True
