"""Notification settings and the event log over HTTP: defaults, validation of the channels a
user names, and an event log that is each user's own, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from kadr.config import Settings
from tests.support.api import assert_problem, register, upload
from tests.support.google import FakeGoogle
from tests.support.publishing import add_telegram, add_webhook, connect_youtube, wait_for_publication
from tests.support.telegram import FakeTelegram

pytestmark = pytest.mark.anyio

ALL_EVENTS = [
    "run.succeeded",
    "run.failed",
    "run.dead",
    "run.awaiting_review",
    "publication.published",
    "publication.failed",
    "channel.needs_reauth",
    "scenario.generated",
    "scenario.shared",
]


async def _webhook(client: httpx.AsyncClient, headers: dict[str, str], name: str = "ci") -> dict[str, Any]:
    return await add_webhook(client, headers, "http://127.0.0.1:9/hook", name)


async def test_defaults_are_every_event_by_email_to_the_account(client: httpx.AsyncClient) -> None:
    headers = await register(client, "defaults@example.com")
    response = await client.get("/v1/notification-settings", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "events": ALL_EVENTS,
        "email_enabled": True,
        "email_address": None,
        "email_available": True,
        "telegram_channel_ids": [],
        "webhook_channel_ids": [],
        "updated_at": None,
    }
    assert_problem(await client.get("/v1/notification-settings"), 401)


async def test_email_is_reported_unavailable_without_smtp(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    client._transport.app.state.settings = Settings(  # type: ignore[attr-defined]
        **{**settings.model_dump(), "smtp_host": ""}
    )
    headers = await register(client, "nosmtp@example.com")
    assert (await client.get("/v1/notification-settings", headers=headers)).json()["email_available"] is False


async def test_settings_are_stored_and_read_back(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    headers = await register(client, "prefs@example.com")
    telegram = await add_telegram(client, headers, fake_telegram)
    webhook = await _webhook(client, headers)
    response = await client.put(
        "/v1/notification-settings",
        headers=headers,
        json={
            "events": ["publication.failed", "run.failed", "run.failed"],
            "email_enabled": False,
            "email_address": "alerts@example.com",
            "telegram_channel_ids": [telegram["id"], telegram["id"]],
            "webhook_channel_ids": [webhook["id"]],
        },
    )
    assert response.status_code == 200, response.text
    stored = response.json()
    assert sorted(stored["events"]) == ["publication.failed", "run.failed"]
    assert stored["email_enabled"] is False
    assert stored["email_address"] == "alerts@example.com"
    assert stored["telegram_channel_ids"] == [telegram["id"]]
    assert stored["webhook_channel_ids"] == [webhook["id"]]
    assert stored["updated_at"] is not None
    assert (await client.get("/v1/notification-settings", headers=headers)).json() == stored

    # Settings are per user.
    other = await register(client, "prefs-other@example.com")
    assert (await client.get("/v1/notification-settings", headers=other)).json()["events"] == ALL_EVENTS


async def test_unknown_or_foreign_channels_and_unknown_events_are_refused(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    headers = await register(client, "strict@example.com")
    stranger = await register(client, "strict-stranger@example.com")
    mine = await add_telegram(client, headers, fake_telegram)
    my_webhook = await _webhook(client, headers)
    theirs = await add_telegram(client, stranger, fake_telegram, chat_id=-100321)
    their_webhook = await _webhook(client, stranger)
    before = (await client.get("/v1/notification-settings", headers=headers)).json()

    for body, field in (
        ({"telegram_channel_ids": [theirs["id"]]}, "telegram_channel_ids"),
        ({"telegram_channel_ids": [mine["id"], "chn_does_not_exist"]}, "telegram_channel_ids"),
        ({"webhook_channel_ids": [their_webhook["id"]]}, "webhook_channel_ids"),
        ({"webhook_channel_ids": ["chn_does_not_exist"]}, "webhook_channel_ids"),
        # A channel of the wrong kind is no channel of that kind.
        ({"webhook_channel_ids": [mine["id"]]}, "webhook_channel_ids"),
        ({"telegram_channel_ids": [my_webhook["id"]]}, "telegram_channel_ids"),
    ):
        problem = assert_problem(
            await client.put("/v1/notification-settings", headers=headers, json=body), 422
        )
        assert problem["field"] == field, problem
        assert "/v1/channels" in problem["detail"]

    unknown_event = assert_problem(
        await client.put("/v1/notification-settings", headers=headers, json={"events": ["run.exploded"]}),
        422,
    )
    assert unknown_event["errors"][0]["loc"][:2] == ["body", "events"]
    bad_address = assert_problem(
        await client.put("/v1/notification-settings", headers=headers, json={"email_address": "nope"}),
        422,
    )
    assert bad_address["errors"][0]["loc"][-1] == "email_address"

    assert (await client.get("/v1/notification-settings", headers=headers)).json() == before


async def test_the_event_log_is_per_user_newest_first_and_filters_by_type(
    api: httpx.AsyncClient, fake_google: FakeGoogle, fake_telegram: FakeTelegram, sample_video: Path
) -> None:
    headers = await register(api, "events@example.com")
    stranger = await register(api, "events-stranger@example.com")
    telegram = await add_telegram(api, headers, fake_telegram)
    video = (await upload(api, headers, sample_video)).json()

    # 1. A publication fails: the bot was removed from the chat.
    fake_telegram.block(telegram["external_id"])
    publication = (
        await api.post(
            "/v1/publications",
            headers=headers,
            json={"title": "Blocked", "channel_id": telegram["id"], "video_id": video["id"]},
        )
    ).json()
    failed = await wait_for_publication(api, headers, publication["id"])
    assert failed["status"] == "failed" and "blocked" in failed["error"]
    # 2. Then a YouTube channel loses its authorization.
    youtube = await connect_youtube(api, headers, fake_google)
    fake_google.revoke_all()
    await api.post(f"/v1/channels/{youtube['id']}/check", headers=headers)

    async def events(who: dict[str, str], **params: Any) -> dict[str, Any]:
        response = await api.get("/v1/events", headers=who, params=params)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    page = await events(headers)
    types = [e["type"] for e in page["items"]]
    # Telegram refusing the bot also marks that channel for attention: one event each.
    assert types.count("publication.failed") == 1 and types[0] == "channel.needs_reauth"
    assert types.index("channel.needs_reauth") < types.index("publication.failed")
    created = [datetime.fromisoformat(e["created_at"]) for e in page["items"]]
    assert created == sorted(created, reverse=True)
    assert page["total"] == len(types)

    [published_failure] = (await events(headers, type="publication.failed"))["items"]
    assert published_failure["subject_id"] == publication["id"]
    assert published_failure["data"]["publication_id"] == publication["id"]
    assert "blocked" in published_failure["data"]["error"]
    reauth = (await events(headers, type="channel.needs_reauth"))["items"]
    assert youtube["id"] in [e["subject_id"] for e in reauth]
    assert all(e["type"] == "channel.needs_reauth" for e in reauth)
    assert (await events(headers, type="run.succeeded")) == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }

    # `since` takes an instant in any timezone; without one it is refused, not misread.
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert (await events(headers, since=later.isoformat()))["total"] == 0
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).astimezone(timezone(timedelta(hours=-7)))
    assert (await events(headers, since=earlier.isoformat()))["total"] == page["total"]
    naive = await api.get("/v1/events", headers=headers, params={"since": "2030-01-01T10:00:00"})
    assert_problem(naive, 422)

    # Pages and scope.
    first = await events(headers, limit=1)
    assert [e["id"] for e in first["items"]] == [page["items"][0]["id"]]
    assert first["total"] == page["total"]
    # The stranger's log holds nothing of ours: only their own welcome.
    assert [e["type"] for e in (await events(stranger))["items"]] == ["user.registered"]
