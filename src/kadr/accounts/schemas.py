"""Request and response shapes of the accounts API."""

from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr, Field

from kadr.core.schemas import Schema


class RegisterIn(Schema):
    email: EmailStr
    password: str = Field(min_length=10, max_length=1024)
    display_name: str = Field("", max_length=120)


class LoginIn(Schema):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class RefreshIn(Schema):
    refresh_token: str = Field(max_length=512)


class TokenPair(Schema):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class UserOut(Schema):
    id: str
    email: str
    display_name: str
    is_admin: bool
    created_at: datetime


class ApiKeyIn(Schema):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyOut(Schema):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="Shown once: store it now")
