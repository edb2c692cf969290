"""The publications API contract: what is refused (and why), who may see and change what, and
what cancelling, rescheduling and retrying do to what actually goes out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from kadr.config import Settings
from kadr.publications.duties import dispatch_due_publications
from tests.support.api import assert_problem, register, wait_for_run
from tests.support.google import FakeGoogle
from tests.support.media import make_audio_only
from tests.support.publishing import (
    add_telegram,
    connect_youtube,
    schedule,
    sent_videos,
    uploaded_video,
    wait_for_publication,
)
from tests.support.telegram import FakeTelegram

pytestmark = pytest.mark.anyio


def _at(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def _total(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> int:
    response = await client.get("/v1/publications", headers=headers, params=params)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


# --- validation -----------------------------------------------------------------------------
async def test_invalid_requests_are_refused_with_the_reason_and_create_nothing(
    client: httpx.AsyncClient, fake_google: FakeGoogle, sample_video: Path
) -> None:
    headers = await register(client, "invalid@example.com")
    channel = await connect_youtube(client, headers, fake_google)
    video = await uploaded_video(client, headers, sample_video)
    valid: dict[str, Any] = {"title": "A talk", "channel_id": channel["id"], "video_id": video["id"]}

    async def refused(body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post("/v1/publications", headers=headers, json=body)
        return assert_problem(response, 422, "validation-failed")

    both = await refused({**valid, "artifact_id": "art_whatever"})
    assert "exactly one of video_id or artifact_id" in both["detail"]
    neither = await refused({"title": "A talk", "channel_id": channel["id"]})
    assert "exactly one of video_id or artifact_id" in neither["detail"]

    naive = await refused({**valid, "publish_at": "2030-01-01T10:00:00"})
    assert naive["errors"][0]["loc"][-1] == "publish_at"
    assert "timezone" in naive["detail"]

    too_long = await refused({**valid, "title": "x" * 101})
    assert too_long["errors"][0]["loc"][-1] == "title"
    assert "100" in too_long["detail"]
    empty = await refused({**valid, "title": ""})
    assert empty["errors"][0]["loc"][-1] == "title"

    privacy = await refused({**valid, "privacy": "friends"})
    assert privacy["errors"][0]["loc"][-1] == "privacy"
    assert "'private', 'unlisted' or 'public'" in privacy["detail"]

    angle_title = await refused({**valid, "title": "Why a < b"})
    assert angle_title["field"] == "title"
    assert "YouTube does not accept < or >" in angle_title["detail"]
    angle_description = await refused({**valid, "description": "see <here>"})
    assert angle_description["field"] == "description"

    assert await _total(client, headers) == 0
    # The same fields without the mistakes are accepted.
    assert (await schedule(client, headers, **valid))["status"] in ("queued", "scheduled")


async def test_an_upload_without_a_video_stream_cannot_be_published(
    client: httpx.AsyncClient, fake_google: FakeGoogle, sample_video: Path, tmp_path: Path
) -> None:
    headers = await register(client, "audio@example.com")
    channel = await connect_youtube(client, headers, fake_google)
    audio = await uploaded_video(client, headers, make_audio_only(tmp_path / "talk.m4a", sample_video))
    response = await client.post(
        "/v1/publications",
        headers=headers,
        json={"title": "A talk", "channel_id": channel["id"], "video_id": audio["id"]},
    )
    body = assert_problem(response, 422, "validation-failed")
    assert body["field"] == "video_id"
    assert "no video stream" in body["detail"]
    assert await _total(client, headers) == 0


async def test_only_video_artifacts_are_published_and_only_images_are_thumbnails(
    api: httpx.AsyncClient, fake_google: FakeGoogle, sample_video: Path
) -> None:
    headers = await register(api, "artifacts@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    created = await api.post(
        "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
    )
    assert created.status_code == 202, created.text
    run = await wait_for_run(api, headers, created.json()["id"])
    assert run["status"] == "succeeded", run
    artifacts = (await api.get(f"/v1/runs/{run['id']}/artifacts", headers=headers)).json()
    srt = next(a for a in artifacts if a["name"].endswith(".srt"))

    as_video = await api.post(
        "/v1/publications",
        headers=headers,
        json={"title": "Subtitles", "channel_id": channel["id"], "artifact_id": srt["id"]},
    )
    body = assert_problem(as_video, 422, "validation-failed")
    assert body["field"] == "artifact_id" and "not a video" in body["detail"]

    as_thumbnail = await api.post(
        "/v1/publications",
        headers=headers,
        json={
            "title": "A talk",
            "channel_id": channel["id"],
            "video_id": video["id"],
            "thumbnail_artifact_id": srt["id"],
        },
    )
    body = assert_problem(as_thumbnail, 422, "validation-failed")
    assert body["field"] == "thumbnail_artifact_id" and "image" in body["detail"]

    # Someone else's artifact does not exist for this user.
    stranger = await register(api, "artifact-stranger@example.com")
    their_channel = await connect_youtube(api, stranger, fake_google, account="stranger")
    foreign = await api.post(
        "/v1/publications",
        headers=stranger,
        json={"title": "Mine?", "channel_id": their_channel["id"], "artifact_id": srt["id"]},
    )
    assert_problem(foreign, 404)
    assert await _total(api, headers) == 0
    assert await _total(api, stranger) == 0
    assert fake_google.sessions_created == 0


# --- isolation ------------------------------------------------------------------------------
async def test_other_users_channels_videos_and_publications_answer_404(
    client: httpx.AsyncClient, fake_google: FakeGoogle, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    owner = await register(client, "owner@example.com")
    stranger = await register(client, "stranger@example.com")
    channel = await connect_youtube(client, owner, fake_google)
    video = await uploaded_video(client, owner, sample_video)
    publication = await schedule(
        client,
        owner,
        channel_id=channel["id"],
        video_id=video["id"],
        title="Owner's talk",
        publish_at=_at(3600).isoformat(),
    )
    their_channel = await add_telegram(client, stranger, fake_telegram, chat_id=-100777)
    their_video = await uploaded_video(client, stranger, sample_video)

    # Creating with someone else's channel or video.
    for body in (
        {"channel_id": channel["id"], "video_id": their_video["id"]},
        {"channel_id": their_channel["id"], "video_id": video["id"]},
    ):
        response = await client.post("/v1/publications", headers=stranger, json={"title": "x", **body})
        assert_problem(response, 404)

    # Reading and changing someone else's publication.
    path = f"/v1/publications/{publication['id']}"
    hijack = {"title": "Hijacked", "publish_at": _at(5).isoformat()}
    for method, url, change in (
        ("GET", path, None),
        ("PATCH", path, hijack),
        ("POST", f"{path}/cancel", None),
        ("POST", f"{path}/retry", None),
    ):
        assert_problem(await client.request(method, url, headers=stranger, json=change), 404)

    # Lists are scoped, whatever the filter.
    assert await _total(client, stranger) == 0
    assert await _total(client, stranger, channel_id=channel["id"]) == 0
    assert await _total(client, stranger, status="scheduled") == 0
    assert await _total(client, owner) == 1

    unchanged = (await client.get(path, headers=owner)).json()
    assert unchanged["status"] == "scheduled"
    assert unchanged["title"] == "Owner's talk"
    assert unchanged["publish_at"] == publication["publish_at"]


async def test_a_channel_that_needs_reconnecting_refuses_new_publications(
    client: httpx.AsyncClient, fake_google: FakeGoogle, sample_video: Path
) -> None:
    headers = await register(client, "reauth@example.com")
    channel = await connect_youtube(client, headers, fake_google)
    video = await uploaded_video(client, headers, sample_video)
    fake_google.revoke_all()
    checked = (await client.post(f"/v1/channels/{channel['id']}/check", headers=headers)).json()
    assert checked["status"] == "needs_reauth"

    response = await client.post(
        "/v1/publications",
        headers=headers,
        json={"title": "A talk", "channel_id": channel["id"], "video_id": video["id"]},
    )
    body = assert_problem(response, 409, "channel-unusable")
    assert "reconnect" in body["detail"]
    assert await _total(client, headers) == 0

    await connect_youtube(client, headers, fake_google)  # repairs the channel in place
    await schedule(
        client, headers, channel_id=channel["id"], video_id=video["id"], publish_at=_at(3600).isoformat()
    )


# --- cancel, reschedule, retry ----------------------------------------------------------------
async def test_a_cancelled_publication_never_goes_out_and_cannot_be_changed(
    api: httpx.AsyncClient, settings: Settings, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(api, "cancel@example.com")
    channel = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, sample_video)
    publish_at = _at(2)
    publication = await schedule(
        api, headers, channel_id=channel["id"], video_id=video["id"], publish_at=publish_at.isoformat()
    )
    path = f"/v1/publications/{publication['id']}"

    cancelled = await api.post(f"{path}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    assert (
        "scheduled"
        in assert_problem(
            await api.patch(path, headers=headers, json={"publish_at": _at(1).isoformat()}), 409
        )["detail"]
    )
    assert_problem(await api.post(f"{path}/cancel", headers=headers), 409)
    assert_problem(await api.post(f"{path}/retry", headers=headers), 409)

    # Well past its time, with the embedded scheduler and an extra one sweeping: nothing goes out.
    await asyncio.sleep(max(0.0, (publish_at - datetime.now(UTC)).total_seconds()) + 1.5)
    assert await dispatch_due_publications(settings) == 0
    await asyncio.sleep(0.5)
    state = (await api.get(path, headers=headers)).json()
    assert state["status"] == "cancelled"
    assert state["published_at"] is None and state["external_id"] is None
    assert sent_videos(fake_telegram) == []


async def test_a_published_publication_cannot_be_cancelled_changed_or_retried(
    api: httpx.AsyncClient, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(api, "done@example.com")
    channel = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, sample_video)
    publication = await schedule(api, headers, channel_id=channel["id"], video_id=video["id"])
    done = await wait_for_publication(api, headers, publication["id"])
    assert done["status"] == "published", done
    path = f"/v1/publications/{publication['id']}"

    body = assert_problem(await api.post(f"{path}/cancel", headers=headers), 409)
    assert "published" in body["detail"]
    assert_problem(await api.patch(path, headers=headers, json={"title": "Too late"}), 409)
    assert_problem(await api.post(f"{path}/retry", headers=headers), 409)
    after = (await api.get(path, headers=headers)).json()
    assert after["status"] == "published" and after["title"] == "A talk"
    assert len(sent_videos(fake_telegram)) == 1


async def test_rescheduling_changes_when_and_what_goes_out(
    api: httpx.AsyncClient, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(api, "reschedule@example.com")
    channel = await add_telegram(api, headers, fake_telegram)
    video = await uploaded_video(api, headers, sample_video)
    later = await schedule(
        api,
        headers,
        channel_id=channel["id"],
        video_id=video["id"],
        title="Old title",
        publish_at=_at(3600).isoformat(),
    )
    soon = await schedule(
        api,
        headers,
        channel_id=channel["id"],
        video_id=video["id"],
        title="Was due soon",
        publish_at=_at(1).isoformat(),
    )
    # Postpone the one that was due soon; bring the other one forward with a new title.
    postponed = await api.patch(
        f"/v1/publications/{soon['id']}", headers=headers, json={"publish_at": _at(3600).isoformat()}
    )
    assert postponed.status_code == 200, postponed.text
    new_time = _at(2)
    moved = await api.patch(
        f"/v1/publications/{later['id']}",
        headers=headers,
        json={"publish_at": new_time.isoformat(), "title": "New title", "description": "Fresh"},
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["publish_at"]) == new_time
    assert moved.json()["title"] == "New title" and moved.json()["description"] == "Fresh"
    assert moved.json()["status"] == "scheduled"

    # Refused changes leave it as it is.
    assert_problem(
        await api.patch(
            f"/v1/publications/{later['id']}", headers=headers, json={"publish_at": "2030-01-01T10:00:00"}
        ),
        422,
    )
    assert_problem(
        await api.patch(f"/v1/publications/{later['id']}", headers=headers, json={"title": "y" * 101}), 422
    )

    done = await wait_for_publication(api, headers, later["id"])
    assert done["status"] == "published", done
    assert datetime.fromisoformat(done["published_at"]) >= new_time
    [sent] = sent_videos(fake_telegram)
    assert sent["time"] >= new_time.timestamp()
    assert sent["caption"] == "New title\n\nFresh"

    await asyncio.sleep(1.0)
    still = (await api.get(f"/v1/publications/{soon['id']}", headers=headers)).json()
    assert still["status"] == "scheduled", "the postponed publication went out at its old time"
    assert len(sent_videos(fake_telegram)) == 1


async def test_a_failed_publication_is_retried_after_reconnecting_and_uploaded_once(
    api: httpx.AsyncClient, fake_google: FakeGoogle, sample_video: Path
) -> None:
    headers = await register(api, "retry@example.com")
    channel = await connect_youtube(api, headers, fake_google)
    video = await uploaded_video(api, headers, sample_video)
    fake_google.revoke_all()  # the user removed kadr's access in their Google account
    publication = await schedule(api, headers, channel_id=channel["id"], video_id=video["id"])
    failed = await wait_for_publication(api, headers, publication["id"])
    assert failed["status"] == "failed", failed
    assert "reconnect" in failed["error"]
    assert fake_google.videos == []
    path = f"/v1/publications/{publication['id']}"

    # Retrying before the channel is repaired cannot help, and says so.
    body = assert_problem(await api.post(f"{path}/retry", headers=headers), 409, "channel-unusable")
    assert "reconnect" in body["detail"]
    assert (await api.get(path, headers=headers)).json()["status"] == "failed"

    repaired = await connect_youtube(api, headers, fake_google)
    assert repaired["id"] == channel["id"] and repaired["status"] == "ok"
    retried = await api.post(f"{path}/retry", headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] in ("queued", "publishing", "published")
    assert retried.json()["error"] is None

    done = await wait_for_publication(api, headers, publication["id"])
    assert done["status"] == "published", done
    assert done["error"] is None
    [uploaded] = fake_google.videos
    assert done["external_id"] == uploaded["id"]
    assert fake_google.sessions_created == 1
    assert_problem(await api.post(f"{path}/retry", headers=headers), 409)


# --- lists and idempotency --------------------------------------------------------------------
async def test_lists_filter_by_status_channel_and_time_and_paginate(
    client: httpx.AsyncClient, fake_google: FakeGoogle, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(client, "lists@example.com")
    youtube = await connect_youtube(client, headers, fake_google)
    telegram = await add_telegram(client, headers, fake_telegram)
    video = await uploaded_video(client, headers, sample_video)
    base = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    created = [
        await schedule(
            client,
            headers,
            channel_id=(youtube if n % 2 == 0 else telegram)["id"],
            video_id=video["id"],
            title=f"Part {n}",
            publish_at=(base + timedelta(hours=n)).isoformat(),
        )
        for n in (3, 0, 4, 1, 2)  # created out of order: lists go by publish_at
    ]
    by_title = {p["title"]: p["id"] for p in created}
    ids = [by_title[f"Part {n}"] for n in range(5)]
    cancelled = await client.post(f"/v1/publications/{ids[1]}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text

    async def listed(**params: Any) -> tuple[list[str], int]:
        response = await client.get("/v1/publications", headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        return [p["id"] for p in page["items"]], page["total"]

    assert await listed() == (ids, 5)
    assert await listed(status="cancelled") == ([ids[1]], 1)
    assert await listed(status="scheduled") == ([ids[0], ids[2], ids[3], ids[4]], 4)
    assert await listed(channel_id=telegram["id"]) == ([ids[1], ids[3]], 2)
    assert await listed(channel_id=youtube["id"], status="scheduled") == ([ids[0], ids[2], ids[4]], 3)

    # publish_after is inclusive, publish_before exclusive; any timezone means the same instant.
    after, before = base + timedelta(hours=1), base + timedelta(hours=3)
    assert await listed(publish_after=after.isoformat(), publish_before=before.isoformat()) == (
        ids[1:3],
        2,
    )
    plus_two = timezone(timedelta(hours=2))
    assert await listed(
        publish_after=after.astimezone(plus_two).isoformat(),
        publish_before=before.astimezone(plus_two).isoformat(),
    ) == (ids[1:3], 2)
    assert await listed(publish_after=(base + timedelta(hours=4)).isoformat()) == ([ids[4]], 1)
    naive = await client.get(
        "/v1/publications", headers=headers, params={"publish_after": "2030-01-01T10:00:00"}
    )
    assert "publish_after" in str(assert_problem(naive, 422)["errors"][0]["loc"])

    # Pages.
    first = (await client.get("/v1/publications", headers=headers, params={"limit": 2})).json()
    assert [p["id"] for p in first["items"]] == ids[:2]
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    last = (await client.get("/v1/publications", headers=headers, params={"limit": 2, "offset": 4})).json()
    assert [p["id"] for p in last["items"]] == ids[4:]
    assert (last["total"], last["limit"], last["offset"]) == (5, 2, 4)
    beyond = (await client.get("/v1/publications", headers=headers, params={"offset": 10})).json()
    assert beyond["items"] == [] and beyond["total"] == 5
    assert_problem(await client.get("/v1/publications", headers=headers, params={"limit": 0}), 422)
    assert_problem(await client.get("/v1/publications", headers=headers, params={"limit": 201}), 422)


async def test_an_idempotency_key_makes_a_repeated_request_create_one_publication(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(client, "idem@example.com")
    channel = await add_telegram(client, headers, fake_telegram)
    video = await uploaded_video(client, headers, sample_video)
    body = {
        "title": "Once",
        "channel_id": channel["id"],
        "video_id": video["id"],
        "publish_at": _at(3600).isoformat(),
    }
    keyed = {**headers, "Idempotency-Key": "pub-key-1"}

    first = await client.post("/v1/publications", headers=keyed, json=body)
    again = await client.post("/v1/publications", headers=keyed, json=body)
    assert first.status_code == 201, first.text
    assert again.status_code in (200, 201), again.text
    assert again.json()["id"] == first.json()["id"]
    assert await _total(client, headers) == 1

    # A client retrying while its first attempt is still in flight gets one publication too.
    racing = {**headers, "Idempotency-Key": "pub-key-2"}
    answers = await asyncio.gather(
        *(client.post("/v1/publications", headers=racing, json=body) for _ in range(3))
    )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _total(client, headers) == 2

    # Another key is another publication; keys are per user.
    other = await client.post("/v1/publications", headers={**headers, "Idempotency-Key": "k3"}, json=body)
    assert other.status_code == 201 and other.json()["id"] not in (first.json()["id"],)
    assert await _total(client, headers) == 3
    stranger = await register(client, "idem-stranger@example.com")
    their_channel = await add_telegram(client, stranger, fake_telegram, chat_id=-100555)
    their_video = await uploaded_video(client, stranger, sample_video)
    theirs = await client.post(
        "/v1/publications",
        headers={**stranger, "Idempotency-Key": "pub-key-1"},
        json={**body, "channel_id": their_channel["id"], "video_id": their_video["id"]},
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert await _total(client, stranger) == 1


async def test_an_idempotency_key_binds_the_request_and_an_empty_one_is_none(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(client, "idem-body@example.com")
    channel = await add_telegram(client, headers, fake_telegram)
    video = await uploaded_video(client, headers, sample_video)
    body = {
        "title": "Once",
        "channel_id": channel["id"],
        "video_id": video["id"],
        "publish_at": _at(3600).isoformat(),
    }
    keyed = {**headers, "Idempotency-Key": "pub-body"}
    first = await client.post("/v1/publications", headers=keyed, json=body)
    assert first.status_code == 201, first.text
    changed = await client.post("/v1/publications", headers=keyed, json={**body, "title": "Twice"})
    assert_problem(changed, 422, "idempotency-key-reused")
    assert await _total(client, headers) == 1

    unkeyed = [
        await client.post("/v1/publications", headers={**headers, "Idempotency-Key": ""}, json=body)
        for _ in range(2)
    ]
    assert [a.status_code for a in unkeyed] == [201, 201], [a.text for a in unkeyed]
    assert unkeyed[0].json()["id"] != unkeyed[1].json()["id"]
    assert await _total(client, headers) == 3
