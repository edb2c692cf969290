"""Notifications delivered by the embedded worker: email to a real SMTP server, Telegram
messages, and Standard Webhooks POSTs to a real HTTP receiver that verifies signatures with
its own code; retries with backoff, permanent failures, and opting out."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kadr.config import Settings
from kadr.core.db import get_database
from kadr.storage import get_storage
from kadr.videos.models import Video
from tests.support.api import register, upload, wait_for_run
from tests.support.google import FakeGoogle
from tests.support.publishing import add_telegram, add_webhook, connect_youtube, wait_for
from tests.support.smtp import FakeSmtp
from tests.support.telegram import FakeTelegram
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.anyio

PLACEHOLDER_SECRET = "whsec_" + "A" * 32


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(PLACEHOLDER_SECRET) as server:
        yield server


async def _webhook(api: httpx.AsyncClient, headers: dict[str, str], receiver: Receiver) -> dict[str, Any]:
    channel = await add_webhook(api, headers, receiver.url)
    receiver.secret = channel["signing_secret"]
    return channel


async def _notify(api: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> None:
    response = await api.put("/v1/notification-settings", headers=headers, json=body)
    assert response.status_code == 200, response.text


async def _lose_youtube_authorization(
    api: httpx.AsyncClient, headers: dict[str, str], google: FakeGoogle
) -> dict[str, Any]:
    """Emit `channel.needs_reauth` (cheaply, from the request itself)."""
    channel = await connect_youtube(api, headers, google)
    google.revoke_all()
    checked = (await api.post(f"/v1/channels/{channel['id']}/check", headers=headers)).json()
    assert checked["status"] == "needs_reauth", checked
    return channel


async def _settled_event(
    api: httpx.AsyncClient, headers: dict[str, str], event_type: str, deliveries: int, timeout: float = 30.0
) -> dict[str, Any]:
    """The one event of this type, once it has `deliveries` deliveries and none is pending."""

    async def settled() -> dict[str, Any] | None:
        response = await api.get("/v1/events", headers=headers, params={"type": event_type})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        if len(items) != 1:
            return None
        event: dict[str, Any] = items[0]
        found = event["deliveries"]
        if len(found) == deliveries and all(d["status"] != "pending" for d in found):
            return event
        return None

    event: dict[str, Any] = await wait_for(settled, timeout, f"{event_type} to be delivered")
    return event


def _by_transport(event: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["transport"]: d for d in event["deliveries"]}


async def test_a_finished_run_is_told_by_email_telegram_and_a_signed_webhook(
    api: httpx.AsyncClient,
    fake_smtp: FakeSmtp,
    fake_telegram: FakeTelegram,
    receiver: Receiver,
    sample_video: Path,
) -> None:
    headers = await register(api, "runner@example.com")
    telegram = await add_telegram(api, headers, fake_telegram)
    webhook = await _webhook(api, headers, receiver)
    await _notify(api, headers, telegram_channel_ids=[telegram["id"]], webhook_channel_ids=[webhook["id"]])
    video = (await upload(api, headers, sample_video)).json()
    created = await api.post(
        "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
    )
    assert created.status_code == 202, created.text
    run = await wait_for_run(api, headers, created.json()["id"])
    assert run["status"] == "succeeded", run

    event = await _settled_event(api, headers, "run.succeeded", 3)
    assert event["subject_id"] == run["id"]
    assert event["data"]["run_id"] == run["id"] and event["data"]["filename"] == "talk.mp4"
    deliveries = _by_transport(event)
    assert {t: d["status"] for t, d in deliveries.items()} == dict.fromkeys(
        ("email", "telegram", "webhook"), "delivered"
    )
    assert all(d["attempts"] == 1 and d["last_error"] is None for d in deliveries.values())
    assert deliveries["email"]["target"] == "runner@example.com"
    assert deliveries["telegram"]["target"] == telegram["id"]
    assert deliveries["webhook"]["target"] == webhook["id"]

    [mail] = await asyncio.to_thread(fake_smtp.wait_for_messages, 1)
    assert mail["To"] == "runner@example.com"
    assert "Run finished" in mail["Subject"] and "talk.mp4" in mail["Subject"]
    assert event["id"] in mail.get_content()

    [message] = [m for m in fake_telegram.messages if m["method"] == "sendMessage"]
    assert message["chat_id"] == int(telegram["external_id"])
    assert "Run finished" in message["text"] and "talk.mp4" in message["text"]

    [post] = receiver.received
    assert post["valid"], "the signature does not verify with the channel's secret"
    assert post["fresh"]
    assert post["headers"]["webhook-id"] == deliveries["webhook"]["id"]
    body = post["json"]
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "run.succeeded"
    assert datetime.fromisoformat(body["timestamp"]) == datetime.fromisoformat(event["created_at"])
    assert body["data"]["run_id"] == run["id"]
    assert body["data"]["event_id"] == event["id"]
    assert body["data"]["filename"] == "talk.mp4"


async def test_a_failing_webhook_is_retried_with_backoff_under_one_message_id(
    api: httpx.AsyncClient, settings: Settings, fake_google: FakeGoogle, receiver: Receiver
) -> None:
    headers = await register(api, "flaky@example.com")
    webhook = await _webhook(api, headers, receiver)
    await _notify(api, headers, email_enabled=False, webhook_channel_ids=[webhook["id"]])
    receiver.next_statuses = [500, 500]
    await _lose_youtube_authorization(api, headers, fake_google)

    event = await _settled_event(api, headers, "channel.needs_reauth", 1)
    [delivery] = event["deliveries"]
    assert delivery["transport"] == "webhook"
    assert delivery["status"] == "delivered", delivery
    assert delivery["attempts"] == 3
    assert delivery["last_error"] is None and delivery["delivered_at"] is not None

    posts = receiver.received
    assert [p["status"] for p in posts] == [500, 500, 204]
    assert {p["headers"]["webhook-id"] for p in posts} == {delivery["id"]}
    assert all(p["valid"] for p in posts)
    assert all(p["json"] == posts[0]["json"] for p in posts), "a retry must carry the same payload"
    # Full-jitter backoff waits at least half of base * 2^(attempt-1) before each retry.
    base = settings.job_backoff_base_seconds
    gaps = [later["time"] - earlier["time"] for earlier, later in itertools.pairwise(posts)]
    assert gaps[0] >= base / 2 and gaps[1] >= base, gaps


async def test_a_webhook_that_refuses_the_delivery_is_not_retried(
    api: httpx.AsyncClient, fake_google: FakeGoogle, receiver: Receiver
) -> None:
    headers = await register(api, "refused@example.com")
    webhook = await _webhook(api, headers, receiver)
    await _notify(api, headers, email_enabled=False, webhook_channel_ids=[webhook["id"]])
    receiver.status = 400
    await _lose_youtube_authorization(api, headers, fake_google)

    event = await _settled_event(api, headers, "channel.needs_reauth", 1)
    [delivery] = event["deliveries"]
    assert delivery["status"] == "failed", delivery
    assert "400" in delivery["last_error"]
    assert delivery["attempts"] == 1 and delivery["delivered_at"] is None
    await asyncio.sleep(1.5)  # many backoff periods
    assert len(receiver.received) == 1


async def test_a_rejected_email_address_fails_once_with_the_servers_reason(
    api: httpx.AsyncClient, fake_google: FakeGoogle, fake_smtp: FakeSmtp
) -> None:
    headers = await register(api, "bounce@example.com")
    await _notify(api, headers, email_address="gone@example.com")
    fake_smtp.reject("gone@example.com")
    await _lose_youtube_authorization(api, headers, fake_google)

    event = await _settled_event(api, headers, "channel.needs_reauth", 1)
    [delivery] = event["deliveries"]
    assert delivery["transport"] == "email" and delivery["target"] == "gone@example.com"
    assert delivery["status"] == "failed", delivery
    assert "550" in delivery["last_error"] and "gone@example.com" in delivery["last_error"]
    await asyncio.sleep(1.5)
    [again] = (await api.get("/v1/events", headers=headers)).json()["items"][0]["deliveries"]
    assert again["attempts"] == 1 and again["status"] == "failed"
    assert fake_smtp.messages == []


async def test_events_the_user_did_not_subscribe_to_are_logged_but_not_sent(
    api: httpx.AsyncClient,
    fake_google: FakeGoogle,
    fake_smtp: FakeSmtp,
    fake_telegram: FakeTelegram,
    receiver: Receiver,
) -> None:
    headers = await register(api, "quiet@example.com")
    telegram = await add_telegram(api, headers, fake_telegram)
    webhook = await _webhook(api, headers, receiver)
    targets = {"telegram_channel_ids": [telegram["id"]], "webhook_channel_ids": [webhook["id"]]}
    await _notify(api, headers, events=["run.failed", "publication.failed"], **targets)
    channel = await _lose_youtube_authorization(api, headers, fake_google)

    await asyncio.sleep(1.5)
    [event, welcome] = (await api.get("/v1/events", headers=headers)).json()["items"]
    assert event["type"] == "channel.needs_reauth"
    assert event["deliveries"] == []
    assert welcome["type"] == "user.registered" and welcome["deliveries"] == []
    assert fake_smtp.messages == [] and receiver.received == []
    assert [m for m in fake_telegram.messages if m["method"] == "sendMessage"] == []

    # Subscribed again, the next such event reaches every target.
    await _notify(api, headers, events=["channel.needs_reauth"], **targets)
    await connect_youtube(api, headers, fake_google)
    fake_google.revoke_all()
    await api.post(f"/v1/channels/{channel['id']}/check", headers=headers)

    async def both_logged() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await api.get("/v1/events", headers=headers)).json()["items"]
        if len(items) == 3 and all(d["status"] == "delivered" for d in items[0]["deliveries"]):
            return items
        return None

    newest, oldest, _welcome = await wait_for(both_logged, what="the second event to be delivered")
    assert sorted(d["transport"] for d in newest["deliveries"]) == ["email", "telegram", "webhook"]
    assert oldest["deliveries"] == []
    assert len(fake_smtp.messages) == 1 and len(receiver.received) == 1


async def test_a_failed_run_is_told_with_its_error(
    api: httpx.AsyncClient, settings: Settings, fake_smtp: FakeSmtp, sample_video: Path
) -> None:
    headers = await register(api, "broken@example.com")
    video = (await upload(api, headers, sample_video)).json()
    # The stored source goes bad after the upload was accepted (disk corruption, a bad copy).
    async with get_database(settings).session() as session:
        row = await session.get(Video, video["id"])
        assert row is not None
        key = row.storage_key
    stored = get_storage(settings).local_path(key)
    assert stored is not None
    stored.write_bytes(b"\x00" * 4096)

    created = await api.post(
        "/v1/runs", headers=headers, json={"video_id": video["id"], "profile": "transcript-only"}
    )
    assert created.status_code == 202, created.text
    started = time.monotonic()
    run = await wait_for_run(api, headers, created.json()["id"], timeout=60)
    assert run["status"] == "failed", run
    assert time.monotonic() - started < 30, "a run that cannot succeed is not retried for long"

    event = await _settled_event(api, headers, "run.failed", 1)
    assert event["subject_id"] == run["id"]
    assert event["data"]["error"]
    [delivery] = event["deliveries"]
    assert delivery["transport"] == "email" and delivery["status"] == "delivered"
    [mail] = await asyncio.to_thread(fake_smtp.wait_for_messages, 1)
    assert mail["To"] == "broken@example.com"
    assert "Run failed" in mail["Subject"] and "talk.mp4" in mail["Subject"]
    assert "Error:" in mail.get_content()
    assert (await api.get("/v1/events", headers=headers, params={"type": "run.succeeded"})).json()[
        "total"
    ] == 0
