"""Driving channels and publications through the API, against the provider stand-ins."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from kadr.config import Settings
from tests.support.api import upload
from tests.support.google import FakeGoogle
from tests.support.smtp import FakeSmtp
from tests.support.telegram import FakeTelegram

TELEGRAM_CHAT = -1001234567890
FINISHED = ("published", "failed", "cancelled")


def publishing_settings(google: FakeGoogle, telegram: FakeTelegram, smtp: FakeSmtp) -> dict[str, Any]:
    """Settings that point kadr at the stand-ins, with pacing short enough for tests."""
    return {
        "google_client_id": google.client_id,
        "google_client_secret": google.client_secret,
        "google_auth_url": f"{google.url}/o/oauth2/v2/auth",
        "google_token_url": f"{google.url}/token",
        "youtube_api_url": google.url,
        "youtube_upload_interval_seconds": 2.0,
        "youtube_chunk_bytes": 256 * 1024,
        "telegram_api_url": telegram.api_url,
        "telegram_send_interval_seconds": 0.1,
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_starttls": False,
        "smtp_sender": "kadr <kadr@example.com>",
        "allowed_private_hosts": ["127.0.0.1"],
    }


def publishing_env(google: FakeGoogle, telegram: FakeTelegram, smtp: FakeSmtp) -> dict[str, Any]:
    """`publishing_settings` as environment values for `kadr` processes (lists as JSON)."""
    settings = publishing_settings(google, telegram, smtp)
    settings["allowed_private_hosts"] = json.dumps(settings["allowed_private_hosts"])
    return settings


async def uploaded_video(client: httpx.AsyncClient, headers: dict[str, str], path: Path) -> dict[str, Any]:
    response = await upload(client, headers, path)
    assert response.status_code == 201, response.text
    video: dict[str, Any] = response.json()
    return video


async def schedule(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    """Create a publication (title "A talk" unless given); asserts 201 and its Location."""
    response = await client.post("/v1/publications", headers=headers, json={"title": "A talk", **body})
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v1/publications/{response.json()['id']}"
    publication: dict[str, Any] = response.json()
    return publication


def sent_videos(telegram: FakeTelegram) -> list[dict[str, Any]]:
    """The videos the Telegram stand-in accepted."""
    return [m for m in telegram.messages if m["method"] == "sendVideo"]


async def add_webhook(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, name: str = "ci"
) -> dict[str, Any]:
    """A webhook channel; the answer carries its signing secret."""
    response = await client.post("/v1/channels/webhook", headers=headers, json={"name": name, "url": url})
    assert response.status_code == 201, response.text
    channel: dict[str, Any] = response.json()
    return channel


async def connect_youtube(
    client: httpx.AsyncClient, headers: dict[str, str], google: FakeGoogle, account: str = "default"
) -> dict[str, Any]:
    """The whole OAuth dance: connect link → (simulated) consent → Google's redirect to the callback."""
    response = await client.get("/v1/channels/youtube/connect", headers=headers)
    assert response.status_code == 200, response.text
    authorization_url = response.json()["authorization_url"]
    code = await asyncio.to_thread(google.consent_code_for, authorization_url, account=account)
    state = parse_qs(urlparse(authorization_url).query)["state"][0]
    callback = await client.get("/v1/channels/youtube/callback", params={"state": state, "code": code})
    assert callback.status_code in (200, 201), callback.text
    channel: dict[str, Any] = callback.json()
    return channel


async def add_telegram(
    client: httpx.AsyncClient, headers: dict[str, str], telegram: FakeTelegram, chat_id: int = TELEGRAM_CHAT
) -> dict[str, Any]:
    telegram.add_chat(chat_id, "kadr clips", type="channel", username="kadrclips")
    response = await client.post(
        "/v1/channels/telegram",
        headers=headers,
        json={"bot_token": telegram.bot_token, "chat_id": str(chat_id)},
    )
    assert response.status_code == 201, response.text
    channel: dict[str, Any] = response.json()
    return channel


async def wait_for_publication(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    publication_id: str,
    statuses: tuple[str, ...] = FINISHED,
    timeout: float = 60.0,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await client.get(f"/v1/publications/{publication_id}", headers=headers)
        assert response.status_code == 200, response.text
        publication: dict[str, Any] = response.json()
        if publication["status"] in statuses:
            return publication
        if loop.time() > deadline:
            raise AssertionError(f"publication still {publication['status']} after {timeout}s: {publication}")
        await asyncio.sleep(0.1)


async def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll a (sync or async) predicate until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture(name="settings")
def publishing_settings_fixture(
    settings: Settings, fake_google: FakeGoogle, fake_telegram: FakeTelegram, fake_smtp: FakeSmtp
) -> Settings:
    """`settings`, reaching the stand-ins; a package's conftest imports it to override `settings`."""
    return Settings(**{**settings.model_dump(), **publishing_settings(fake_google, fake_telegram, fake_smtp)})
