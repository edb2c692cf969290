"""Channels in a real browser, against the Google and Telegram stand-ins on real sockets: the
YouTube OAuth round trip done by the browser (kadr → Google's consent page → kadr's callback →
back on /channels with the channel shown), a denied consent in words, Telegram's refusal as it
said it, a webhook's signing secret shown once and copied, a revoked Google grant turning the
channel to "needs reconnecting" on Check now and Reconnect repairing it, and delete."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.google import FakeGoogle
from tests.support.telegram import FakeTelegram

pytestmark = pytest.mark.slow

CHAT = -1001234567890


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
def server_settings(google: FakeGoogle, telegram: FakeTelegram) -> dict[str, object]:
    return {
        "google_client_id": google.client_id,
        "google_client_secret": google.client_secret,
        "google_auth_url": f"{google.url}/o/oauth2/v2/auth",
        "google_token_url": f"{google.url}/token",
        "youtube_api_url": google.url,
        "telegram_api_url": telegram.api_url,
        "allowed_private_hosts": json.dumps(["127.0.0.1"]),
    }


def card(page: Any, name: str) -> Any:
    return page.locator(".channel", has=page.get_by_role("heading", name=name))


def test_connect_youtube_telegram_and_a_webhook_check_and_delete(
    pages: Any, server: str, google: FakeGoogle, telegram: FakeTelegram
) -> None:
    user = pages()
    page = user.page
    user.sign_up("channels@example.com", "Cam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Channels").click()
    user.expect_heading("Channels")
    assert "No channels yet" in page.locator("main").inner_text()
    user.shoot("channels-empty")

    # The round trip, refused at Google's consent page: back on /channels, the reason in words.
    page.get_by_role("button", name="Connect YouTube").click()
    page.wait_for_url(f"{google.url}/o/oauth2/v2/auth?**")
    page.get_by_role("heading", name="Choose an account to continue").wait_for()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(re.compile(r"/channels\?connect_error="))
    expect(page.get_by_role("alert")).to_have_text(
        "YouTube was not connected: Google consent was not given (access_denied); nothing was connected"
    )

    # Allowed: Google sends the browser to kadr's callback, which sends it on to the new channel.
    page.get_by_role("button", name="Connect YouTube").click()
    page.wait_for_url(f"{google.url}/o/oauth2/v2/auth?**")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(r"/channels\?connected=chn_"))
    user.expect_heading("Channels")
    expect(page.get_by_role("status")).to_have_text("YouTube channel Channel default is connected.")
    youtube = card(page, "Channel default")
    expect(youtube).to_have_class(re.compile(r"just-added"))
    expect(youtube).to_contain_text("Working")
    expect(youtube).to_contain_text("YouTube · @default")

    # Telegram: a chat the bot is not in is refused, with Telegram's own words.
    page.get_by_label("Bot token").fill(telegram.bot_token)
    page.get_by_label("Chat id").fill(str(CHAT))
    page.get_by_role("button", name="Add Telegram chat").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Telegram refused the bot token or chat: Bad Request: chat not found"
    )
    telegram.add_chat(CHAT, "kadr clips", type="channel", username="kadrclips")
    page.get_by_role("button", name="Add Telegram chat").click()
    expect(page.get_by_role("status")).to_have_text("Telegram chat kadr clips was added.")
    expect(card(page, "kadr clips")).to_contain_text("Telegram · @kadrclips")

    # A webhook: its signing secret, this once, with a copy button.
    user.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.get_by_label("Name", exact=True).fill("CMS")
    page.get_by_label("URL").fill("http://127.0.0.1:9/hooks/kadr")
    page.get_by_role("button", name="Add webhook").click()
    secret = page.get_by_role("textbox", name="Signing secret").input_value()
    assert secret.startswith("whsec_")
    page.locator(".secret-box").get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(card(page, "CMS")).to_contain_text("Webhook · http://127.0.0.1:9/hooks/kadr")
    user.shoot("channels")

    # The user revoked kadr at Google: Check now says so, and Reconnect repairs the same channel.
    google.revoke_all()
    page.get_by_role("button", name="Check Channel default now").click()
    youtube = card(page, "Channel default")
    expect(youtube).to_contain_text("Needs reconnecting")
    expect(youtube.locator("p.error")).to_contain_text("Google refused the stored authorization")
    user.shoot("channels-needs-reauth")
    youtube.get_by_role("button", name="Reconnect").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(r"/channels\?connected=chn_"))
    expect(card(page, "Channel default")).to_contain_text("Working")
    assert page.locator(".channel").count() == 3, "the channel was repaired in place, not added again"

    page.get_by_role("button", name="Delete kadr clips").click()
    page.get_by_role("button", name="Press again to delete").click()
    expect(page.get_by_role("status")).to_have_text(
        "kadr clips was deleted, with its scheduled publications."
    )
    expect(page.locator(".channel")).to_have_count(2)
    page.reload()
    user.expect_heading("Channels")
    expect(page.locator(".channel")).to_have_count(2)
