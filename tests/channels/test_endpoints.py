"""Channels over HTTP: YouTube OAuth (state + PKCE), Telegram verified with getChat, webhooks
behind the private-address guard, health, and isolation between users."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select

from kadr.channels.models import Channel
from kadr.config import Settings
from kadr.core.db import get_database
from tests.support.api import assert_problem, register
from tests.support.google import FakeGoogle
from tests.support.publishing import TELEGRAM_CHAT, add_telegram, connect_youtube
from tests.support.telegram import FakeTelegram

pytestmark = pytest.mark.anyio


async def test_connecting_youtube_uses_state_and_pkce_and_stores_tokens_encrypted(
    client: httpx.AsyncClient, settings: Settings, fake_google: FakeGoogle
) -> None:
    headers = await register(client, "yt@example.com")
    link = (await client.get("/v1/channels/youtube/connect", headers=headers)).json()
    query = parse_qs(urlparse(link["authorization_url"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["access_type"] == ["offline"]
    assert query["redirect_uri"] == [settings.resolved_google_redirect_uri]
    assert len(query["state"][0]) >= 32

    channel = await connect_youtube(client, headers, fake_google)
    assert channel["kind"] == "youtube"
    assert channel["status"] == "ok"
    assert channel["external_id"].startswith("UC")
    assert channel["name"] == "Channel default"
    assert "refresh_token" not in str(channel) and "secrets" not in channel

    async with get_database(settings).session() as session:
        row = (await session.execute(select(Channel).where(Channel.id == channel["id"]))).scalar_one()
    grant_tokens = [token for token in fake_google._grants]  # the refresh tokens Google issued
    assert grant_tokens and all(token not in row.secrets for token in grant_tokens)

    # Connecting the same YouTube channel again repairs the existing channel instead of adding one.
    again = await connect_youtube(client, headers, fake_google)
    assert again["id"] == channel["id"]
    listed = (await client.get("/v1/channels", headers=headers)).json()
    assert listed["total"] == 1


async def test_the_callback_refuses_unknown_reused_and_denied_states(
    client: httpx.AsyncClient, fake_google: FakeGoogle
) -> None:
    headers = await register(client, "states@example.com")
    assert_problem(await client.get("/v1/channels/youtube/callback", params={"state": "x", "code": "y"}), 400)

    link = (await client.get("/v1/channels/youtube/connect", headers=headers)).json()["authorization_url"]
    state = parse_qs(urlparse(link).query)["state"][0]
    denied = await client.get(
        "/v1/channels/youtube/callback", params={"state": state, "error": "access_denied"}
    )
    assert "access_denied" in assert_problem(denied, 400)["detail"]

    link = (await client.get("/v1/channels/youtube/connect", headers=headers)).json()["authorization_url"]
    state = parse_qs(urlparse(link).query)["state"][0]
    code = fake_google.consent_code_for(link)
    assert (
        await client.get("/v1/channels/youtube/callback", params={"state": state, "code": code})
    ).status_code == 201
    reused = await client.get("/v1/channels/youtube/callback", params={"state": state, "code": code})
    assert "already used" in assert_problem(reused, 400)["detail"]

    # A code minted for another PKCE challenge is refused by Google: nothing is connected.
    link = (await client.get("/v1/channels/youtube/connect", headers=headers)).json()["authorization_url"]
    state = parse_qs(urlparse(link).query)["state"][0]
    foreign = fake_google.authorize(fake_google.client_id, "http://elsewhere/cb", "A" * 43)
    refused = await client.get("/v1/channels/youtube/callback", params={"state": state, "code": foreign})
    assert "Google refused" in assert_problem(refused, 422)["detail"]
    assert (await client.get("/v1/channels", headers=headers)).json()["total"] == 1


async def test_youtube_needs_an_oauth_client(client: httpx.AsyncClient, settings: Settings) -> None:
    client_app = client._transport.app  # type: ignore[attr-defined]
    client_app.state.settings = Settings(**{**settings.model_dump(), "google_client_id": ""})
    headers = await register(client, "noclient@example.com")
    body = assert_problem(await client.get("/v1/channels/youtube/connect", headers=headers), 501)
    assert "KADR_GOOGLE_CLIENT_ID" in body["detail"]


async def test_a_revoked_grant_turns_the_channel_to_needs_reauth(
    client: httpx.AsyncClient, fake_google: FakeGoogle
) -> None:
    headers = await register(client, "revoked@example.com")
    channel = await connect_youtube(client, headers, fake_google)
    checked = (await client.post(f"/v1/channels/{channel['id']}/check", headers=headers)).json()
    assert checked["status"] == "ok"
    assert fake_google.refresh_count == 1

    fake_google.revoke_all()
    checked = (await client.post(f"/v1/channels/{channel['id']}/check", headers=headers)).json()
    assert checked["status"] == "needs_reauth"
    assert "reconnect" in checked["status_reason"]
    events = (await client.get("/v1/events", headers=headers)).json()["items"]
    assert [e["type"] for e in events] == ["channel.needs_reauth", "user.registered"]

    # Reconnecting repairs it.
    repaired = await connect_youtube(client, headers, fake_google)
    assert repaired["id"] == channel["id"] and repaired["status"] == "ok"


async def test_telegram_channels_are_verified_with_get_chat(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    headers = await register(client, "tg@example.com")
    channel = await add_telegram(client, headers, fake_telegram)
    assert channel["kind"] == "telegram"
    assert channel["external_id"] == str(TELEGRAM_CHAT)
    assert channel["name"] == "kadr clips"
    assert fake_telegram.bot_token not in str(channel)

    unknown = await client.post(
        "/v1/channels/telegram",
        headers=headers,
        json={"bot_token": fake_telegram.bot_token, "chat_id": "-100999"},
    )
    assert "chat not found" in assert_problem(unknown, 422)["detail"]
    bad_token = await client.post(
        "/v1/channels/telegram", headers=headers, json={"bot_token": "1:wrong", "chat_id": str(TELEGRAM_CHAT)}
    )
    assert_problem(bad_token, 422)
    assert (await client.get("/v1/channels", headers=headers)).json()["total"] == 1


async def test_webhooks_to_private_addresses_are_refused_unless_allow_listed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await register(client, "hooks@example.com")
    allowed = await client.post(
        "/v1/channels/webhook", headers=headers, json={"name": "ci", "url": "http://127.0.0.1:9/hook"}
    )
    assert allowed.status_code == 201, allowed.text
    secret = allowed.json()["signing_secret"]
    assert secret.startswith("whsec_")
    shown_again = (await client.get(f"/v1/channels/{allowed.json()['id']}", headers=headers)).json()
    assert "signing_secret" not in shown_again

    for url in (
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/hook",
        "ftp://example.com/x",
    ):
        refused = await client.post("/v1/channels/webhook", headers=headers, json={"name": "x", "url": url})
        assert_problem(refused, 422, "unsafe-url")

    client._transport.app.state.settings = Settings(  # type: ignore[attr-defined]
        **{**settings.model_dump(), "allowed_private_hosts": []}
    )
    refused = await client.post(
        "/v1/channels/webhook", headers=headers, json={"name": "x", "url": "http://127.0.0.1:9/hook"}
    )
    assert "KADR_ALLOWED_PRIVATE_HOSTS" in assert_problem(refused, 422, "unsafe-url")["detail"]


async def test_other_users_channels_answer_404(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram
) -> None:
    owner = await register(client, "owner@example.com")
    stranger = await register(client, "stranger@example.com")
    channel = await add_telegram(client, owner, fake_telegram)
    for method, path in (
        ("GET", f"/v1/channels/{channel['id']}"),
        ("POST", f"/v1/channels/{channel['id']}/check"),
        ("DELETE", f"/v1/channels/{channel['id']}"),
    ):
        assert_problem(await client.request(method, path, headers=stranger), 404)
    assert (await client.get("/v1/channels", headers=stranger)).json()["total"] == 0
    assert (await client.delete(f"/v1/channels/{channel['id']}", headers=owner)).status_code == 204
    assert_problem(await client.get(f"/v1/channels/{channel['id']}", headers=owner), 404)


@pytest.mark.parametrize("token", ["", "   ", "no-colon", "123:abc/def", "123:abc def", "bot:token"])
async def test_a_malformed_bot_token_answers_422_naming_the_field(
    client: httpx.AsyncClient, fake_telegram: FakeTelegram, token: str
) -> None:
    headers = await register(client, "tokens@example.com")
    calls = len(fake_telegram.requests)
    response = await client.post(
        "/v1/channels/telegram", headers=headers, json={"bot_token": token, "chat_id": str(TELEGRAM_CHAT)}
    )
    problem = assert_problem(response, 422)
    assert problem["field"] == "bot_token"
    assert token.strip() == "" or token not in problem["detail"]  # the token is never echoed
    assert len(fake_telegram.requests) == calls  # refused before any request to Telegram
    assert (await client.get("/v1/channels", headers=headers)).json()["total"] == 0


async def test_channels_list_newest_first_like_every_list(client: httpx.AsyncClient) -> None:
    headers = await register(client, "lister@example.com")
    for n in range(3):
        created = await client.post(
            "/v1/channels/webhook", headers=headers, json={"name": f"hook{n}", "url": "http://127.0.0.1:9/h"}
        )
        assert created.status_code == 201, created.text
    first = (await client.get("/v1/channels?limit=2", headers=headers)).json()
    rest = (await client.get("/v1/channels?limit=2&offset=2", headers=headers)).json()
    assert first["total"] == rest["total"] == 3
    assert [c["name"] for c in first["items"] + rest["items"]] == ["hook2", "hook1", "hook0"]
    assert (await client.get("/v1/channels?kind=telegram", headers=headers)).json()["total"] == 0


async def test_a_browser_at_the_callback_is_sent_on_to_the_channels_page(
    client: httpx.AsyncClient, fake_google: FakeGoogle
) -> None:
    """Google's redirect lands in a browser: it goes on to the web app, never to raw JSON."""
    headers = await register(client, "browser@example.com")
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    link = (await client.get("/v1/channels/youtube/connect", headers=headers)).json()["authorization_url"]
    state = parse_qs(urlparse(link).query)["state"][0]
    back = await client.get(
        "/v1/channels/youtube/callback",
        params={"state": state, "code": fake_google.consent_code_for(link)},
        headers=browser,
    )
    assert back.status_code == 303
    channel_id = parse_qs(urlparse(back.headers["location"]).query)["connected"][0]
    assert urlparse(back.headers["location"]).path == "/channels"
    assert (await client.get(f"/v1/channels/{channel_id}", headers=headers)).json()["kind"] == "youtube"

    refused = await client.get(
        "/v1/channels/youtube/callback", params={"state": state, "code": "x"}, headers=browser
    )
    assert refused.status_code == 303
    reason = parse_qs(urlparse(refused.headers["location"]).query)["connect_error"][0]
    assert "already used" in reason
