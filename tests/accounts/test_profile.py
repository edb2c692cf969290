"""A user's profile through `/v1/me` and registration: display name, locale (BCP 47), time zone
(IANA) and default language (ISO 639-1), normalised, each wrong one a 422 naming its field; and
the language AI writing defaults to (`AccountService.language_of`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kadr.accounts.service import AccountService
from kadr.config import Settings
from kadr.core.db import get_database
from tests.support.api import PASSWORD, assert_problem, register

pytestmark = pytest.mark.anyio

UNSET = {"locale": None, "timezone": None, "default_language": None}


async def _patch(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.patch("/v1/me", headers=headers, json=body)
    assert response.status_code == 200, response.text
    me: dict[str, Any] = response.json()
    return me


def _profile(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user[k] for k in ("display_name", "locale", "timezone", "default_language")}


async def test_patch_changes_only_what_is_sent_and_null_clears(client: httpx.AsyncClient) -> None:
    headers = await register(client, "profile@example.com")
    me = (await client.get("/v1/me", headers=headers)).json()
    assert _profile(me) == {"display_name": "", **UNSET}

    # Spellings people type are stored the one canonical way.
    changed = await _patch(client, headers, locale="RU-ru", timezone="europe/moscow", display_name=" Ада ")
    assert _profile(changed) == {
        "display_name": "Ада",
        "locale": "ru-RU",
        "timezone": "Europe/Moscow",
        "default_language": None,
    }
    assert changed["id"] == me["id"] and changed["email"] == me["email"]
    # The next request sees the change (the authentication cache holds no stale profile).
    assert (await client.get("/v1/me", headers=headers)).json() == changed

    changed = await _patch(client, headers, default_language="RU")
    assert changed["default_language"] == "ru" and changed["locale"] == "ru-RU"
    changed = await _patch(client, headers, timezone=None, locale="zh-hant-tw")
    assert _profile(changed) == {
        "display_name": "Ада",
        "locale": "zh-Hant-TW",
        "timezone": None,
        "default_language": "ru",
    }
    assert _profile(await _patch(client, headers)) == _profile(changed)  # an empty PATCH changes nothing
    assert (await client.get("/v1/me", headers=headers)).json() == changed


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Mars/Olympus"),
        ("timezone", "../../etc/passwd"),
        ("timezone", "UTC+3"),
        ("locale", "ru_RU"),
        ("locale", "english"),
        ("locale", "xx-YY"),
        ("locale", "en-"),
        ("locale", "a" * 36),
        ("default_language", "xx"),
        ("default_language", "rus"),
    ],
)
async def test_a_wrong_value_is_422_naming_its_field_and_changes_nothing(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    headers = await register(client, "strict@example.com")
    before = await _patch(client, headers, locale="en-GB", timezone="Europe/London")

    response = await client.patch("/v1/me", headers=headers, json={"display_name": "changed", field: value})
    problem = assert_problem(response, 422, "validation-failed")
    named = problem.get("field") or problem["errors"][0]["loc"][-1]
    assert named == field, problem
    assert (await client.get("/v1/me", headers=headers)).json() == before


async def test_registration_takes_the_profile_and_refuses_a_wrong_one(client: httpx.AsyncClient) -> None:
    body = {"email": "ru@example.com", "password": PASSWORD, "display_name": "Пётр"}
    refused = await client.post("/v1/auth/register", json={**body, "timezone": "Moscow"})
    assert assert_problem(refused, 422)["field"] == "timezone"
    refused = await client.post("/v1/auth/register", json={**body, "default_language": "russian"})
    assert assert_problem(refused, 422)["field"] == "default_language"

    # Nothing was created by the refused attempts: the address is still free.
    created = await client.post(
        "/v1/auth/register",
        json={**body, "locale": "ru-ru", "timezone": "Asia/Yekaterinburg", "default_language": "ru"},
    )
    assert created.status_code == 201, created.text
    assert _profile(created.json()) == {
        "display_name": "Пётр",
        "locale": "ru-RU",
        "timezone": "Asia/Yekaterinburg",
        "default_language": "ru",
    }
    # Without them, registration is as before.
    plain = await client.post("/v1/auth/register", json={"email": "plain@example.com", "password": PASSWORD})
    assert plain.status_code == 201, plain.text
    assert _profile(plain.json()) == {"display_name": "", **UNSET}


async def test_a_read_only_key_reads_the_profile_but_cannot_change_it(client: httpx.AsyncClient) -> None:
    headers = await register(client, "keyed@example.com")
    created = await client.post("/v1/api-keys", headers=headers, json={"name": "dashboard"})
    key = {"X-API-Key": created.json()["key"]}
    assert (await client.get("/v1/me", headers=key)).status_code == 200
    problem = assert_problem(await client.patch("/v1/me", headers=key, json={"locale": "de"}), 403)
    assert problem["required_scope"] == "admin"
    assert_problem(await client.patch("/v1/me", json={"locale": "de"}), 401)

    admin = await client.post("/v1/api-keys", headers=headers, json={"name": "ops", "scopes": ["admin"]})
    assert (await _patch(client, {"X-API-Key": admin.json()["key"]}, locale="de"))["locale"] == "de"


async def test_the_language_to_write_in_follows_the_profile(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await register(client, "writer@example.com")
    user_id = (await client.get("/v1/me", headers=headers)).json()["id"]

    async def language() -> str:
        async with get_database(settings).session() as session:
            return await AccountService(session, settings).language_of(user_id)

    assert await language() == "en"  # nothing chosen
    await _patch(client, headers, locale="pt-BR")
    assert await language() == "pt"  # the locale's language
    await _patch(client, headers, locale="fil-PH")
    assert await language() == "en"  # not an ISO 639-1 language
    await _patch(client, headers, default_language="ru")
    assert await language() == "ru"  # the chosen one wins
