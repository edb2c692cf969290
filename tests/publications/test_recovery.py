"""A worker killed after YouTube accepted the upload, but before it learned the video id,
does not upload again: the next worker asks the stored upload session and finishes."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.api import register
from tests.support.google import FakeGoogle
from tests.support.process import kadr_up
from tests.support.publishing import connect_youtube, publishing_env, uploaded_video, wait_for_publication
from tests.support.smtp import FakeSmtp
from tests.support.telegram import FakeTelegram

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _process_settings(google: FakeGoogle, telegram: FakeTelegram, smtp: FakeSmtp) -> dict[str, object]:
    return {
        **publishing_env(google, telegram, smtp),
        "job_lease_seconds": 3,
        "job_heartbeat_seconds": 0.5,
        "scheduler_interval_seconds": 0.5,
        "secret_key": "publish-recovery-secret-0123456789abcdef",
        "log_level": "INFO",
    }


def _chunk_puts(google: FakeGoogle) -> int:
    """Upload requests that carried bytes (not status queries)."""
    return sum(
        1
        for r in google.requests
        if r["method"] == "PUT" and not r["headers"].get("content-range", "").startswith("bytes */")
    )


async def test_a_worker_killed_after_youtube_accepted_the_video_does_not_upload_it_again(
    tmp_path: Path,
    sample_video: Path,
    fake_google: FakeGoogle,
    fake_telegram: FakeTelegram,
    fake_smtp: FakeSmtp,
) -> None:
    data_dir = tmp_path / "var"
    log = tmp_path / "kadr.log"
    settings = _process_settings(fake_google, fake_telegram, fake_smtp)
    fake_google.pause_on_complete = threading.Event()

    with kadr_up(data_dir, log, **settings) as (base_url, process):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            headers = await register(client, "killed@example.com")
            channel = await connect_youtube(client, headers, fake_google)
            video = await uploaded_video(client, headers, sample_video)
            response = await client.post(
                "/v1/publications",
                headers=headers,
                json={"channel_id": channel["id"], "video_id": video["id"], "title": "Once only"},
            )
            assert response.status_code == 201, response.text
            publication = response.json()
            accepted = await asyncio.to_thread(fake_google.completed_event.wait, 60)
            assert accepted, f"YouTube never received the whole video:\n{process.output()}"
            process.kill()  # YouTube holds the answer with the video id until now: the worker never saw it
    fake_google.pause_on_complete.set()
    chunk_puts_before = _chunk_puts(fake_google)

    with kadr_up(data_dir, log, **settings) as (base_url, process):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            response = await client.post(
                "/v1/auth/login",
                json={"email": "killed@example.com", "password": "correct horse battery staple"},
            )
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
            done = await wait_for_publication(client, headers, publication["id"], timeout=90)

    assert done["status"] == "published", f"{done}\n{log.read_text()[-3000:]}"
    [uploaded] = fake_google.videos
    assert fake_google.sessions_created == 1
    assert done["external_id"] == uploaded["id"]
    chunk_puts_after = _chunk_puts(fake_google)
    assert chunk_puts_after == chunk_puts_before, "bytes were uploaded again after the restart"
