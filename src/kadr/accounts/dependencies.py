"""`CurrentUser`: the user behind the request's bearer token or API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.models import User
from kadr.accounts.service import AccountService
from kadr.config import Settings
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.errors import Unauthorized


def credential_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = request.headers.get("x-api-key", "").strip()
    return api_key or None


async def current_user(request: Request, session: AsyncSession, settings: Settings) -> User:
    credential = credential_of(request)
    if credential is None:
        raise Unauthorized("send `Authorization: Bearer <access token or API key>`")
    return await AccountService(session, settings).authenticate(credential)


async def _current_user(request: Request, session: SessionDep, settings: SettingsDep) -> User:
    return await current_user(request, session, settings)


CurrentUser = Annotated[User, Depends(_current_user)]
