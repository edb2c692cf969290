"""Failed logins are throttled per account+address, per account and per address, and the address
cannot be chosen by the client (X-Forwarded-For is believed only from KADR_TRUSTED_PROXIES)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kadr.accounts.throttle import ACCOUNT_FAILURE_LIMIT, ADDRESS_FAILURE_LIMIT, LOGIN_FAILURE_LIMIT
from kadr.config import Settings
from tests.support.api import PASSWORD, assert_problem, register
from tests.support.process import kadr_up

pytestmark = pytest.mark.anyio


def _login(email: str, password: str, forwarded_for: str | None = None) -> dict[str, object]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return {"json": {"email": email, "password": password}, "headers": headers}


@pytest.fixture
async def behind_proxy(settings: Settings, database: None) -> AsyncIterator[httpx.AsyncClient]:
    """The API behind a trusted reverse proxy: the test client (127.0.0.1) plays the proxy."""
    from kadr.app import create_app

    application = create_app(settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]}))
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as client,
    ):
        yield client


async def test_forwarded_for_from_an_untrusted_peer_does_not_reset_the_counter(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "victim@example.com")
    for n in range(LOGIN_FAILURE_LIMIT):
        response = await client.post(
            "/v1/auth/login", **_login("victim@example.com", "wrong-guess", f"198.51.100.{n}")
        )
        assert_problem(response, 401, "invalid-credentials")
    # A "new" address in the header changes nothing: nobody trusted said so.
    throttled = await client.post(
        "/v1/auth/login", **_login("victim@example.com", PASSWORD, "198.51.100.250")
    )
    assert_problem(throttled, 429, "rate-limited")
    assert int(throttled.headers["Retry-After"]) >= 1


def test_forwarded_for_over_a_real_socket_as_the_cli_starts_it(tmp_path: Path) -> None:
    """`kadr up` itself (uvicorn on a socket): it used to believe X-Forwarded-For from 127.0.0.1."""
    with (
        kadr_up(tmp_path / "var", tmp_path / "kadr.log") as (base_url, _process),
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        email = "socket@example.com"
        created = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        for n in range(LOGIN_FAILURE_LIMIT):
            response = client.post("/v1/auth/login", **_login(email, "wrong-guess", f"203.0.113.{n}"))
            assert response.status_code == 401, response.text
        throttled = client.post("/v1/auth/login", **_login(email, PASSWORD, "203.0.113.200"))
        assert_problem(throttled, 429, "rate-limited")
        assert "Retry-After" in throttled.headers


async def test_a_trusted_proxy_names_the_client(behind_proxy: httpx.AsyncClient) -> None:
    client = behind_proxy
    await register(client, "proxied@example.com")
    for _ in range(LOGIN_FAILURE_LIMIT):
        # What the client wrote on the left is ignored; the proxy appended the real address.
        response = await client.post(
            "/v1/auth/login", **_login("proxied@example.com", "wrong-guess", "10.9.9.9, 192.0.2.10")
        )
        assert_problem(response, 401)
    assert_problem(
        await client.post("/v1/auth/login", **_login("proxied@example.com", PASSWORD, "192.0.2.10")), 429
    )
    # The same account from another client behind the same proxy has its own count.
    other = await client.post("/v1/auth/login", **_login("proxied@example.com", PASSWORD, "192.0.2.11"))
    assert other.status_code == 200, other.text


async def test_one_account_is_locked_whatever_the_address(behind_proxy: httpx.AsyncClient) -> None:
    client = behind_proxy
    await register(client, "target@example.com")
    for n in range(ACCOUNT_FAILURE_LIMIT):
        response = await client.post(
            "/v1/auth/login", **_login("target@example.com", "wrong-guess", f"192.0.2.{n + 1}")
        )
        assert_problem(response, 401)
    # A fresh address, and even the right password: the account is locked for the window.
    locked = await client.post("/v1/auth/login", **_login("target@example.com", PASSWORD, "192.0.2.200"))
    body = assert_problem(locked, 429, "rate-limited")
    assert body["retry_after"] == int(locked.headers["Retry-After"]) >= 1
    # Other accounts are not affected.
    await register(client, "bystander@example.com")
    fine = await client.post("/v1/auth/login", **_login("bystander@example.com", PASSWORD, "192.0.2.200"))
    assert fine.status_code == 200, fine.text


async def test_thirty_accounts_from_one_address_are_slowed(client: httpx.AsyncClient) -> None:
    statuses = []
    for n in range(30):
        response = await client.post("/v1/auth/login", **_login(f"user{n}@example.com", "password-guess"))
        statuses.append(response.status_code)
    assert statuses[:ADDRESS_FAILURE_LIMIT] == [401] * ADDRESS_FAILURE_LIMIT
    assert set(statuses[ADDRESS_FAILURE_LIMIT:]) == {429}, statuses
    # A real account from that address waits too, even with its right password.
    created = await client.post("/v1/auth/register", json={"email": "real@example.com", "password": PASSWORD})
    assert created.status_code == 201, created.text
    assert_problem(await client.post("/v1/auth/login", **_login("real@example.com", PASSWORD)), 429)


async def test_a_success_does_not_clear_the_address_count(client: httpx.AsyncClient) -> None:
    """An attacker cannot launder failures by logging into an account of their own in between."""
    await register(client, "mine@example.com")
    for n in range(ADDRESS_FAILURE_LIMIT):
        await client.post("/v1/auth/login", **_login(f"sprayed{n}@example.com", "password-guess"))
        if n % 5 == 0:
            # Logging into their own account while they still can.
            await client.post("/v1/auth/login", **_login("mine@example.com", PASSWORD))
    assert_problem(
        await client.post("/v1/auth/login", **_login("another@example.com", "password-guess")), 429
    )
