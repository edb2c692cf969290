"""Request and response shapes of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from kadr.accounts.profile import DISPLAY_NAME_MAX_LENGTH, LOCALE_MAX_LENGTH, TIMEZONE_MAX_LENGTH
from kadr.accounts.scopes import Scope
from kadr.accounts.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from kadr.core.schemas import Schema

_LOCALE = Field(None, max_length=LOCALE_MAX_LENGTH, description="BCP 47 language tag, like `ru-RU`")
_TIMEZONE = Field(None, max_length=TIMEZONE_MAX_LENGTH, description="IANA time zone, like `Europe/Moscow`")
_LANGUAGE = Field(
    None, max_length=8, description="ISO 639-1 code, like `ru`: the language AI writing defaults to"
)


class RegisterIn(Schema):
    email: EmailStr
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    display_name: str = Field("", max_length=DISPLAY_NAME_MAX_LENGTH)
    locale: str | None = _LOCALE
    timezone: str | None = _TIMEZONE
    default_language: str | None = _LANGUAGE


class ProfileIn(Schema):
    """`PATCH /v1/me`: only the fields sent change; `null` clears one."""

    display_name: str | None = Field(None, max_length=DISPLAY_NAME_MAX_LENGTH)
    locale: str | None = _LOCALE
    timezone: str | None = _TIMEZONE
    default_language: str | None = _LANGUAGE


class LoginIn(Schema):
    # A plain string, not EmailStr: a malformed address must fail like any wrong credential.
    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    session: Literal["token", "cookie"] = Field(
        "token",
        description="`cookie` (browsers): the refresh token comes as an HttpOnly cookie, not in the "
        "body, with a CSRF cookie to echo in `X-CSRF-Token` when refreshing or logging out",
    )


class RefreshIn(Schema):
    refresh_token: str = Field(min_length=1, max_length=512)


class TokenPair(Schema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Single use: /auth/refresh returns the next one")


class BrowserSession(Schema):
    """A cookie session's tokens: the refresh token is in the HttpOnly cookie, not here."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


class UserOut(Schema):
    id: str
    email: str
    display_name: str
    locale: str | None = Field(description="BCP 47; null: not chosen")
    timezone: str | None = Field(description="IANA time zone; null: not chosen (UTC)")
    default_language: str | None = Field(description="ISO 639-1; null: not chosen")
    is_admin: bool
    created_at: datetime


class ApiKeyIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] | None = Field(
        None,
        min_length=1,
        description="What the key may do; omitted: every `:read` scope (a read-only key). "
        "`admin` lets the key do everything, including managing keys.",
    )


class ApiKeyOut(Schema):
    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    scopes: list[str] = Field(description="What the key may do")
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute")


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="Shown once: store it now")
