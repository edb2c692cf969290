"""The inbox: a user's events with read state (`GET /v1/events`, `?unread=true`), marking one or
all read, each user's own; and the `user.registered` welcome every new account starts with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.api import assert_problem, register
from tests.support.google import FakeGoogle
from tests.support.publishing import connect_youtube

pytestmark = pytest.mark.anyio


async def _inbox(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/events", headers=headers, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def _lose_youtube_authorization(
    client: httpx.AsyncClient, headers: dict[str, str], google: FakeGoogle
) -> None:
    """One `channel.needs_reauth` event, emitted by the check request itself."""
    channel = await connect_youtube(client, headers, google)
    google.revoke_all()
    checked = (await client.post(f"/v1/channels/{channel['id']}/check", headers=headers)).json()
    assert checked["status"] == "needs_reauth", checked


async def test_a_new_account_starts_with_an_unread_welcome_that_is_not_sent(
    client: httpx.AsyncClient,
) -> None:
    headers = await register(client, "welcome@example.com")
    me = (await client.get("/v1/me", headers=headers)).json()

    [welcome] = (await _inbox(client, headers))["items"]
    assert welcome["type"] == "user.registered" and welcome["subject_id"] == me["id"]
    assert welcome["data"] == {"user_id": me["id"], "email": "welcome@example.com", "display_name": ""}
    assert welcome["read_at"] is None
    # Email is configured here, yet a new account is not mailed: the address is unverified.
    assert welcome["deliveries"] == []
    settings = (await client.get("/v1/notification-settings", headers=headers)).json()
    assert settings["email_available"] is True and "user.registered" not in settings["events"]
    # It can be chosen like any other type.
    chosen = await client.put(
        "/v1/notification-settings", headers=headers, json={"events": ["user.registered", "run.failed"]}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["events"] == ["run.failed", "user.registered"]


async def test_marking_one_read_keeps_its_time_and_leaves_the_rest_unread(
    client: httpx.AsyncClient, fake_google: FakeGoogle
) -> None:
    headers = await register(client, "reader@example.com")
    await _lose_youtube_authorization(client, headers, fake_google)
    unread = await _inbox(client, headers, unread="true")
    assert [e["type"] for e in unread["items"]] == ["channel.needs_reauth", "user.registered"]
    assert unread["total"] == 2 and all(e["read_at"] is None for e in unread["items"])
    reauth, welcome = unread["items"]

    marked = await client.post(f"/v1/events/{welcome['id']}/read", headers=headers)
    assert marked.status_code == 200, marked.text
    read = marked.json()
    assert read["id"] == welcome["id"] and read["type"] == "user.registered"
    read_at = datetime.fromisoformat(read["read_at"])
    assert read_at >= datetime.fromisoformat(welcome["created_at"])
    # Again changes nothing: it was read then.
    again = (await client.post(f"/v1/events/{welcome['id']}/read", headers=headers)).json()
    assert again["read_at"] == read["read_at"]

    assert [e["id"] for e in (await _inbox(client, headers, unread="true"))["items"]] == [reauth["id"]]
    everything = await _inbox(client, headers)
    assert [e["id"] for e in everything["items"]] == [reauth["id"], welcome["id"]]  # still newest first
    assert [e["read_at"] for e in everything["items"]] == [None, read["read_at"]]
    # `unread` goes with the other filters, and the unread count is one short page away.
    assert (await _inbox(client, headers, unread="true", type="user.registered"))["total"] == 0
    badge = await _inbox(client, headers, unread="true", limit=1)
    assert badge["total"] == 1 and len(badge["items"]) == 1
    assert (await _inbox(client, headers, unread="false"))["total"] == 2


async def test_read_all_marks_every_unread_one_and_says_how_many(
    client: httpx.AsyncClient, fake_google: FakeGoogle
) -> None:
    headers = await register(client, "all@example.com")
    await _lose_youtube_authorization(client, headers, fake_google)
    [_, welcome] = (await _inbox(client, headers))["items"]
    first_read = (await client.post(f"/v1/events/{welcome['id']}/read", headers=headers)).json()["read_at"]

    response = await client.post("/v1/events/read-all", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"marked": 1}
    assert (await client.post("/v1/events/read-all", headers=headers)).json() == {"marked": 0}
    inbox = await _inbox(client, headers)
    assert all(e["read_at"] is not None for e in inbox["items"])
    assert inbox["items"][1]["read_at"] == first_read  # an already read one keeps its time
    assert (await _inbox(client, headers, unread="true"))["total"] == 0


async def test_notifications_are_each_users_own(client: httpx.AsyncClient) -> None:
    headers = await register(client, "owner@example.com")
    stranger = await register(client, "nosy@example.com")
    [mine] = (await _inbox(client, headers))["items"]

    for event_id in (mine["id"], "evt_does_not_exist"):
        problem = assert_problem(await client.post(f"/v1/events/{event_id}/read", headers=stranger), 404)
        assert event_id in problem["detail"]
    # Reading all of one's own touches nobody else's.
    assert (await client.post("/v1/events/read-all", headers=stranger)).json() == {"marked": 1}
    assert (await _inbox(client, headers, unread="true"))["total"] == 1
    assert (await _inbox(client, headers))["items"][0]["read_at"] is None

    assert_problem(await client.post("/v1/events/read-all"), 401)
    assert_problem(await client.post(f"/v1/events/{mine['id']}/read"), 401)


async def test_a_read_only_key_reads_the_inbox_but_does_not_mark_it(client: httpx.AsyncClient) -> None:
    headers = await register(client, "keyed@example.com")
    created = await client.post("/v1/api-keys", headers=headers, json={"name": "dashboard"})
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}
    [welcome] = (await _inbox(client, key))["items"]

    for path in (f"/v1/events/{welcome['id']}/read", "/v1/events/read-all"):
        problem = assert_problem(await client.post(path, headers=key), 403, "insufficient-scope")
        assert problem["required_scope"] == "notifications:write"
    assert (await _inbox(client, headers, unread="true"))["total"] == 1


async def test_the_inbox_answers_at_v1_notifications_as_well(client: httpx.AsyncClient) -> None:
    headers = await register(client, "alias@example.com")
    inbox = (await client.get("/v1/notifications?unread=true", headers=headers)).json()
    assert inbox == (await client.get("/v1/events?unread=true", headers=headers)).json()
    [welcome] = inbox["items"]
    marked = await client.post(f"/v1/notifications/{welcome['id']}/read", headers=headers)
    assert marked.status_code == 200 and marked.json()["read_at"] is not None
    assert (await client.post("/v1/notifications/read-all", headers=headers)).json() == {"marked": 0}
    stranger = await register(client, "stranger@example.com")
    assert (await client.post(f"/v1/notifications/{welcome['id']}/read", headers=stranger)).status_code == 404
