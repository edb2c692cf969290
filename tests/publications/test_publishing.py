"""Publishing end to end through the API and the embedded worker and scheduler, against
stand-ins that speak YouTube's, Google's and Telegram's real protocols."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kadr.config import Settings
from kadr.core.db import get_database
from kadr.jobs.models import Job
from kadr.publications.duties import dispatch_due_publications
from kadr.publications.models import Publication
from kadr.publications.service import PublicationService
from tests.support.api import register, wait_for_run
from tests.support.google import FakeGoogle
from tests.support.publishing import (
    add_telegram,
    connect_youtube,
    schedule,
    sent_videos,
    uploaded_video,
    wait_for,
    wait_for_publication,
)
from tests.support.smtp import FakeSmtp
from tests.support.telegram import FakeTelegram

pytestmark = pytest.mark.anyio


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_a_scheduled_publication_goes_out_once_at_its_time_with_the_fields_given(
    api: httpx.AsyncClient, fake_google: FakeGoogle, fake_smtp: FakeSmtp, sample_video: Path
) -> None:
    headers = await register(api, "creator@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    publish_at = datetime.now(UTC) + timedelta(seconds=3)
    publication = await schedule(
        api,
        headers,
        channel_id=channel["id"],
        video_id=video["id"],
        publish_at=publish_at.isoformat(),
        title="How kadr cuts clips",
        description="Long form talk.\nSecond line.",
        tags=["video", "ai"],
        privacy="unlisted",
        made_for_kids=False,
        notify_subscribers=False,
    )
    assert publication["status"] == "scheduled"
    await asyncio.sleep(1)
    assert fake_google.sessions_created == 0, "published before its time"

    done = await wait_for_publication(api, headers, publication["id"])
    assert done["status"] == "published", done
    assert datetime.fromisoformat(done["published_at"]) >= publish_at
    [uploaded] = fake_google.videos
    assert fake_google.sessions_created == 1
    assert uploaded["session_created_at"] >= publish_at.timestamp()
    assert uploaded["snippet"]["title"] == "How kadr cuts clips"
    assert uploaded["snippet"]["description"] == "Long form talk.\nSecond line."
    assert uploaded["snippet"]["tags"] == ["video", "ai"]
    assert uploaded["status"]["privacyStatus"] == "unlisted"
    assert uploaded["status"]["selfDeclaredMadeForKids"] is False
    assert uploaded["notify_subscribers"] == "false"
    assert uploaded["sha256"] == hashlib.sha256(sample_video.read_bytes()).hexdigest()
    assert done["external_id"] == uploaded["id"]
    assert done["external_url"] == f"https://www.youtube.com/watch?v={uploaded['id']}"
    assert done["percent"] == 100.0

    # The owner hears about it.
    [mail] = await asyncio.to_thread(fake_smtp.wait_for_messages, 1)
    assert mail["To"] == "creator@example.com"
    assert "How kadr cuts clips" in mail["Subject"]
    assert uploaded["id"] in mail.get_content()


async def test_an_upload_interrupted_by_server_errors_resumes_from_the_received_range(
    api: httpx.AsyncClient, fake_google: FakeGoogle, sample_video: Path
) -> None:
    headers = await register(api, "resume@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    fake_google.keep_partial_next_chunk(100_000)  # the server keeps less than was sent …
    fake_google.fail_next_chunks(2, status=503)  # … and then fails twice
    publication = await schedule(api, headers, channel_id=channel["id"], video_id=video["id"])
    done = await wait_for_publication(api, headers, publication["id"])
    assert done["status"] == "published", done
    [uploaded] = fake_google.videos
    assert fake_google.sessions_created == 1
    assert uploaded["size"] == sample_video.stat().st_size
    assert uploaded["sha256"] == hashlib.sha256(sample_video.read_bytes()).hexdigest()
    status_queries = [
        r
        for r in fake_google.requests
        if r["method"] == "PUT" and r["headers"].get("content-range", "").startswith("bytes */")
    ]
    assert status_queries, "the client never asked the session what it had received"


async def test_publications_due_together_on_one_channel_go_out_an_interval_apart(
    api: httpx.AsyncClient, settings: Settings, fake_google: FakeGoogle, sample_video: Path
) -> None:
    headers = await register(api, "pacing@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    publish_at = _at(1)
    ids = [
        (
            await schedule(
                api,
                headers,
                channel_id=channel["id"],
                video_id=video["id"],
                publish_at=publish_at,
                title=f"Part {n}",
            )
        )["id"]
        for n in range(3)
    ]
    results = [await wait_for_publication(api, headers, pid, timeout=60) for pid in ids]
    assert [r["status"] for r in results] == ["published"] * 3
    starts = sorted(v["session_created_at"] for v in fake_google.videos)
    assert len(starts) == 3
    interval = settings.youtube_upload_interval_seconds
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= interval - 0.05 for gap in gaps), gaps


async def test_two_schedulers_dispatch_each_due_publication_exactly_once(
    api: httpx.AsyncClient, settings: Settings, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(api, "twins@example.com")
    channel = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, sample_video)
    publish_at = _at(2)
    ids = [
        (await schedule(api, headers, channel_id=channel["id"], video_id=video["id"], publish_at=publish_at))[
            "id"
        ]
        for _ in range(10)
    ]
    await asyncio.sleep(2)
    # Many extra schedulers race the embedded one for the same rows.
    await asyncio.gather(*(dispatch_due_publications(settings) for _ in range(8)))
    for pid in ids:
        assert (await wait_for_publication(api, headers, pid))["status"] == "published"
    async with get_database(settings).session() as session:
        jobs = (await session.execute(select(Job).where(Job.kind == "publication.publish"))).scalars().all()
    per_publication: dict[str, int] = {}
    for job in jobs:
        per_publication[job.payload["publication_id"]] = (
            per_publication.get(job.payload["publication_id"], 0) + 1
        )
    assert per_publication == dict.fromkeys(ids, 1)
    videos = sent_videos(fake_telegram)
    assert len(videos) == 10


async def test_the_daily_upload_budget_makes_a_publication_wait_for_the_pacific_reset(
    api: httpx.AsyncClient, settings: Settings, fake_google: FakeGoogle, sample_video: Path
) -> None:
    settings.youtube_daily_uploads = 1  # the embedded worker shares this object
    headers = await register(api, "quota@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    first = await schedule(api, headers, channel_id=channel["id"], video_id=video["id"])
    assert (await wait_for_publication(api, headers, first["id"]))["status"] == "published"
    second = await schedule(api, headers, channel_id=channel["id"], video_id=video["id"])

    async def waiting() -> dict[str, Any] | None:
        state = (await api.get(f"/v1/publications/{second['id']}", headers=headers)).json()
        return state if state["status"] == "queued" and "quota" in (state["status_detail"] or "") else None

    state = await wait_for(waiting, what="the second publication to wait for quota")
    assert "quota" in state["status_detail"] and "midnight Pacific" in state["status_detail"]
    assert fake_google.sessions_created == 1


async def test_youtube_quota_exceeded_waits_instead_of_failing(
    api: httpx.AsyncClient, fake_google: FakeGoogle, sample_video: Path
) -> None:
    headers = await register(api, "quota403@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    fake_google.quota_exceeded = True
    publication = await schedule(api, headers, channel_id=channel["id"], video_id=video["id"])

    async def waiting() -> dict[str, Any] | None:
        state = (await api.get(f"/v1/publications/{publication['id']}", headers=headers)).json()
        return state if state["status_detail"] and "quotaExceeded" in state["status_detail"] else None

    state = await wait_for(waiting, what="the publication to wait for the quota reset")
    assert state["status"] == "queued" and state["error"] is None
    assert fake_google.videos == []


async def test_a_revoked_token_is_caught_before_the_slot_and_the_owner_is_told(
    api: httpx.AsyncClient, fake_google: FakeGoogle, fake_smtp: FakeSmtp, sample_video: Path
) -> None:
    headers = await register(api, "revoked@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    publish_at = datetime.now(UTC) + timedelta(seconds=6)
    publication = await schedule(
        api, headers, channel_id=channel["id"], video_id=video["id"], publish_at=publish_at.isoformat()
    )
    fake_google.revoke_all()

    [mail] = await asyncio.to_thread(fake_smtp.wait_for_messages, 1, 20.0)
    warned_at = time.time()
    assert warned_at < publish_at.timestamp(), "the owner was told only after the slot"
    assert "reconnected" in mail["Subject"]
    assert (await api.get(f"/v1/channels/{channel['id']}", headers=headers)).json()[
        "status"
    ] == "needs_reauth"

    done = await wait_for_publication(api, headers, publication["id"])
    assert done["status"] == "failed"
    assert "reconnect" in done["error"]
    assert fake_google.sessions_created == 0


async def test_telegram_gets_the_video_and_its_retry_after_is_honoured(
    api: httpx.AsyncClient, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(api, "tgpub@example.com")
    channel = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, sample_video)
    fake_telegram.rate_limit_next(1, retry_after=2)
    publication = await schedule(
        api,
        headers,
        channel_id=channel["id"],
        video_id=video["id"],
        title="Clip",
        description="Watch",
        tags=["kadr"],
    )
    done = await wait_for_publication(api, headers, publication["id"])
    assert done["status"] == "published", done
    calls = [r for r in fake_telegram.requests if r["method"] == "sendVideo"]
    assert [c["status"] for c in calls] == [429, 200]
    assert calls[1]["time"] - calls[0]["time"] >= 2.0
    [message] = sent_videos(fake_telegram)
    assert message["caption"] == "Clip\n\nWatch\n\n#kadr"
    assert message["sha256"] == hashlib.sha256(sample_video.read_bytes()).hexdigest()
    assert done["external_url"] == f"https://t.me/kadrclips/{done['external_id']}"


async def test_a_video_over_the_bot_limit_is_refused_up_front(
    api: httpx.AsyncClient, settings: Settings, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    settings.telegram_max_upload_bytes = 100_000
    headers = await register(api, "big@example.com")
    channel = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, sample_video)
    response = await api.post(
        "/v1/publications",
        headers=headers,
        json={"title": "x", "channel_id": channel["id"], "video_id": video["id"]},
    )
    assert response.status_code == 422, response.text
    assert "Telegram bots can send at most" in response.json()["detail"]


async def test_service_dispatch_is_a_no_op_for_future_publications(
    api: httpx.AsyncClient, settings: Settings, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(api, "future@example.com")
    channel = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, sample_video)
    publication = await schedule(
        api, headers, channel_id=channel["id"], video_id=video["id"], publish_at=_at(3600)
    )
    async with get_database(settings).session() as session:
        assert await PublicationService(session, settings).dispatch_due() == 0
        row = await session.get(Publication, publication["id"])
        assert row is not None and row.status == "scheduled"


@pytest.mark.slow
async def test_a_runs_clip_goes_to_youtube_with_its_thumbnail(
    api: httpx.AsyncClient, fake_google: FakeGoogle, sample_video: Path
) -> None:
    headers = await register(api, "clips@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    response = await api.post(
        "/v1/runs",
        headers=headers,
        json={
            "video_id": video["id"],
            "profile": "default",
            "params": {"clips": {"count": 1, "aspects": ["9:16"]}},
        },
    )
    assert response.status_code == 202, response.text
    run = await wait_for_run(api, headers, response.json()["id"])
    assert run["status"] == "succeeded", run
    artifacts = (await api.get(f"/v1/runs/{run['id']}/artifacts", headers=headers)).json()
    clip = next(a for a in artifacts if a["content_type"] == "video/mp4")
    thumbnail = next(a for a in artifacts if a["content_type"].startswith("image/"))

    publication = await schedule(
        api,
        headers,
        channel_id=channel["id"],
        artifact_id=clip["id"],
        thumbnail_artifact_id=thumbnail["id"],
        title="The best minute",
        privacy="public",
        made_for_kids=True,
    )
    done = await wait_for_publication(api, headers, publication["id"])
    assert done["status"] == "published", done
    [uploaded] = fake_google.videos
    assert uploaded["sha256"] == clip["sha256"] and uploaded["size"] == clip["size_bytes"]
    assert uploaded["status"] == {"privacyStatus": "public", "selfDeclaredMadeForKids": True}
    thumbnail_bytes = (await api.get(thumbnail["download_url"])).content
    assert fake_google.thumbnails[uploaded["id"]] == thumbnail_bytes


async def test_a_telegram_post_recorded_by_an_earlier_attempt_is_not_sent_again(
    api: httpx.AsyncClient, settings: Settings, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(api, "posted@example.com")
    channel = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, sample_video)
    publication = await schedule(
        api, headers, channel_id=channel["id"], video_id=video["id"], publish_at=_at(3600)
    )
    # An earlier attempt got Telegram's answer (a chat without a public link) and died before finishing.
    async with get_database(settings).session() as session:
        await PublicationService(session, settings).record(
            publication["id"], external_id="77", external_url=None
        )
    moved = await api.patch(
        f"/v1/publications/{publication['id']}", headers=headers, json={"publish_at": _at(0)}
    )
    assert moved.status_code == 200, moved.text
    done = await wait_for_publication(api, headers, publication["id"])
    assert done["status"] == "published", done
    assert (done["external_id"], done["external_url"]) == ("77", None)
    assert sent_videos(fake_telegram) == []
