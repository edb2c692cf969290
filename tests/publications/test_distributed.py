"""Publishing in distributed mode: PostgreSQL + Redis + S3, the API, three workers and two
schedulers as separate OS processes. Due publications are claimed and published exactly
once, and a YouTube channel's uploads stay an interval apart across workers."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import require_service
from tests.support.api import register
from tests.support.google import FakeGoogle
from tests.support.publishing import (
    add_telegram,
    connect_youtube,
    publishing_env,
    sent_videos,
    uploaded_video,
    wait_for_publication,
)
from tests.support.seaweed import S3Server
from tests.support.smtp import FakeSmtp
from tests.support.stack import distributed_stack
from tests.support.telegram import FakeTelegram

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


async def _publish_all(
    base_url: str, video_path: Path, google: FakeGoogle, telegram: FakeTelegram
) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        headers = await register(client, "distributed@example.com")
        youtube = await connect_youtube(client, headers, google)
        chat = await add_telegram(client, headers, telegram)
        video = await uploaded_video(client, headers, video_path)
        # All due at the same instant, a few seconds ahead: the two schedulers race to claim them.
        publish_at = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
        ids = []
        for channel, count in ((youtube, 3), (chat, 10)):
            for n in range(count):
                response = await client.post(
                    "/v1/publications",
                    headers=headers,
                    json={
                        "channel_id": channel["id"],
                        "video_id": video["id"],
                        "title": f"Part {n}",
                        "publish_at": publish_at,
                    },
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
        results = [await wait_for_publication(client, headers, pid, timeout=120) for pid in ids]
    assert [r["status"] for r in results] == ["published"] * len(ids), results
    return ids


def test_due_publications_are_published_exactly_once_across_processes(
    s3_server: S3Server,
    sample_video: Path,
    fake_google: FakeGoogle,
    fake_telegram: FakeTelegram,
    fake_smtp: FakeSmtp,
) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    settings = publishing_env(fake_google, fake_telegram, fake_smtp)
    with distributed_stack("redis", s3_server, workers=3, schedulers=2, **settings) as stack:
        ids = asyncio.run(_publish_all(stack.base_url, sample_video, fake_google, fake_telegram))
        jobs = asyncio.run(_publish_jobs(stack.database_url))

    assert sorted(jobs) == sorted(ids), "each publication got exactly one publish job"
    assert fake_google.sessions_created == 3 and len(fake_google.videos) == 3
    starts = sorted(v["session_created_at"] for v in fake_google.videos)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Slots are claimed an interval apart; each worker then reserves quota and sends one request,
    # so on a loaded machine the sessions YouTube sees start up to a few hundred ms off that beat.
    interval = settings["youtube_upload_interval_seconds"]
    assert all(gap >= interval - 0.3 for gap in gaps), gaps
    assert len(sent_videos(fake_telegram)) == 10


async def _publish_jobs(database_url: str) -> list[str]:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch("SELECT payload FROM jobs WHERE kind = 'publication.publish'")
    finally:
        await connection.close()
    return [json.loads(row["payload"])["publication_id"] for row in rows]
