"""Accounts over real HTTP: register, login, rotation with reuse detection, logout, API keys.

Every error is checked to be `application/problem+json` with a `type` (tests.support.api.assert_problem).
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import update

from kadr.accounts.models import User
from kadr.accounts.throttle import LOGIN_FAILURE_LIMIT
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.signing import sign
from tests.accounts.conftest import FakeClock
from tests.support.api import PASSWORD, assert_problem, register

pytestmark = pytest.mark.anyio


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password})


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": token})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def deactivate(settings: Settings, email: str) -> None:
    from kadr.core.db import get_database

    async with get_database(settings).session() as session:
        await session.execute(update(User).where(User.email == email).values(is_active=False))
        await session.commit()


async def test_register_login_and_me(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/auth/register", json={"email": "Ada@Example.com", "password": PASSWORD, "display_name": "Ada"}
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "ada@example.com" and user["id"].startswith("usr_")
    assert user["is_admin"] is False
    assert "password" not in created.text and "hash" not in created.text

    logged_in = await login(client, "  ADA@example.com ")
    assert logged_in.status_code == 200, logged_in.text
    assert logged_in.headers["cache-control"] == "no-store"
    tokens = logged_in.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60

    me = await client.get("/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == user


async def test_duplicate_email_and_weak_password(client: httpx.AsyncClient) -> None:
    await register(client, "dup@example.com")
    assert_problem(
        await client.post("/v1/auth/register", json={"email": "DUP@example.com", "password": PASSWORD}),
        409,
        "conflict",
    )
    body = assert_problem(
        await client.post("/v1/auth/register", json={"email": "weak@example.com", "password": "nine char"}),
        422,
        "validation-failed",
    )
    assert "password" in body["detail"]
    assert_problem(
        await client.post("/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD}),
        422,
        "validation-failed",
    )
    # Exactly ten characters is enough.
    ten = await client.post("/v1/auth/register", json={"email": "ten@example.com", "password": "x" * 10})
    assert ten.status_code == 201, ten.text


async def test_wrong_password_and_unknown_email_look_the_same(client: httpx.AsyncClient) -> None:
    await register(client, "real@example.com")
    wrong = assert_problem(
        await login(client, "real@example.com", "wrong password!"), 401, "invalid-credentials"
    )
    unknown = assert_problem(await login(client, "ghost@example.com"), 401, "invalid-credentials")
    malformed = assert_problem(await login(client, "not an email"), 401, "invalid-credentials")
    assert wrong["detail"] == unknown["detail"] == malformed["detail"]
    assert wrong["title"] == unknown["title"]


async def test_repeated_failures_are_throttled(client: httpx.AsyncClient) -> None:
    await register(client, "target@example.com")
    for _ in range(LOGIN_FAILURE_LIMIT):
        assert_problem(await login(client, "target@example.com", "guessing-wrong"), 401)
    # Even the right password is refused until the window passes: it could be the next guess.
    throttled = await login(client, "target@example.com", PASSWORD)
    body = assert_problem(throttled, 429, "rate-limited")
    assert 0 < int(throttled.headers["Retry-After"]) <= 60
    assert body["retry_after"] == int(throttled.headers["Retry-After"])
    # The throttle is per email: another account from the same client is unaffected.
    await register(client, "bystander@example.com")
    assert (await login(client, "bystander@example.com")).status_code == 200


async def test_a_success_clears_earlier_failures(client: httpx.AsyncClient) -> None:
    await register(client, "typo@example.com")
    for _ in range(LOGIN_FAILURE_LIMIT - 1):
        await login(client, "typo@example.com", "fat-fingered")
    assert (await login(client, "typo@example.com")).status_code == 200
    for _ in range(LOGIN_FAILURE_LIMIT - 1):
        await login(client, "typo@example.com", "fat-fingered")
    assert (await login(client, "typo@example.com")).status_code == 200


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    await register(client, "rot@example.com")
    first = (await login(client, "rot@example.com")).json()
    second = await refresh(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.headers["cache-control"] == "no-store"
    newest = second.json()
    assert newest["refresh_token"] != first["refresh_token"]
    assert newest["access_token"] != first["access_token"]
    assert (await client.get("/v1/me", headers=bearer(newest["access_token"]))).status_code == 200

    # The first token leaked and an attacker replays it: the whole family is revoked...
    replay = assert_problem(await refresh(client, first["refresh_token"]), 401, "unauthorized")
    assert "already used" in replay["detail"]
    # ...including the newest token, which the legitimate client holds.
    assert_problem(await refresh(client, newest["refresh_token"]), 401, "unauthorized")

    # Another login is its own family and is unaffected.
    other = (await login(client, "rot@example.com")).json()
    assert (await refresh(client, other["refresh_token"])).status_code == 200


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    await register(client, "bye@example.com")
    tokens = (await login(client, "bye@example.com")).json()
    rotated = (await refresh(client, tokens["refresh_token"])).json()
    out = await client.post("/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert out.status_code == 204 and out.content == b""
    assert_problem(await refresh(client, rotated["refresh_token"]), 401, "unauthorized")
    # An unknown token logs nothing out and tells nothing.
    unknown = await client.post("/v1/auth/logout", json={"refresh_token": "no-such-token"})
    assert unknown.status_code == 204


async def test_refresh_and_access_tokens_are_not_interchangeable(client: httpx.AsyncClient) -> None:
    await register(client, "mix@example.com")
    tokens = (await login(client, "mix@example.com")).json()
    assert_problem(await client.get("/v1/me", headers=bearer(tokens["refresh_token"])), 401, "unauthorized")
    assert_problem(await refresh(client, tokens["access_token"]), 401, "unauthorized")
    assert_problem(await refresh(client, ""), 422, "validation-failed")


async def test_expired_and_forged_access_tokens(client: httpx.AsyncClient, settings: Settings) -> None:
    headers = await register(client, "exp@example.com")
    user_id = (await client.get("/v1/me", headers=headers)).json()["id"]
    secret = settings.secret_key.get_secret_value()
    past = utcnow() - timedelta(minutes=5)
    expired = jwt.encode(
        {
            "sub": user_id,
            "fid": "fam_x",
            "exp": past,
            "iat": past - timedelta(minutes=15),
            "jti": "x",
            "typ": "access",
        },
        secret,
        algorithm="HS256",
    )
    response = await client.get("/v1/me", headers=bearer(expired))
    assert_problem(response, 401, "token-expired")
    assert response.headers["WWW-Authenticate"] == "Bearer"

    future = utcnow() + timedelta(minutes=5)
    forged = jwt.encode(
        {"sub": user_id, "exp": future, "typ": "access"},
        "not-our-secret-at-all-0123456789abcdef",
        algorithm="HS256",
    )
    assert_problem(await client.get("/v1/me", headers=bearer(forged)), 401, "unauthorized")
    # Signed by us, but for another purpose (a download link): not a login.
    link = sign(settings, "download", user_id, 60)
    assert_problem(await client.get("/v1/me", headers=bearer(link)), 401, "unauthorized")
    assert_problem(await client.get("/v1/me", headers=bearer("garbage")), 401, "unauthorized")
    assert_problem(await client.get("/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401)
    missing = await client.get("/v1/me")
    assert_problem(missing, 401, "unauthorized")


async def test_a_deactivated_user_is_locked_out(
    client: httpx.AsyncClient, settings: Settings, auth_clock: FakeClock
) -> None:
    await register(client, "gone@example.com")
    tokens = (await login(client, "gone@example.com")).json()
    key = (
        await client.post("/v1/api-keys", headers=bearer(tokens["access_token"]), json={"name": "k"})
    ).json()
    assert (await client.get("/v1/me", headers={"X-API-Key": key["key"]})).status_code == 200
    await deactivate(settings, "gone@example.com")
    # Changed behind the API's back: noticed once the checked credentials leave the cache.
    auth_clock.advance(settings.auth_cache_seconds)
    assert_problem(await client.get("/v1/me", headers=bearer(tokens["access_token"])), 401, "unauthorized")
    assert_problem(await client.get("/v1/me", headers={"X-API-Key": key["key"]}), 401, "unauthorized")
    assert_problem(await refresh(client, tokens["refresh_token"]), 401, "unauthorized")
    assert_problem(await login(client, "gone@example.com"), 401, "invalid-credentials")


async def test_api_keys_work_list_and_revoke(client: httpx.AsyncClient) -> None:
    headers = await register(client, "bot@example.com")
    created = await client.post("/v1/api-keys", headers=headers, json={"name": "ci"})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    key = body["key"]
    assert key.startswith("kadr_") and body["prefix"] == key[:11] and body["name"] == "ci"
    assert body["id"].startswith("key_") and body["last_used_at"] is None

    me_by_header = await client.get("/v1/me", headers={"X-API-Key": key})
    assert me_by_header.status_code == 200 and me_by_header.json()["email"] == "bot@example.com"
    assert (await client.get("/v1/me", headers=bearer(key))).status_code == 200

    listed = (await client.get("/v1/api-keys", headers=headers)).json()
    assert listed["total"] == 1 and listed["limit"] == 50 and listed["offset"] == 0
    item = listed["items"][0]
    assert item["id"] == body["id"] and "key" not in item and key not in str(listed)
    assert item["last_used_at"] is not None

    key_id = body["id"]
    other = await register(client, "other@example.com")
    assert_problem(await client.delete(f"/v1/api-keys/{key_id}", headers=other), 404, "not-found")
    assert (await client.get("/v1/me", headers={"X-API-Key": key})).status_code == 200  # still works
    assert (await client.delete(f"/v1/api-keys/{key_id}", headers=headers)).status_code == 204
    assert_problem(await client.get("/v1/me", headers={"X-API-Key": key}), 401, "unauthorized")
    assert_problem(await client.delete(f"/v1/api-keys/{key_id}", headers=headers), 404, "not-found")
    assert (await client.get("/v1/api-keys", headers=headers)).json()["total"] == 0


async def test_api_key_header_rules(client: httpx.AsyncClient) -> None:
    headers = await register(client, "hdr@example.com")
    access = headers["Authorization"].removeprefix("Bearer ")
    # X-API-Key carries API keys only.
    assert_problem(await client.get("/v1/me", headers={"X-API-Key": access}), 401, "unauthorized")
    assert_problem(
        await client.get("/v1/me", headers={"X-API-Key": "kadr_not-a-real-key"}), 401, "unauthorized"
    )
    assert_problem(await client.post("/v1/api-keys", json={"name": "x"}), 401, "unauthorized")
    assert_problem(await client.post("/v1/api-keys", headers=headers, json={"name": ""}), 422)


async def test_api_keys_are_paginated_newest_first(client: httpx.AsyncClient) -> None:
    headers = await register(client, "many@example.com")
    ids = []
    for n in range(3):
        created = await client.post("/v1/api-keys", headers=headers, json={"name": f"k{n}"})
        ids.append(created.json()["id"])
    first = (await client.get("/v1/api-keys", params={"limit": 2}, headers=headers)).json()
    assert first["total"] == 3 and [k["id"] for k in first["items"]] == [ids[2], ids[1]]
    rest = (await client.get("/v1/api-keys", params={"limit": 2, "offset": 2}, headers=headers)).json()
    assert [k["id"] for k in rest["items"]] == [ids[0]]
    assert_problem(await client.get("/v1/api-keys", params={"limit": 0}, headers=headers), 422)
    # Another user sees none of them.
    stranger = await register(client, "stranger@example.com")
    assert (await client.get("/v1/api-keys", headers=stranger)).json()["total"] == 0


async def test_registration_can_be_closed(settings: Settings, database: None) -> None:
    from kadr.app import create_app

    closed = create_app(settings.model_copy(update={"allow_registration": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=closed), base_url="http://t") as client:
        response = await client.post(
            "/v1/auth/register", json={"email": "x@example.com", "password": PASSWORD}
        )
        assert_problem(response, 403, "forbidden")
