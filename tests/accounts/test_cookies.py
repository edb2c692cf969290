"""The browser's cookie session: the refresh token in an HttpOnly cookie, spent only with a CSRF
header that matches the readable CSRF cookie (double submit); token clients see no change."""

from __future__ import annotations

import httpx
import pytest

from kadr.accounts.cookies import CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from tests.support.api import PASSWORD, assert_problem

pytestmark = pytest.mark.anyio


async def cookie_login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    created = await client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    response = await client.post(
        "/v1/auth/login", json={"email": email, "password": PASSWORD, "session": "cookie"}
    )
    assert response.status_code == 200, response.text
    return response


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header of the response by cookie name, lower-cased."""
    return {header.split("=", 1)[0]: header.lower() for header in response.headers.get_list("set-cookie")}


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {CSRF_HEADER: client.cookies[CSRF_COOKIE]}


def replace_cookie(client: httpx.AsyncClient, name: str, value: str) -> None:
    """Change a cookie's value where the server set it (same domain and path)."""
    for cookie in client.cookies.jar:
        if cookie.name == name:
            cookie.value = value


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_cookie_login_keeps_the_refresh_token_out_of_the_body(client: httpx.AsyncClient) -> None:
    response = await cookie_login(client, "browser@example.com")
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert response.headers["cache-control"] == "no-store"
    cookies = set_cookies(response)
    refresh = cookies[REFRESH_COOKIE]
    assert "httponly" in refresh and "samesite=strict" in refresh and "path=/v1/auth" in refresh
    assert "secure" not in refresh  # plain http on a local address; https gets Secure
    readable = cookies[CSRF_COOKIE]
    assert "httponly" not in readable and "samesite=strict" in readable and "path=/;" in readable
    assert (await client.get("/v1/me", headers=bearer(body["access_token"]))).status_code == 200


async def test_refreshing_with_the_cookie_needs_the_matching_csrf_header(client: httpx.AsyncClient) -> None:
    await cookie_login(client, "csrf@example.com")
    spent_cookie = client.cookies[REFRESH_COOKIE]

    missing = assert_problem(await client.post("/v1/auth/refresh"), 403, "csrf-failed")
    assert CSRF_HEADER in missing["detail"]
    assert_problem(
        await client.post("/v1/auth/refresh", headers={CSRF_HEADER: "guessed"}), 403, "csrf-failed"
    )
    # A CSRF cookie planted by someone else (a sibling subdomain) matches their header but not
    # the victim's refresh cookie.
    genuine = client.cookies[CSRF_COOKIE]
    replace_cookie(client, CSRF_COOKIE, "planted")
    assert_problem(
        await client.post("/v1/auth/refresh", headers={CSRF_HEADER: "planted"}), 403, "csrf-failed"
    )
    replace_cookie(client, CSRF_COOKIE, genuine)

    refreshed = await client.post("/v1/auth/refresh", headers=csrf(client))
    assert refreshed.status_code == 200, refreshed.text
    assert set(refreshed.json()) == {"access_token", "token_type", "expires_in"}
    assert set(set_cookies(refreshed)) == {REFRESH_COOKIE, CSRF_COOKIE}
    assert client.cookies[REFRESH_COOKIE] != spent_cookie  # rotated, like a body refresh
    assert client.cookies[CSRF_COOKIE] != genuine
    access = refreshed.json()["access_token"]
    assert (await client.get("/v1/me", headers=bearer(access))).status_code == 200

    # The spent cookie replayed (stolen) revokes the whole login, as a spent body token does.
    assert_problem(await client.post("/v1/auth/refresh", json={"refresh_token": spent_cookie}), 401)
    assert_problem(await client.post("/v1/auth/refresh", headers=csrf(client)), 401)


async def test_without_a_session_cookie_refresh_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/v1/auth/refresh", headers={CSRF_HEADER: "x"}), 401, "unauthorized")


async def test_logout_revokes_the_cookie_session_and_clears_the_cookies(client: httpx.AsyncClient) -> None:
    access = (await cookie_login(client, "leave@example.com")).json()["access_token"]
    assert_problem(await client.post("/v1/auth/logout"), 403, "csrf-failed")
    refresh_cookie = client.cookies[REFRESH_COOKIE]

    out = await client.post("/v1/auth/logout", headers=csrf(client))
    assert out.status_code == 204, out.text
    cleared = set_cookies(out)
    assert set(cleared) == {REFRESH_COOKIE, CSRF_COOKIE}
    assert all("max-age=0" in header for header in cleared.values())
    assert REFRESH_COOKIE not in client.cookies and CSRF_COOKIE not in client.cookies

    assert_problem(await client.get("/v1/me", headers=bearer(access)), 401)
    revoked = await client.post("/v1/auth/refresh", json={"refresh_token": refresh_cookie})
    assert_problem(revoked, 401)
    # Signing out twice (another tab already did) is not an error.
    assert (await client.post("/v1/auth/logout")).status_code == 204


async def test_token_clients_get_no_cookies(client: httpx.AsyncClient) -> None:
    await client.post("/v1/auth/register", json={"email": "cli@example.com", "password": PASSWORD})
    login = await client.post("/v1/auth/login", json={"email": "cli@example.com", "password": PASSWORD})
    assert login.status_code == 200 and "set-cookie" not in login.headers
    tokens = login.json()
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and "set-cookie" not in refreshed.headers
    assert set(refreshed.json()) == {"access_token", "token_type", "expires_in", "refresh_token"}


async def test_over_https_the_cookies_are_secure(app) -> None:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://kadr.example") as client:
        cookies = set_cookies(await cookie_login(client, "tls@example.com"))
    assert all("; secure" in header for header in cookies.values())
