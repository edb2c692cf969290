"""Request and response shapes of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from kadr.accounts.scopes import Scope
from kadr.accounts.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from kadr.core.schemas import Schema


class RegisterIn(Schema):
    email: EmailStr
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    display_name: str = Field("", max_length=120)


class LoginIn(Schema):
    # A plain string, not EmailStr: a malformed address must fail like any wrong credential.
    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class RefreshIn(Schema):
    refresh_token: str = Field(min_length=1, max_length=512)


class TokenPair(Schema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Single use: /auth/refresh returns the next one")


class UserOut(Schema):
    id: str
    email: str
    display_name: str
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
