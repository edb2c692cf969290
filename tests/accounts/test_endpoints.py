"""Accounts over real HTTP: register, login, rotation with reuse detection, logout, API keys."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest

from kadr.accounts.service import LOGIN_FAILURES
from kadr.config import Settings
from kadr.core.clock import utcnow
from tests.support.api import PASSWORD, assert_problem, register

pytestmark = pytest.mark.anyio


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password})


async def test_register_login_and_me(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/auth/register", json={"email": "Ada@Example.com", "password": PASSWORD, "display_name": "Ada"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "ada@example.com"
    assert "password" not in created.text and "hash" not in created.text
    tokens = (await login(client, "ADA@example.com")).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] > 0
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["display_name"] == "Ada"


async def test_duplicate_email_and_weak_password(client: httpx.AsyncClient) -> None:
    await register(client, "dup@example.com")
    assert_problem(
        await client.post("/v1/auth/register", json={"email": "DUP@example.com", "password": PASSWORD}), 409
    )
    body = assert_problem(
        await client.post("/v1/auth/register", json={"email": "weak@example.com", "password": "short"}), 422
    )
    assert "password" in body["detail"]
    assert_problem(
        await client.post("/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD}), 422
    )


async def test_wrong_password_and_unknown_email_look_the_same(client: httpx.AsyncClient) -> None:
    await register(client, "real@example.com")
    wrong = assert_problem(
        await login(client, "real@example.com", "wrong password!"), 401, "invalid-credentials"
    )
    unknown = assert_problem(await login(client, "ghost@example.com"), 401, "invalid-credentials")
    assert wrong["detail"] == unknown["detail"]


async def test_repeated_failures_are_throttled(client: httpx.AsyncClient) -> None:
    await register(client, "target@example.com")
    for _ in range(LOGIN_FAILURES.limit):
        await login(client, "target@example.com", "guessing-wrong")
    throttled = await login(client, "target@example.com", PASSWORD)
    assert_problem(throttled, 429, "rate-limited")
    assert int(throttled.headers["Retry-After"]) > 0


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    await register(client, "rot@example.com")
    first = (await login(client, "rot@example.com")).json()
    second = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    newest = second.json()
    assert newest["refresh_token"] != first["refresh_token"]
    # The first token leaked and an attacker replays it: the whole family is revoked.
    assert_problem(await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": newest["refresh_token"]}), 401
    )
    # Another login is its own family and is unaffected.
    other = (await login(client, "rot@example.com")).json()
    assert (
        await client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    ).status_code == 200


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    await register(client, "bye@example.com")
    tokens = (await login(client, "bye@example.com")).json()
    assert (
        await client.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 204
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401
    )


async def test_expired_and_forged_access_tokens(client: httpx.AsyncClient, settings: Settings) -> None:
    headers = await register(client, "exp@example.com")
    user_id = (await client.get("/v1/me", headers=headers)).json()["id"]
    secret = settings.secret_key.get_secret_value()
    past = utcnow() - timedelta(minutes=5)
    expired = jwt.encode(
        {"sub": user_id, "exp": past, "iat": past, "typ": "access"}, secret, algorithm="HS256"
    )
    assert_problem(
        await client.get("/v1/me", headers={"Authorization": f"Bearer {expired}"}), 401, "token-expired"
    )
    future = utcnow() + timedelta(minutes=5)
    forged = jwt.encode(
        {"sub": user_id, "exp": future, "typ": "access"},
        "not-our-secret-at-all-0123456789abcdef",
        algorithm="HS256",
    )
    assert_problem(await client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}), 401)
    assert_problem(await client.get("/v1/me", headers={"Authorization": "Bearer garbage"}), 401)
    assert_problem(await client.get("/v1/me"), 401)


async def test_api_keys_work_list_and_revoke(client: httpx.AsyncClient) -> None:
    headers = await register(client, "bot@example.com")
    created = await client.post("/v1/api-keys", headers=headers, json={"name": "ci"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("kadr_") and created.json()["prefix"] == key[:11]
    assert (await client.get("/v1/me", headers={"X-API-Key": key})).status_code == 200
    assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})).status_code == 200
    listed = (await client.get("/v1/api-keys", headers=headers)).json()
    assert listed["total"] == 1 and "key" not in listed["items"][0]
    key_id = created.json()["id"]
    other = await register(client, "other@example.com")
    assert_problem(await client.delete(f"/v1/api-keys/{key_id}", headers=other), 404)
    assert (await client.delete(f"/v1/api-keys/{key_id}", headers=headers)).status_code == 204
    assert_problem(await client.get("/v1/me", headers={"X-API-Key": key}), 401)


async def test_registration_can_be_closed(settings: Settings, database: None) -> None:
    from kadr.app import create_app

    closed = create_app(settings.model_copy(update={"allow_registration": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=closed), base_url="http://t") as client:
        response = await client.post(
            "/v1/auth/register", json={"email": "x@example.com", "password": PASSWORD}
        )
        assert_problem(response, 403)
