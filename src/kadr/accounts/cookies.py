"""The browser's session: the refresh token in an HttpOnly cookie, guarded by a CSRF token.

A browser app asks for it at login (`"session": "cookie"`). The refresh token then never
reaches JavaScript: it lives in an HttpOnly, SameSite=Strict cookie sent only to
`/v1/auth/...`, and the response body carries the short-lived access token alone, which the
app keeps in memory (never in localStorage, where any injected script could read it).

Spending the cookie (`POST /v1/auth/refresh` or `/logout` without a body) needs the CSRF
token twice: in a readable cookie and in the `X-CSRF-Token` header (double submit). A page of
another site can make the browser send cookies, but can neither read ours nor set a custom
header without a CORS preflight we refuse. The CSRF token is an HMAC of the refresh token, so a
CSRF cookie planted by a sibling subdomain does not match the victim's refresh cookie either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from fastapi import Request, Response

from kadr.config import Settings
from kadr.core.errors import CsrfFailed, Unauthorized

REFRESH_COOKIE = "kadr_refresh"
CSRF_COOKIE = "kadr_csrf"
CSRF_HEADER = "X-CSRF-Token"
#: The refresh cookie goes only to the endpoints that spend it, never to the rest of the API.
REFRESH_COOKIE_PATH = "/v1/auth"


def csrf_token_for(settings: Settings, refresh_token: str) -> str:
    """The CSRF token bound to one refresh token (changes with every rotation)."""
    digest = hmac.new(
        settings.secret_key.get_secret_value().encode(), b"csrf:" + refresh_token.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _secure(request: Request, settings: Settings) -> bool:
    """`Secure` cookies where the app is reached over HTTPS (directly or per its public URL)."""
    return request.url.scheme == "https" or settings.resolved_public_url.startswith("https://")


def set_session_cookies(response: Response, request: Request, settings: Settings, refresh_token: str) -> None:
    """Hand the browser its refresh token (HttpOnly) and the CSRF token (readable by the app)."""
    max_age = settings.refresh_token_ttl_days * 24 * 3600
    secure = _secure(request, settings)
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token_for(settings, refresh_token),
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="strict",
    )


def clear_session_cookies(response: Response, request: Request, settings: Settings) -> None:
    secure = _secure(request, settings)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=secure, httponly=True)
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure)


def has_session_cookie(request: Request) -> bool:
    return bool(request.cookies.get(REFRESH_COOKIE))


def refresh_token_from_cookies(request: Request, settings: Settings) -> str:
    """The refresh token of the browser's cookie, if the CSRF header proves the app sent it.

    401 without a session cookie; 403 `csrf-failed` when the header is missing or does not
    match the CSRF cookie and the refresh token it was issued with."""
    refresh_token = request.cookies.get(REFRESH_COOKIE, "")
    if not refresh_token:
        raise Unauthorized("no browser session: send the refresh token in the body, or sign in again")
    header = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not header:
        raise CsrfFailed(f"send the {CSRF_HEADER} header with the value of the {CSRF_COOKIE} cookie")
    # Compared as bytes: compare_digest refuses non-ASCII str, and a header may hold any byte.
    sent, expected = header.encode(), csrf_token_for(settings, refresh_token).encode()
    if not (hmac.compare_digest(sent, cookie.encode()) and hmac.compare_digest(sent, expected)):
        raise CsrfFailed(f"the {CSRF_HEADER} header does not match this session's {CSRF_COOKIE} cookie")
    return refresh_token
